#include <astmrf/sip/builder.hpp>
#include <astmrf/sip/parser.hpp>

#include <gtest/gtest.h>

using namespace astmrf::sip;

TEST(Builder, RequestIsCanonical) {
  auto text = MessageBuilder::request("INVITE", "sip:bob@example.com")
                  .add(HeaderId::via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1")
                  .add("max-forwards", "70")
                  .add(HeaderId::from, "<sip:alice@example.com>;tag=a")
                  .add(HeaderId::to, "<sip:bob@example.com>")
                  .add(HeaderId::call_id, "c1")
                  .add(HeaderId::cseq, "1 INVITE")
                  .add("Content-Length", "999")  // ignored: recomputed
                  .add("X-Trace", "  abc  ")
                  .body("application/sdp", "v=0\r\n")
                  .str();
  EXPECT_EQ(text,
            "INVITE sip:bob@example.com SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:alice@example.com>;tag=a\r\n"
            "To: <sip:bob@example.com>\r\n"
            "Call-ID: c1\r\n"
            "CSeq: 1 INVITE\r\n"
            "X-Trace: abc\r\n"
            "Content-Type: application/sdp\r\n"
            "Content-Length: 5\r\n\r\nv=0\r\n");
  auto m = parse_message(text);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->validate());
}

// The same checks as free functions, for SIP text written without a MessageBuilder
// (the drachtio backend): what they accept and refuse is what the builder does.
TEST(Builder, ChecksAreUsableWithoutABuilder) {
  EXPECT_NO_THROW(check_header_name("X-App"));
  EXPECT_NO_THROW(check_header_value("Subject", "hello world"));
  EXPECT_NO_THROW(check_method("INVITE"));
  EXPECT_NO_THROW(check_request_uri("sip:x@127.0.0.1:5060;transport=tcp"));
  EXPECT_NO_THROW(check_status_line(486, "Busy Here"));
  for (std::string_view name : {std::string_view(), std::string_view("Bad Name"), std::string_view("X:Y"),
                                std::string_view("X\r\nVia"), std::string_view("X\0", 2)}) {
    EXPECT_THROW(check_header_name(name), HeaderInjectionError) << name;
  }
  for (std::string_view value : {std::string_view("a\rb"), std::string_view("a\nb"), std::string_view("a\0b", 3)}) {
    EXPECT_THROW(check_header_value("X-A", value), HeaderInjectionError);
    EXPECT_THROW(check_status_line(200, value), HeaderInjectionError);
    EXPECT_THROW(check_request_uri(std::string("sip:x@h") + std::string(value)), HeaderInjectionError);
  }
  EXPECT_THROW(check_method("INV ITE"), HeaderInjectionError);
  EXPECT_THROW(check_request_uri("no-scheme"), HeaderInjectionError);
  EXPECT_THROW(check_status_line(99, "x"), HeaderInjectionError);
  EXPECT_THROW(check_status_line(700, "x"), HeaderInjectionError);
}

TEST(Builder, HeaderInjectionIsRefused) {
  auto b = MessageBuilder::request("OPTIONS", "sip:x@h");
  EXPECT_THROW(b.add("Subject", "hi\r\nVia: evil"), HeaderInjectionError);
  EXPECT_THROW(b.add(HeaderId::subject, std::string_view("a\0b", 3)), HeaderInjectionError);
  EXPECT_THROW(b.add("X-A", "line\nbreak"), HeaderInjectionError);
  EXPECT_THROW(b.add("Bad Name", "x"), HeaderInjectionError);
  EXPECT_THROW(b.add("X-Evil\r\nVia", "x"), HeaderInjectionError);
  EXPECT_THROW(MessageBuilder::request("INVITE", "sip:x@h\r\nX: y"), HeaderInjectionError);
  EXPECT_THROW(MessageBuilder::request("INV ITE", "sip:x@h"), HeaderInjectionError);
  EXPECT_THROW(MessageBuilder::request("INVITE", "no-scheme"), HeaderInjectionError);
  EXPECT_THROW(MessageBuilder::response(200, "OK\r\nX: y"), HeaderInjectionError);
  EXPECT_THROW(MessageBuilder::response(1000), HeaderInjectionError);
  try {
    b.add("Subject", "a\rb");
    FAIL();
  } catch (const HeaderInjectionError& e) {
    EXPECT_EQ(e.field(), "Subject");
    EXPECT_NE(std::string(e.what()).find("CR"), std::string::npos);
  }
  // derived from std::invalid_argument
  EXPECT_THROW(b.set(HeaderId::subject, "\n"), std::invalid_argument);
}

TEST(Builder, ResponseToRequest) {
  auto req = parse_message(
      "INVITE sip:bob@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP b;branch=z9hG4bK2\r\n"
      "Record-Route: <sip:p;lr>\r\nTo: Bob <sip:bob@h>\r\nFrom: <sip:a@h>;tag=1\r\nCall-ID: c\r\nCSeq: 5 INVITE\r\n"
      "Contact: <sip:a@1.2.3.4>\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(req);
  auto ok200 = MessageBuilder::response_to(*req, 200, {}, "xyz").add(HeaderId::contact, "<sip:bob@5.6.7.8>").build();
  EXPECT_EQ(ok200.status(), 200);
  EXPECT_EQ(ok200.reason(), "OK");
  EXPECT_EQ(ok200.count(HeaderId::via), 2u);
  EXPECT_EQ(ok200.to()->tag, "xyz");
  EXPECT_EQ(ok200.cseq()->number, 5u);
  EXPECT_TRUE(ok200.has(HeaderId::record_route));
  auto trying = MessageBuilder::response_to(*req, 100, {}, "xyz").build();
  EXPECT_TRUE(trying.to()->tag.empty());
  EXPECT_FALSE(trying.has(HeaderId::record_route));
  EXPECT_EQ(trying.reason(), "Trying");
  EXPECT_EQ(MessageBuilder::response(299).build().reason(), "");
}

TEST(Builder, EditExistingMessage) {
  auto req = parse_message(
      "BYE sip:bob@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nTo: <sip:bob@h>;tag=2\r\nFrom: "
      "<sip:a@h>;tag=1\r\n"
      "Call-ID: c\r\nCSeq: 6 BYE\r\nMax-Forwards: 70\r\nX-Old: 1\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(req);
  auto fwd = MessageBuilder::from_message(*req)
                 .prepend(HeaderId::via, "SIP/2.0/TCP proxy;branch=z9hG4bKp")
                 .set(HeaderId::max_forwards, "69")
                 .remove("x-old")
                 .build();
  EXPECT_EQ(fwd.vias()->size(), 2u);
  EXPECT_EQ(fwd.top_via()->transport, "TCP");
  EXPECT_EQ(*fwd.max_forwards(), 69u);
  EXPECT_FALSE(fwd.find("X-Old"));
  EXPECT_TRUE(fwd.validate());
}
