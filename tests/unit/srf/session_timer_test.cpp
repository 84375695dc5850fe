// Session timers (RFC 4028): header parsing and the UAS / UAC negotiation, without a network.
#include "session_timer.hpp"

#include <astmrf/sip/parser.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

namespace sip = astmrf::sip;
namespace srf = astmrf::srf;
namespace detail = astmrf::srf::detail;
using namespace std::chrono_literals;

sip::Message message(const std::string& start, const std::string& extra) {
  std::string text = start +
                     "\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\n"
                     "To: <sip:b@127.0.0.1>\r\nCall-ID: st1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n" +
                     extra + "Content-Length: 0\r\n\r\n";
  auto parsed = sip::parse_message(text);
  if (!parsed) throw std::runtime_error("test message: " + parsed.error().message());
  return std::move(*parsed);
}
sip::Message invite(const std::string& extra) { return message("INVITE sip:b@127.0.0.1 SIP/2.0", extra); }
sip::Message ok(const std::string& extra) { return message("SIP/2.0 200 OK", extra); }

std::string header(const srf::HeaderList& headers, const std::string& name) {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return {};
}

srf::SessionTimerOptions options(std::chrono::seconds interval, std::chrono::seconds min_se) {
  srf::SessionTimerOptions o;
  o.interval = interval;
  o.min_se = min_se;
  return o;
}

TEST(SessionTimer, ParsesSessionExpires) {
  auto se = detail::parse_session_expires(" 1800 ; refresher = UAS ");
  ASSERT_TRUE(se);
  EXPECT_EQ(se->seconds, 1800u);
  EXPECT_EQ(se->refresher, "uas");
  se = detail::parse_session_expires("90;foo=bar");
  ASSERT_TRUE(se);
  EXPECT_EQ(se->refresher, "");
  EXPECT_FALSE(detail::parse_session_expires("abc"));
  EXPECT_FALSE(detail::parse_session_expires(""));
  EXPECT_FALSE(detail::parse_session_expires("-5"));
  EXPECT_EQ(detail::parse_min_se("120;x=y"), 120u);
  EXPECT_FALSE(detail::parse_min_se("soon"));
}

TEST(SessionTimer, UasRefusesAnIntervalBelowMinSe) {
  auto n = detail::negotiate_uas(invite("Supported: timer\r\nSession-Expires: 60\r\n"), options(1800s, 90s));
  EXPECT_EQ(n.reject_min_se, 90u);
}

TEST(SessionTimer, UasKeepsTheCallersRefresherAndLowersTheInterval) {
  auto n =
      detail::negotiate_uas(invite("Supported: timer\r\nSession-Expires: 3600;refresher=uac\r\n"), options(1800s, 90s));
  EXPECT_EQ(n.reject_min_se, 0u);
  EXPECT_EQ(header(n.headers, "Session-Expires"), "1800;refresher=uac");
  EXPECT_EQ(header(n.headers, "Require"), "timer");
  EXPECT_FALSE(n.plan.local_refresher);
}

TEST(SessionTimer, UasNeverLowersBelowTheCallersMinSe) {
  auto n = detail::negotiate_uas(invite("Supported: timer\r\nSession-Expires: 3600\r\nMin-SE: 2400\r\n"),
                                 options(1800s, 90s));
  EXPECT_EQ(n.plan.interval, 2400u);
}

TEST(SessionTimer, UasRefreshesForACallerWithoutTimerSupport) {
  auto n = detail::negotiate_uas(invite("Allow: INVITE, ACK, UPDATE\r\n"), options(1800s, 90s));
  EXPECT_EQ(header(n.headers, "Session-Expires"), "1800;refresher=uas");
  EXPECT_EQ(header(n.headers, "Require"), "");
  EXPECT_TRUE(n.plan.local_refresher);
  EXPECT_TRUE(n.plan.use_update);
}

TEST(SessionTimer, UasPreferenceDecidesAnOpenChoice) {
  auto o = options(1800s, 90s);
  o.refresher = srf::SessionTimerOptions::Refresher::uas;
  auto n = detail::negotiate_uas(invite("k: timer\r\nx: 1800\r\n"), o);  // compact forms
  EXPECT_EQ(header(n.headers, "Session-Expires"), "1800;refresher=uas");
  EXPECT_FALSE(n.plan.use_update);
}

TEST(SessionTimer, UacReadsTheRefresherFromThe2xx) {
  auto o = options(1800s, 90s);
  auto plan = detail::negotiate_uac(ok("Session-Expires: 900;refresher=uas\r\nAllow: INVITE, UPDATE\r\n"), o, 90);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->interval, 900u);
  EXPECT_FALSE(plan->local_refresher);
  EXPECT_TRUE(plan->use_update);
  plan = detail::negotiate_uac(ok("Session-Expires: 900;refresher=uac\r\n"), o, 90);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->local_refresher);
  EXPECT_FALSE(plan->use_update);
  EXPECT_FALSE(detail::negotiate_uac(ok(""), o, 90));  // no Session-Expires: no timer
}

}  // namespace
