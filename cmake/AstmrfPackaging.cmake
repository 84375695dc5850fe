# CPack: Debian packages of what `cmake --install` installs (cpack -G DEB).
#   astmrf      the tools (apps/) and the reference Asterisk configuration;
#               runtime dependencies found by dpkg-shlibdeps.
#   astmrf-dev  headers, the static module libraries, the CMake package and the
#               pkg-config file; depends on the -dev packages a consumer compiles
#               against (the same Boost 1.81 the library was built with).
# The libraries are static, so there is no runtime library package: a host that
# runs the tools needs no compiler, headers or Boost development files.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME astmrf)
set(CPACK_PACKAGE_VENDOR "astmrf")
set(CPACK_PACKAGE_CONTACT "astmrf maintainers <astmrf@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES OFF)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL tools dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME astmrf)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION comm)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SHLIBDEPS ON)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
  "SIP voice applications with Asterisk as a media server - tools\n\
Programs built on astmrf, and the reference Asterisk configuration\n\
(pjsip, dialplan, ARI, HTTP) its call flow relies on.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME astmrf-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libboost1.81-dev, libboost-json1.81-dev, libboost-url1.81-dev, libssl-dev, libc-ares-dev, libspdlog-dev, libfmt-dev, libspeexdsp-dev, libsndfile1-dev, libspandsp-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "SIP voice applications with Asterisk as a media server - development files\n\
C++20 headers and static libraries of astmrf (SIP core and engine, Srf\n\
signaling API, ARI client, Mrf media resource framework), with a CMake\n\
package (find_package(astmrf CONFIG)) and a pkg-config file.")

include(CPack)
