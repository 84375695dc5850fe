# Every dependency comes from Debian 12 packages (scripts/setup-deps installs them).
# docs/DEPENDENCIES.md explains each choice.
find_package(Boost 1.81.0 EXACT CONFIG REQUIRED COMPONENTS json url)
find_package(OpenSSL REQUIRED)
find_package(Threads REQUIRED)
if(NOT ASTMRF_FUZZ)
  # c-ares ships a pkg-config file but no CMake package in Debian 12: PkgConfig::CARES.
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(CARES REQUIRED IMPORTED_TARGET libcares)
  # The audio helpers of mrf (include/astmrf/mrf/audio.hpp): resampling, WAV files, G.711, tone
  # detection and comfort noise. pkg-config files only in Debian 12.
  pkg_check_modules(SPEEXDSP REQUIRED IMPORTED_TARGET speexdsp)
  pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
  pkg_check_modules(SPANDSP REQUIRED IMPORTED_TARGET spandsp)
  find_package(fmt CONFIG REQUIRED)
  find_package(spdlog CONFIG REQUIRED)
endif()
if(ASTMRF_BUILD_TESTS AND NOT ASTMRF_FUZZ)
  find_package(GTest CONFIG REQUIRED)
endif()
if(ASTMRF_BUILD_BENCH AND NOT ASTMRF_FUZZ)
  find_package(benchmark CONFIG REQUIRED)
endif()
if(ASTMRF_BUILD_APPS AND NOT ASTMRF_FUZZ)
  find_package(CLI11 CONFIG REQUIRED)
endif()
