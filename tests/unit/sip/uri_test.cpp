#include <astmrf/sip/uri.hpp>

#include <gtest/gtest.h>

using namespace astmrf::sip;

TEST(Uri, FullSipUri) {
  auto u = parse_uri("sip:alice:secret@atlanta.example.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->scheme, UriScheme::sip);
  EXPECT_EQ(u->user, "alice");
  EXPECT_TRUE(u->has_password);
  EXPECT_EQ(u->password, "secret");
  EXPECT_EQ(u->host, "atlanta.example.com");
  EXPECT_EQ(u->host_kind, HostKind::hostname);
  EXPECT_TRUE(u->has_port);
  EXPECT_EQ(u->port, 5061);
  EXPECT_EQ(u->param("TRANSPORT"), "tcp");
  EXPECT_TRUE(u->has_param("lr"));
  EXPECT_EQ(u->param("lr"), "");
  EXPECT_FALSE(u->param("maddr"));
  auto hs = u->header_list();
  ASSERT_EQ(hs.size(), 2u);
  EXPECT_EQ(hs[0].name, "subject");
  EXPECT_EQ(unescape(hs[0].value), "project x");
  EXPECT_EQ(u->to_string(),
            "sip:alice:secret@atlanta.example.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent");
}

TEST(Uri, HostForms) {
  auto v4 = parse_uri("sips:192.0.2.4");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->scheme, UriScheme::sips);
  EXPECT_EQ(v4->host_kind, HostKind::ipv4);
  EXPECT_TRUE(v4->user.empty());
  auto v6 = parse_uri("sip:[2001:db8::10]:5070;maddr=[2001:db8::9:1]");
  ASSERT_TRUE(v6) << v6.error().message();
  EXPECT_EQ(v6->host_kind, HostKind::ipv6);
  EXPECT_EQ(v6->host, "2001:db8::10");
  EXPECT_EQ(v6->port, 5070);
  EXPECT_EQ(v6->param("maddr"), "[2001:db8::9:1]");
  EXPECT_EQ(v6->host_port(), "[2001:db8::10]:5070");
  auto mapped = parse_uri("sip:user@[::ffff:192.0.2.128]");
  ASSERT_TRUE(mapped);
  EXPECT_EQ(mapped->host_kind, HostKind::ipv6);
  EXPECT_EQ(classify_host("example.com."), HostKind::hostname);
  EXPECT_EQ(classify_host("256.1.1.1"), HostKind::none);
  EXPECT_EQ(classify_host("1.2.3"), HostKind::none);
  EXPECT_EQ(classify_host("-bad.example.com"), HostKind::none);
  EXPECT_EQ(classify_host("[1:2:3:4:5:6:7:8]"), HostKind::ipv6);
  EXPECT_EQ(classify_host("[1:2:3:4:5:6:7:8:9]"), HostKind::none);
  EXPECT_EQ(classify_host("[1::2::3]"), HostKind::none);
}

TEST(Uri, EscapedUserAndTelephoneSubscriber) {
  auto u = parse_uri("sip:%61lice;phone-context=x@example.com");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->user, "%61lice;phone-context=x");
  EXPECT_EQ(unescape(u->user), "alice;phone-context=x");
  auto t = parse_uri("sip:+1-212-555-1212:1234@gateway.com;user=phone");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->user, "+1-212-555-1212");
  EXPECT_EQ(t->password, "1234");
  EXPECT_EQ(t->param("user"), "phone");
  EXPECT_EQ(escape_user("a b@c"), "a%20b%40c");
}

TEST(Uri, Tel) {
  auto u = parse_uri("tel:+1-201-555-0123;ext=22");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->scheme, UriScheme::tel);
  EXPECT_EQ(u->user, "+1-201-555-0123");
  EXPECT_EQ(u->param("ext"), "22");
  EXPECT_EQ(u->to_string(), "tel:+1-201-555-0123;ext=22");
  auto local = parse_uri("tel:7042;phone-context=example.com");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->param("phone-context"), "example.com");
  EXPECT_FALSE(parse_uri("tel:"));
  EXPECT_FALSE(parse_uri("tel:12$3"));
}

TEST(Uri, OtherSchemesAreOpaque) {
  auto u = parse_uri("nobodyKnowsThisScheme:totallyopaquecontent");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, UriScheme::other);
  EXPECT_EQ(u->opaque, "totallyopaquecontent");
  auto mail = parse_uri("mailto:bob@example.com");
  ASSERT_TRUE(mail);
  EXPECT_EQ(mail->to_string(), "mailto:bob@example.com");
}

TEST(Uri, Rejects) {
  for (const char* bad : {"",
                          "sip",
                          ":x",
                          "1sip:x",
                          "sip:",
                          "sip:@host",
                          "sip:user@",
                          "sip:host:99999",
                          "sip:host:",
                          "sip:[::1",
                          "sip:[zz::1]",
                          "sip:ho st",
                          "sip:host;=x",
                          "sip:host;a=",
                          "sip:host?",
                          "sip:bad%zzuser@h",
                          "sip:user@host:5060x",
                          "sip:a@b@c",
                          "sip:us\"er@host",
                          "sip:host\r\n"}) {
    auto u = parse_uri(bad);
    EXPECT_FALSE(u) << bad;
    if (!u) {
      EXPECT_EQ(u.error().code, ParseErrc::bad_uri);
    }
  }
}
