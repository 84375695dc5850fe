// The pure parts of the RFC 3263 locator: what a URI or destination asks for, .invalid hosts,
// and RFC 2782 ordering. The lookups themselves are tested against dnsmasq
// (tests/integration/engine/engine_dns_test.cpp).
#include "sip/engine/locator.hpp"

#include <gtest/gtest.h>

#include <map>

namespace {

using astmrf::sip::Transport;
using namespace astmrf::sip::detail;
using astmrf::util::SrvRecord;

TEST(Locator, UriGivesHostPortTransportAndSecurity) {
  auto r = locate_request_from_uri("sip:alice@example.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->host, "example.com");
  EXPECT_FALSE(r->port);
  EXPECT_FALSE(r->transport);
  EXPECT_FALSE(r->secure);
  r = locate_request_from_uri("sip:alice@example.com:5070;transport=TCP");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->port, 5070);
  EXPECT_EQ(r->transport, Transport::tcp);
  r = locate_request_from_uri("sips:alice@example.com;transport=tcp");  // TLS on every hop
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->secure);
  EXPECT_EQ(r->transport, Transport::tls);
  EXPECT_FALSE(locate_request_from_uri("tel:+15551234"));
  EXPECT_FALSE(locate_request_from_uri("not a uri"));
}

TEST(Locator, DestinationTakesAPrefixAHostAndAnOptionalPort) {
  auto r = locate_request_from_destination("tcp:proxy.example.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->host, "proxy.example.com");
  EXPECT_EQ(r->transport, Transport::tcp);
  EXPECT_FALSE(r->port);
  r = locate_request_from_destination("tls:proxy.example.com:5062");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->secure);
  EXPECT_EQ(r->port, 5062);
  r = locate_request_from_destination("udp:[::1]:5070");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->host, "::1");
  EXPECT_EQ(r->port, 5070);
  r = locate_request_from_destination("sip:proxy.example.com;transport=udp");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->transport, Transport::udp);
  for (const char* bad : {"proxy.example.com", "sctp:host", "udp:", "udp:host:", "udp:host:0", "udp:host:70000",
                          "udp:::1:5060", "udp:[::1"}) {
    EXPECT_FALSE(locate_request_from_destination(bad)) << bad;
  }
}

TEST(Locator, InvalidHostsAreRecognised) {
  EXPECT_TRUE(is_invalid_host("df7jal23ls0d.invalid"));
  EXPECT_TRUE(is_invalid_host("X.INVALID."));
  EXPECT_TRUE(is_invalid_host("invalid"));
  EXPECT_FALSE(is_invalid_host("invalid.example.com"));
  EXPECT_FALSE(is_invalid_host("notinvalid"));
}

TEST(Locator, SrvOrderFollowsPriorityThenWeight) {
  astmrf::util::Random random(42);
  std::vector<SrvRecord> records{
      {20, 0, 5060, "c"}, {10, 0, 5060, "."}, {10, 1, 5060, "a"}, {10, 99, 5060, "b"}, {30, 5, 5060, ""}};
  std::map<std::string, int> b_first;
  for (int i = 0; i < 400; ++i) {
    auto ordered = order_srv(records, random);
    ASSERT_EQ(ordered.size(), 3u);  // "." and empty targets dropped
    EXPECT_EQ(ordered[2].target, "c");
    ++b_first[ordered[0].target];
  }
  // Weight 99 against 1: "b" comes first almost always, "a" sometimes (RFC 2782's draw).
  EXPECT_GT(b_first["b"], 300);
  EXPECT_EQ(b_first["a"] + b_first["b"], 400);
}

}  // namespace
