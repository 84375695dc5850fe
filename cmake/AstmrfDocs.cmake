# API reference: `cmake --build <dir> --target astmrf_docs` runs Doxygen over the
# public headers (include/astmrf) into <dir>/docs/api/html. Every undocumented
# public declaration is a warning, listed in <dir>/docs/api/warnings.log.
# ASTMRF_DOCS_WERROR makes a warning fail the target; the docs.api test
# (tests/docs) always does.
find_package(Doxygen OPTIONAL_COMPONENTS dot)
if(NOT DOXYGEN_FOUND)
  message(STATUS "Doxygen not found: no astmrf_docs target (scripts/setup-deps installs it)")
  return()
endif()
option(ASTMRF_DOCS_WERROR "Fail astmrf_docs on any Doxygen warning" OFF)

set(DOXYGEN_PROJECT_NAME astmrf)
set(DOXYGEN_PROJECT_NUMBER ${PROJECT_VERSION})
set(DOXYGEN_PROJECT_BRIEF "${PROJECT_DESCRIPTION}")
set(DOXYGEN_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/docs/api)
set(DOXYGEN_GENERATE_HTML YES)
set(DOXYGEN_GENERATE_LATEX NO)
set(DOXYGEN_RECURSIVE YES)
set(DOXYGEN_FILE_PATTERNS *.hpp)
set(DOXYGEN_FULL_PATH_NAMES YES)
set(DOXYGEN_STRIP_FROM_PATH ${PROJECT_SOURCE_DIR}/include)
set(DOXYGEN_STRIP_FROM_INC_PATH ${PROJECT_SOURCE_DIR}/include)
set(DOXYGEN_JAVADOC_AUTOBRIEF YES)
set(DOXYGEN_EXTRACT_ALL NO)
set(DOXYGEN_EXTRACT_PRIVATE NO)
set(DOXYGEN_HIDE_UNDOC_RELATIONS NO)
set(DOXYGEN_WARN_IF_UNDOCUMENTED YES)
set(DOXYGEN_WARN_IF_DOC_ERROR YES)
set(DOXYGEN_WARN_NO_PARAMDOC NO)
set(ASTMRF_DOCS_WARN_LOG ${PROJECT_BINARY_DIR}/docs/api/warnings.log)
set(DOXYGEN_WARN_LOGFILE ${ASTMRF_DOCS_WARN_LOG})
set(DOXYGEN_QUIET YES)
# Implementation details that headers must show the compiler but that are no API.
set(DOXYGEN_EXCLUDE_SYMBOLS "*::detail" "*::detail::*" "*::impl" "*::impl::*")
set(DOXYGEN_MACRO_EXPANSION YES)
set(DOXYGEN_PREDEFINED "ASTMRF_DOXYGEN=1")
set(DOXYGEN_HAVE_DOT ${DOXYGEN_DOT_FOUND})
set(DOXYGEN_CLASS_GRAPH YES)
set(DOXYGEN_COLLABORATION_GRAPH NO)
set(DOXYGEN_INCLUDE_GRAPH NO)
set(DOXYGEN_INCLUDED_BY_GRAPH NO)
set(DOXYGEN_DOT_IMAGE_FORMAT svg)
set(DOXYGEN_USE_MDFILE_AS_MAINPAGE ${PROJECT_SOURCE_DIR}/docs/api-mainpage.md)

# api-namespaces.dox documents the namespaces, which makes Doxygen check their
# free functions, enums and aliases too.
doxygen_add_docs(astmrf_docs_run
  ${PROJECT_SOURCE_DIR}/docs/api-mainpage.md ${PROJECT_SOURCE_DIR}/docs/api-namespaces.dox
  ${PROJECT_SOURCE_DIR}/include/astmrf
  COMMENT "Doxygen: API reference in ${PROJECT_BINARY_DIR}/docs/api/html")
# The warnings log is rewritten by each run; report it, and fail on it if asked.
add_custom_target(astmrf_docs
  COMMAND ${CMAKE_COMMAND} -DLOG=${DOXYGEN_WARN_LOGFILE} -DWERROR=${ASTMRF_DOCS_WERROR}
          -P ${PROJECT_SOURCE_DIR}/cmake/AstmrfDocsWarnings.cmake
  DEPENDS astmrf_docs_run
  VERBATIM)
