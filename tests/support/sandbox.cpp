#include "astmrf_test/sandbox.hpp"

#include <astmrf/util/random.hpp>

#include <cstdlib>
#include <string>

namespace astmrf_test {
namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

std::uint16_t port_env_or(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return static_cast<std::uint16_t>(value != nullptr && *value != '\0' ? std::atoi(value) : fallback);
}

}  // namespace

const Sandbox& sandbox() {
  static const Sandbox instance{
      "127.0.0.1",
      port_env_or("ASTMRF_TEST_ARI_PORT", ASTMRF_TEST_ARI_PORT),
      env_or("ASTMRF_TEST_ARI_USER", ASTMRF_TEST_ARI_USER),
      env_or("ASTMRF_TEST_ARI_PASSWORD", ASTMRF_TEST_ARI_PASSWORD),
      "127.0.0.1",
      port_env_or("ASTMRF_TEST_SIP_PORT", ASTMRF_TEST_SIP_PORT),
      env_or("ASTMRF_TEST_SANDBOX", ASTMRF_TEST_SANDBOX),
      env_or("ASTMRF_TEST_SANDBOX_NAME", ASTMRF_TEST_SANDBOX_NAME),
      env_or("ASTMRF_TEST_SIPP", ASTMRF_TEST_SIPP),
      env_or("ASTMRF_TEST_SIPP_DIR", ASTMRF_TEST_SIPP_DIR),
      env_or("ASTMRF_TEST_FIXTURES_DIR", ASTMRF_TEST_FIXTURES_DIR),
  };
  return instance;
}

std::string random_uuid() { return astmrf::util::Random().uuid4(); }

std::string unique_app_name() { return "drachtio-" + random_uuid(); }

}  // namespace astmrf_test
