#include "astmrf_test/sandbox.hpp"

#include <cstdlib>
#include <random>
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

std::string random_uuid() {
  static thread_local std::mt19937_64 engine{std::random_device{}()};
  std::uniform_int_distribution<unsigned> nibble(0, 15);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out.push_back('-');
    unsigned n = nibble(engine);
    if (i == 12) n = 4;            // version 4
    if (i == 16) n = 8 | (n & 3);  // RFC 4122 variant
    out.push_back(hex[n]);
  }
  return out;
}

std::string unique_app_name() { return "drachtio-" + random_uuid(); }

}  // namespace astmrf_test
