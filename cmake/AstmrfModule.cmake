# astmrf_module(<name> SOURCES <file>... [PUBLIC <dep>...] [PRIVATE <dep>...])
# One static library of the tree: astmrf_<name> with its alias astmrf::<name>, the
# public headers under include/, C++20 and the project's warning flags (astmrf::flags,
# which stays private). Every module library is made this way, so they cannot drift.
function(astmrf_module name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;PUBLIC;PRIVATE")
  add_library(astmrf_${name} STATIC ${arg_SOURCES})
  add_library(astmrf::${name} ALIAS astmrf_${name})
  target_include_directories(astmrf_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_compile_features(astmrf_${name} PUBLIC cxx_std_20)
  target_link_libraries(astmrf_${name} PUBLIC ${arg_PUBLIC} PRIVATE astmrf::flags ${arg_PRIVATE})
endfunction()
