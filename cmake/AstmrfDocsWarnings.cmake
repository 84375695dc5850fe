# cmake -DLOG=<doxygen warnings log> -DWERROR=ON|OFF -P AstmrfDocsWarnings.cmake
# Prints how many Doxygen warnings the last run left, and fails with WERROR.
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
