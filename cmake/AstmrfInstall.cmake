# `cmake --install`: headers, the module libraries, a CMake package
# (find_package(astmrf CONFIG) → astmrf::astmrf, or components such as astmrf::srf_drachtio)
# and pkg-config files (astmrf.pc for everything, astmrf-<component>.pc for one library).
# CPack (cmake/AstmrfPackaging.cmake) packages what these rules install.
#
# The module CMakeLists describe the build tree only (include dirs under the source
# tree, the private astmrf::flags warnings). astmrf_prepare_export() turns that into
# install-tree usage requirements here, in one place, so that a new module library
# needs no install code of its own: everything astmrf::astmrf links is exported.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ASTMRF_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/astmrf)

# Appends to `out_var`, dependencies first, the project's own library targets
# that `target` links (itself included). Imported targets are the dependencies'
# business (find_dependency); astmrf::flags is the build's own warning set.
function(astmrf_collect_libraries target out_var)
  set(found ${${out_var}})
  if(TARGET ${target})
    get_target_property(aliased ${target} ALIASED_TARGET)
    if(aliased)
      set(target ${aliased})
    endif()
    get_target_property(imported ${target} IMPORTED)
    if(NOT imported AND NOT target STREQUAL "astmrf_flags" AND NOT target IN_LIST found)
      get_target_property(links ${target} INTERFACE_LINK_LIBRARIES)
      if(links)
        foreach(link IN LISTS links)
          string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" link "${link}")
          astmrf_collect_libraries(${link} found)
        endforeach()
      endif()
      list(APPEND found ${target})
    endif()
  endif()
  set(${out_var} ${found} PARENT_SCOPE)
endfunction()

# Rewrites the build-tree usage requirements of `target` for the export:
# the source include directory becomes a BUILD_INTERFACE one (install(TARGETS ...
# INCLUDES DESTINATION) adds the installed one), and the private warning flags,
# which CMake records as $<LINK_ONLY:astmrf::flags> on a static library, stay
# in the build tree.
function(astmrf_prepare_export target)
  get_target_property(includes ${target} INTERFACE_INCLUDE_DIRECTORIES)
  if(includes)
    set(rewritten "")
    foreach(dir IN LISTS includes)
      if(dir MATCHES "^${PROJECT_SOURCE_DIR}/" OR dir MATCHES "^${PROJECT_BINARY_DIR}/")
        set(dir "$<BUILD_INTERFACE:${dir}>")
      endif()
      list(APPEND rewritten "${dir}")
    endforeach()
    set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${rewritten}")
  endif()
  get_target_property(links ${target} INTERFACE_LINK_LIBRARIES)
  if(links)
    list(FILTER links EXCLUDE REGEX "^(\\$<LINK_ONLY:)?astmrf(::|_)flags>?$")
    set_target_properties(${target} PROPERTIES INTERFACE_LINK_LIBRARIES "${links}")
  endif()
  # astmrf_sip → astmrf::sip, the same names as the build tree's aliases.
  string(REGEX REPLACE "^astmrf_" "" export_name ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
endfunction()

astmrf_collect_libraries(astmrf ASTMRF_EXPORTED_LIBRARIES)
foreach(library IN LISTS ASTMRF_EXPORTED_LIBRARIES)
  astmrf_prepare_export(${library})
endforeach()

if(ASTMRF_SANITIZE)
  # Instrumented libraries need the sanitizer runtimes in whatever links them.
  target_link_options(astmrf_asio INTERFACE
    $<INSTALL_INTERFACE:-fsanitize=address,undefined>)
endif()

install(TARGETS ${ASTMRF_EXPORTED_LIBRARIES}
  EXPORT astmrfTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/astmrf
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
  FILES_MATCHING PATTERN "*.hpp")
install(EXPORT astmrfTargets
  NAMESPACE astmrf::
  DESTINATION ${ASTMRF_INSTALL_CMAKEDIR} COMPONENT dev)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/astmrfConfig.cmake.in
  ${PROJECT_BINARY_DIR}/astmrfConfig.cmake
  INSTALL_DESTINATION ${ASTMRF_INSTALL_CMAKEDIR})
# 0.x: a minor release may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/astmrfConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/astmrfConfig.cmake ${PROJECT_BINARY_DIR}/astmrfConfigVersion.cmake
  DESTINATION ${ASTMRF_INSTALL_CMAKEDIR} COMPONENT dev)

