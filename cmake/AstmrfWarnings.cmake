# Project-wide compile flags: strict warnings, optional -Werror and sanitizers.
# Applied through an interface target so third-party code is not affected.
add_library(astmrf_flags INTERFACE)
add_library(astmrf::flags ALIAS astmrf_flags)

if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(astmrf_flags INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
    -Wimplicit-fallthrough -Wmissing-declarations)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # g++ 12 reports std::string concatenation at -O2/-O3 as overlapping memcpy
    # (GCC bug 105329, a false positive fixed in 13).
    target_compile_options(astmrf_flags INTERFACE -Wno-restrict)
    # ... and, once a coroutine is inlined into its caller, pairs Asio's awaitable frame
    # operator new (which recycles blocks through std::malloc) with the free it inlines as
    # mismatched (GCC bug 109224, fixed in 13).
    target_compile_options(astmrf_flags INTERFACE -Wno-mismatched-new-delete)
  endif()
  if(ASTMRF_WERROR)
    target_compile_options(astmrf_flags INTERFACE -Werror)
  endif()
endif()

if(ASTMRF_SANITIZE)
  # Applied globally so that every object, including the Asio/Beast unit, is instrumented.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
