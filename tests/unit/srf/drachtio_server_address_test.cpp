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

TEST(DrachtioServerAddress, Ipv6InBrackets) {
  auto address = parse_server_address("[::1]:9022:a:b");
  EXPECT_EQ(address.host, "::1");
  EXPECT_EQ(address.port, 9022);
  EXPECT_EQ(address.secret, "a:b");
}

TEST(DrachtioServerAddress, InvalidSpecsThrow) {
  for (const char* spec : {"", "host", "host:9022", ":9022:s", "host:port:s", "host:0:s", "host:70000:s",
                           "host:9022:", "[::1:9022:s", "[::1]9022:s", "[::1]:9022", "[host]:9022:s"}) {
    EXPECT_THROW(parse_server_address(spec), std::invalid_argument) << spec;
  }
}

}  // namespace
