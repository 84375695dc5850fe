// util::parse_host_port: the one HOST:PORT parser of the library (issue 20: "[::1]:5580"
// was refused where "::1:5580" was taken).
#include <astmrf/util/host_port.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

using astmrf::util::format_host_port;
using astmrf::util::HostPort;
using astmrf::util::parse_host_port;

TEST(HostPort, Ipv4AndNames) {
  EXPECT_EQ(parse_host_port("127.0.0.1:5080"), (HostPort{"127.0.0.1", 5080}));
  EXPECT_EQ(parse_host_port("asterisk.example:5060"), (HostPort{"asterisk.example", 5060}));
  EXPECT_EQ(parse_host_port("127.0.0.1", 53), (HostPort{"127.0.0.1", 53}));
  EXPECT_EQ(parse_host_port("ms1.example", 8088), (HostPort{"ms1.example", 8088}));
}

TEST(HostPort, Ipv6InBrackets) {
  EXPECT_EQ(parse_host_port("[::1]:5580"), (HostPort{"::1", 5580}));
  EXPECT_EQ(parse_host_port("[2001:db8::10]:65535"), (HostPort{"2001:db8::10", 65535}));
  EXPECT_EQ(parse_host_port("[::1]", 8089), (HostPort{"::1", 8089}));
  EXPECT_EQ(parse_host_port("[::ffff:127.0.0.1]:1"), (HostPort{"::ffff:127.0.0.1", 1}));
}

TEST(HostPort, BareIpv6) {
  // The port required: the last ':' starts it (what --listen ::1:5580 always meant).
  EXPECT_EQ(parse_host_port("::1:5580"), (HostPort{"::1", 5580}));
  EXPECT_EQ(parse_host_port("2001:db8::1:5060"), (HostPort{"2001:db8::1", 5060}));
  // A default port: a bare IPv6 address is the whole address.
  EXPECT_EQ(parse_host_port("2001:db8::1", 53), (HostPort{"2001:db8::1", 53}));
  EXPECT_EQ(parse_host_port("::1", 53), (HostPort{"::1", 53}));
}

TEST(HostPort, BadInputSaysWhat) {
  for (const char* text : {"", "127.0.0.1", ":5060", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:0", "127.0.0.1:65536",
                           "127.0.0.1:-1", "[::1]", "[::1", "[::1]5060", "[::1]:", "[127.0.0.1]:5060", "[]:5060",
                           "[::1]:5060x", "2001:db8:zz::1:5060", "a:b:5060"}) {
    EXPECT_THROW(parse_host_port(text), std::invalid_argument) << text;
  }
  for (const char* text : {"[::1", "[x]", "2001:db8:zz::1", "[::1]:0"}) {
    EXPECT_THROW(parse_host_port(text, 53), std::invalid_argument) << text;
  }
  try {
    parse_host_port("[::1:5580");
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "address '[::1:5580': no closing ']'");
  }
}

TEST(HostPort, FormatBracketsIpv6) {
  EXPECT_EQ(format_host_port("::1", 5080), "[::1]:5080");
  EXPECT_EQ(format_host_port("127.0.0.1", 5080), "127.0.0.1:5080");
  EXPECT_EQ(format_host_port("example.org", 1), "example.org:1");
  EXPECT_EQ(parse_host_port(format_host_port("2001:db8::1", 5061)), (HostPort{"2001:db8::1", 5061}));
}

}  // namespace