# pkg-config: one .pc per component (astmrf-<component>.pc), each naming its own library
# and Requiring the components and packages it links, so that pkg-config puts them in
# static link order and an application links only what it uses (pkg-config
# astmrf-srf-drachtio astmrf-mrf: no embedded engine). astmrf.pc Requires them all.
# Boost ships no .pc files: its two compiled libraries are named. astmrf_sip_engine →
# astmrf-sip-engine.pc.
file(RELATIVE_PATH ASTMRF_PC_PREFIX_FROM_PCFILEDIR
  ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" ASTMRF_PC_PREFIX_FROM_PCFILEDIR "${ASTMRF_PC_PREFIX_FROM_PCFILEDIR}")

# Writes and installs astmrf-<component>.pc for one library.
function(astmrf_component_pc library)
  get_target_property(pc_component ${library} EXPORT_NAME)
  string(REPLACE "_" "-" pc_suffix ${pc_component})
  set(pc_name astmrf-${pc_suffix})
  set(pc_library ${library})
  set(requires "")
  set(libs "")
  set(cflags "")
  get_target_property(links ${library} INTERFACE_LINK_LIBRARIES)
  if(links)
    foreach(link IN LISTS links)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" link "${link}")
      if(TARGET ${link})
        get_target_property(aliased ${link} ALIASED_TARGET)
        if(aliased)
          set(link ${aliased})
        endif()
      endif()
      if(link IN_LIST ASTMRF_EXPORTED_LIBRARIES)
        get_target_property(dependency ${link} EXPORT_NAME)
        string(REPLACE "_" "-" dependency ${dependency})
        list(APPEND requires astmrf-${dependency})
      elseif(link STREQUAL "OpenSSL::SSL")
        list(APPEND requires libssl)
      elseif(link STREQUAL "OpenSSL::Crypto")
        list(APPEND requires libcrypto)
      elseif(link STREQUAL "PkgConfig::CARES")
        list(APPEND requires libcares)
      elseif(link STREQUAL "PkgConfig::SPEEXDSP")
        list(APPEND requires speexdsp)
      elseif(link STREQUAL "PkgConfig::SNDFILE")
        list(APPEND requires sndfile)
      elseif(link STREQUAL "PkgConfig::SPANDSP")
        list(APPEND requires spandsp)
      elseif(link STREQUAL "spdlog::spdlog")
        list(APPEND requires spdlog fmt)
      elseif(link STREQUAL "Boost::json")
        list(APPEND libs -lboost_json)
      elseif(link STREQUAL "Boost::url")
        list(APPEND libs -lboost_url)
      elseif(link STREQUAL "Threads::Threads")
        list(APPEND libs -pthread)
      endif()
    endforeach()
  endif()
  get_target_property(definitions ${library} INTERFACE_COMPILE_DEFINITIONS)
  if(definitions)
    foreach(definition IN LISTS definitions)
      list(APPEND cflags "-D${definition}")
    endforeach()
  endif()
  if(ASTMRF_SANITIZE AND library STREQUAL "astmrf_asio")
    list(APPEND libs -fsanitize=address,undefined)
  endif()
  list(REMOVE_DUPLICATES requires)
  list(JOIN requires " " pc_requires)
  list(JOIN libs " " pc_libs)
  list(JOIN cflags " " pc_cflags)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/astmrf-component.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${pc_name}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${pc_name}.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endfunction()
set(ASTMRF_PC_COMPONENTS "")
foreach(library IN LISTS ASTMRF_EXPORTED_LIBRARIES)
  get_target_property(type ${library} TYPE)
  if(type STREQUAL "STATIC_LIBRARY")
    astmrf_component_pc(${library})
    get_target_property(component ${library} EXPORT_NAME)
    string(REPLACE "_" "-" component ${component})
    list(PREPEND ASTMRF_PC_COMPONENTS astmrf-${component})
  endif()
endforeach()
list(JOIN ASTMRF_PC_COMPONENTS " " ASTMRF_PC_REQUIRES)
configure_file(${PROJECT_SOURCE_DIR}/cmake/astmrf.pc.in ${PROJECT_BINARY_DIR}/astmrf.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/astmrf.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# The Asterisk configuration that the library's call flow relies on, as a reference
# for deployments (docs/asterisk-config.md). @PLACEHOLDERS@ are filled in per site.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/asterisk/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/astmrf/asterisk COMPONENT tools)
