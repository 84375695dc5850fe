// Where the integration tests find the Asterisk sandbox and sipp.
// Values come from the build (tests/support/CMakeLists.txt) and can be overridden
// by environment variables of the same name (ASTMRF_TEST_ARI_PORT, ...).
#pragma once

#include <cstdint>
#include <string>

namespace astmrf_test {

struct Sandbox {
  std::string ari_host;  // always 127.0.0.1
  std::uint16_t ari_port;
  std::string ari_user;
  std::string ari_password;
  std::string sip_host;  // always 127.0.0.1
  std::uint16_t sip_port;
  std::string tool;          // scripts/asterisk-sandbox
  std::string instance;      // the ctest fixture's instance name
  std::string sipp;          // the sipp binary
  std::string sipp_dir;      // tests/integration/sipp
  std::string fixtures_dir;  // ../shared/fixtures
};

// The sandbox the ctest fixture started.
const Sandbox& sandbox();

// A Stasis application name that no other test (or process) uses: drachtio-<uuid>.
std::string unique_app_name();

// A random RFC 4122 version 4 UUID, for test-local identifiers.
std::string random_uuid();

}  // namespace astmrf_test
