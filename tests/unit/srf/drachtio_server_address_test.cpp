#include <astmrf/srf/drachtio.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace {

using astmrf::srf::drachtio::parse_server_address;

TEST(DrachtioServerAddress, HostPortSecret) {
  auto address = parse_server_address("127.0.0.1:9022:cymru");
  EXPECT_EQ(address.host, "127.0.0.1");
  EXPECT_EQ(address.port, 9022);
  EXPECT_EQ(address.secret, "cymru");
}

TEST(DrachtioServerAddress, SecretMayContainColons) {
  EXPECT_EQ(parse_server_address("drachtio.local:9023:a:b:c").secret, "a:b:c");
}

TEST(DrachtioServerAddress, InvalidSpecsThrow) {
  for (const char* spec :
       {"", "host", "host:9022", ":9022:s", "host:port:s", "host:0:s", "host:70000:s", "host:9022:"}) {
    EXPECT_THROW(parse_server_address(spec), std::invalid_argument) << spec;
  }
}

}  // namespace

#include "backoff.hpp"

namespace {

using astmrf::srf::drachtio::BackoffOptions;
using astmrf::srf::drachtio::next_backoff;
using std::chrono::milliseconds;

TEST(DrachtioBackoff, GrowsThenStaysAtTheCap) {
  BackoffOptions options;  // 200 ms, x2, 10 s
  milliseconds delay = options.initial;
  std::vector<long> seen;
  for (int i = 0; i < 10; ++i) {
    delay = next_backoff(delay, options);
    seen.push_back(static_cast<long>(delay.count()));
  }
  EXPECT_EQ(seen, (std::vector<long>{400, 800, 1600, 3200, 6400, 10000, 10000, 10000, 10000, 10000}));
}

TEST(DrachtioBackoff, DegenerateOptionsNeverGiveAZeroDelay) {
  BackoffOptions options;
  options.multiplier = 0.0;
  options.max = milliseconds(0);
  EXPECT_EQ(next_backoff(milliseconds(0), options), milliseconds(1));
  options.max = milliseconds(50);
  EXPECT_EQ(next_backoff(milliseconds(0), options), milliseconds(1));
  EXPECT_EQ(next_backoff(milliseconds(40), options), milliseconds(40));
}

}  // namespace
