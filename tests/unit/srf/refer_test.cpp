// Refer-To and sipfrag parsing (RFC 3515, RFC 3891 embedded Replaces).
#include <astmrf/srf/refer.hpp>

#include <gtest/gtest.h>

namespace srf = astmrf::srf;

TEST(ParseReferTo, PlainUriInAngleBrackets) {
  auto r = srf::parse_refer_to("<sip:carol@example.com>");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uri, "sip:carol@example.com");
  EXPECT_FALSE(r->replaces);
  EXPECT_TRUE(r->headers.empty());
}

TEST(ParseReferTo, AddrSpecWithHeaderParams) {
  // Without angle brackets the parameters belong to the header, not to the URI.
  auto r = srf::parse_refer_to("sip:carol@example.com;x=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uri, "sip:carol@example.com");
  auto with_name = srf::parse_refer_to(" \"Carol\" <sip:carol@example.com;transport=tcp>;method=INVITE ");
  ASSERT_TRUE(with_name);
  EXPECT_EQ(with_name->uri, "sip:carol@example.com;transport=tcp");  // URI parameters stay
}

TEST(ParseReferTo, EscapedReplacesIsUnescapedAndParsed) {
  auto r = srf::parse_refer_to(
      "<sips:dave@example.net:5061;transport=tls?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994"
      "%3Bearly-only&X-Info=a%20b>");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uri, "sips:dave@example.net:5061;transport=tls");
  ASSERT_TRUE(r->replaces);
  EXPECT_EQ(r->replaces->call_id, "12345@192.168.118.3");
  EXPECT_EQ(r->replaces->to_tag, "12345");
  EXPECT_EQ(r->replaces->from_tag, "5FFE-3994");
  EXPECT_TRUE(r->replaces->early_only);
  ASSERT_EQ(r->headers.size(), 1U);
  EXPECT_EQ(r->headers[0].first, "X-Info");
  EXPECT_EQ(r->headers[0].second, "a b");
}

TEST(ParseReferTo, ReplacesWithoutEarlyOnly) {
  auto r = srf::parse_refer_to("<sip:b@h?replaces=abc%3Bfrom-tag%3D1%3Bto-tag%3D2>");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->replaces);
  EXPECT_EQ(r->replaces->call_id, "abc");
  EXPECT_EQ(r->replaces->from_tag, "1");
  EXPECT_EQ(r->replaces->to_tag, "2");
  EXPECT_FALSE(r->replaces->early_only);
}

TEST(ParseReferTo, TelUri) {
  auto r = srf::parse_refer_to("<tel:+15551234567>");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uri, "tel:+15551234567");
}

TEST(ParseReferTo, Rejects) {
  EXPECT_FALSE(srf::parse_refer_to(""));
  EXPECT_FALSE(srf::parse_refer_to("<>"));
  EXPECT_FALSE(srf::parse_refer_to("<http://example.com/>"));                // not a SIP target
  EXPECT_FALSE(srf::parse_refer_to("<sip:b@h?Replaces=abc%3Bto-tag%3D2>"));  // no from-tag
  EXPECT_FALSE(srf::parse_refer_to("<sip:carol@example.com"));               // unterminated
}

TEST(ParseSipfrag, StatusLine) {
  auto s = srf::parse_sipfrag_status("SIP/2.0 180 Ringing\r\n");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, 180);
  EXPECT_EQ(s->reason, "Ringing");
  auto with_headers = srf::parse_sipfrag_status("SIP/2.0 200 OK\r\nContact: <sip:x@y>\r\n");
  ASSERT_TRUE(with_headers);
  EXPECT_EQ(with_headers->status, 200);
  EXPECT_EQ(with_headers->reason, "OK");
  auto no_reason = srf::parse_sipfrag_status("SIP/2.0 503");
  ASSERT_TRUE(no_reason);
  EXPECT_EQ(no_reason->status, 503);
  EXPECT_FALSE(srf::parse_sipfrag_status(""));
  EXPECT_FALSE(srf::parse_sipfrag_status("INVITE sip:a@b SIP/2.0\r\n"));
  EXPECT_FALSE(srf::parse_sipfrag_status("SIP/2.0 99 Odd\r\n"));
  EXPECT_FALSE(srf::parse_sipfrag_status("SIP/2.0 2000 Odd\r\n"));
}

TEST(FormatReferTo, RoundTripsThroughParseReferTo) {
  srf::ReferTo refer_to;
  refer_to.uri = "sip:carol@example.com;transport=tcp";
  refer_to.replaces = srf::ReplacesTarget{"12345@192.168.0.1", "to-1", "f.2~x", true};
  refer_to.headers = {{"X-Info", "a b&c=d"}};
  const std::string text = srf::format_refer_to(refer_to);
  EXPECT_EQ(text.find_first_of(" ;=@&", text.find('?') + 1), text.find("=", text.find('?')));  // Replaces=
  EXPECT_EQ(text.find_first_of(" ;@", text.find('?')), std::string::npos);                     // escaped
  EXPECT_EQ(srf::format_replaces(*refer_to.replaces), "12345@192.168.0.1;to-tag=to-1;from-tag=f.2~x;early-only");
  auto parsed = srf::parse_refer_to(text);
  ASSERT_TRUE(parsed) << text;
  EXPECT_EQ(parsed->uri, refer_to.uri);
  ASSERT_TRUE(parsed->replaces);
  EXPECT_EQ(parsed->replaces->call_id, "12345@192.168.0.1");
  EXPECT_EQ(parsed->replaces->to_tag, "to-1");
  EXPECT_EQ(parsed->replaces->from_tag, "f.2~x");
  EXPECT_TRUE(parsed->replaces->early_only);
  ASSERT_EQ(parsed->headers.size(), 1U);
  EXPECT_EQ(parsed->headers[0].second, "a b&c=d");
}

TEST(FormatReferTo, PlainUriAndAttendedTransfer) {
  EXPECT_EQ(srf::format_refer_to(srf::ReferTo{"sip:b@h", std::nullopt, {}}), "<sip:b@h>");
  srf::ReferTo attended{"sip:b@h", srf::ReplacesTarget{"abc@h", "t1", "f2", false}, {}};
  EXPECT_EQ(srf::format_refer_to(attended), "<sip:b@h?Replaces=abc%40h%3Bto-tag%3Dt1%3Bfrom-tag%3Df2>");
}
