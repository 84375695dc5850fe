# cmake -DLOG=<doxygen warnings log> -DWERROR=ON|OFF [-DDOXYGEN=<doxygen> -DDOXYFILE=<file>]
#       -P AstmrfDocsWarnings.cmake
# Runs Doxygen first when DOXYGEN is given (the docs.api test), then prints how
# many warnings the run left, and fails with WERROR.
if(DOXYGEN)
  # Doxygen makes only the last level of OUTPUT_DIRECTORY: a fresh build tree has no docs/ yet.
  get_filename_component(out_dir ${LOG} DIRECTORY)
  file(MAKE_DIRECTORY ${out_dir})
  execute_process(COMMAND ${DOXYGEN} ${DOXYFILE} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "doxygen ${DOXYFILE} failed (${status})")
  endif()
endif()
file(STRINGS ${LOG} warnings REGEX "warning:")
list(LENGTH warnings count)
if(count EQUAL 0)
  message(STATUS "astmrf_docs: no Doxygen warnings")
  return()
endif()
list(SUBLIST warnings 0 20 first)
list(JOIN first "\n" shown)
if(WERROR)
  message(FATAL_ERROR "astmrf_docs: ${count} Doxygen warnings (${LOG}):\n${shown}")
endif()
message(STATUS "astmrf_docs: ${count} Doxygen warnings, see ${LOG}; the first:\n${shown}")
