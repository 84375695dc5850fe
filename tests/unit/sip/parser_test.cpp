#include <astmrf/sip/parser.hpp>

#include <gtest/gtest.h>

#include <string>

using namespace astmrf::sip;

namespace {

const std::string kInvite =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n";

}  // namespace

TEST(Parser, RequestStartLineAndHeaders) {
  auto m = parse_message(kInvite);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_TRUE(m->is_request());
  EXPECT_EQ(m->method(), "INVITE");
  EXPECT_EQ(m->method_id(), MethodId::invite);
  EXPECT_EQ(m->request_uri(), "sip:bob@biloxi.example.com");
  EXPECT_EQ(m->version(), "SIP/2.0");
  EXPECT_EQ(m->headers().size(), 9u);
  EXPECT_EQ(m->call_id(), "a84b4c76e66710@pc33.atlanta.example.com");
  EXPECT_EQ(m->header("max-forwards"), "70");
  EXPECT_EQ(m->header(HeaderId::content_type), "application/sdp");
  EXPECT_EQ(m->body(), "v=0\n");
  EXPECT_EQ(m->content_length(), 4u);
  EXPECT_EQ(m->headers()[3].line, 5u);
}

TEST(Parser, Response) {
  auto m = parse_message(
      "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nTo: <sip:b@h>;tag=1\r\n"
      "From: <sip:a@h>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_TRUE(m->is_response());
  EXPECT_EQ(m->status(), 180);
  EXPECT_EQ(m->reason(), "Ringing");
  EXPECT_TRUE(m->body().empty());
}

TEST(Parser, ReasonPhraseMayHoldSpacesAndUtf8) {
  auto m = parse_message(
      "SIP/2.0 486 Busy \xC3\xA9 Here\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\nCSeq: "
      "1 INVITE\r\n\r\n");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->reason(), "Busy \xC3\xA9 Here");
}

TEST(Parser, CompactFormsAndCaseInsensitiveNames) {
  auto m = parse_message(
      "OPTIONS sip:x@h SIP/2.0\r\nv: SIP/2.0/TCP h\r\nT: <sip:b@h>\r\nf: <sip:a@h>;tag=1\r\ni: cid\r\ncSeQ: 2 "
      "OPTIONS\r\n"
      "m: <sip:a@h>\r\nk: timer\r\nl: 0\r\ns: hi\r\nc: text/plain\r\ne: gzip\r\no: presence\r\nu: dialog\r\n"
      "r: <sip:c@h>\r\nb: <sip:d@h>\r\nx: 1800\r\ny: abc\r\na: *;audio\r\n\r\n");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->call_id(), "cid");
  EXPECT_EQ(m->header(HeaderId::via), "SIP/2.0/TCP h");
  EXPECT_EQ(m->header(HeaderId::supported), "timer");
  EXPECT_EQ(m->header(HeaderId::subject), "hi");
  EXPECT_EQ(m->header(HeaderId::content_encoding), "gzip");
  EXPECT_EQ(m->header(HeaderId::event), "presence");
  EXPECT_EQ(m->header(HeaderId::allow_events), "dialog");
  EXPECT_EQ(m->header(HeaderId::refer_to), "<sip:c@h>");
  EXPECT_EQ(m->header(HeaderId::referred_by), "<sip:d@h>");
  EXPECT_EQ(m->header(HeaderId::session_expires), "1800");
  EXPECT_EQ(m->header(HeaderId::identity), "abc");
  EXPECT_EQ(m->header(HeaderId::accept_contact), "*;audio");
  EXPECT_EQ(m->header("Call-Id"), "cid");
  EXPECT_EQ(m->header("CONTACT"), "<sip:a@h>");
  EXPECT_EQ(m->header("Content-Type"), "text/plain");
}

TEST(Parser, ExtensionHeadersByName) {
  auto m = parse_message(
      "BYE sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n"
      "X-Custom-Thing :  some value  \r\n\r\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header("x-custom-thing"), "some value");
  EXPECT_EQ(m->find("X-Custom-Thing")->id, HeaderId::other);
}

TEST(Parser, LineFoldingBecomesSpaces) {
  auto m = parse_message(
      "BYE sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\nCSeq: 1\r\n  "
      "BYE\r\n"
      "Subject:\r\n\tI know you're there\r\n\r\n");
  ASSERT_TRUE(m) << m.error().message();
  auto cs = m->cseq();
  ASSERT_TRUE(cs) << cs.error().message();
  EXPECT_EQ(cs->number, 1u);
  EXPECT_EQ(cs->method, "BYE");
  EXPECT_EQ(m->header(HeaderId::subject), "I know you're there");
}

TEST(Parser, BareLfLineEndsAreTolerated) {
  auto m = parse_message(
      "BYE sip:x@h SIP/2.0\nVia: SIP/2.0/UDP h\nTo: <sip:b@h>\nFrom: <sip:a@h>\nCall-ID: x\nCSeq: 1 BYE\n\n");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->call_id(), "x");
}

TEST(Parser, LeadingCrlfsAreSkipped) {
  auto m = parse_message("\r\n\r\n" + kInvite);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->method(), "INVITE");
}

TEST(Parser, BytesBeyondContentLengthAreIgnored) {
  auto m = parse_message(kInvite + "garbage");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body(), "v=0\n");
}

TEST(Parser, NoContentLengthMeansRestOfDatagram) {
  auto m = parse_message(
      "MESSAGE sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\nCSeq: 1 "
      "MESSAGE\r\n\r\nhello");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body(), "hello");
  ParseOptions stream;
  stream.require_content_length = true;
  auto s = parse_message(
      "MESSAGE sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\nCSeq: 1 "
      "MESSAGE\r\n\r\nhello",
      stream);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ParseErrc::missing_header);
}

TEST(Parser, MultipleHeaderLinesAndListValues) {
  auto m = parse_message(
      "INVITE sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2\r\n"
      "Via: SIP/2.0/TCP c:5070;branch=z9hG4bK3\r\nTo: <sip:b@h>\r\nFrom: \"A, B\" <sip:a@h>;tag=1\r\nCall-ID: "
      "x\r\nCSeq: 1 INVITE\r\n"
      "Allow: INVITE, ACK\r\nAllow: BYE\r\n\r\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->count(HeaderId::via), 2u);
  auto v = m->values(HeaderId::via);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[1], "SIP/2.0/UDP b;branch=z9hG4bK2");
  auto allow = m->allow();
  ASSERT_TRUE(allow);
  EXPECT_EQ(allow->size(), 3u);
  // From is not a list header: the comma inside the quotes stays
  EXPECT_EQ(m->values(HeaderId::from).size(), 1u);
}

struct BadCase {
  const char* text;
  ParseErrc code;
  unsigned line;
};

class ParserRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParserRejects, WithPreciseError) {
  auto m = parse_message(GetParam().text);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, GetParam().code) << m.error().message();
  EXPECT_EQ(m.error().line, GetParam().line) << m.error().message();
  EXPECT_FALSE(m.error().reason.empty());
}

#define HDRS "Via: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
INSTANTIATE_TEST_SUITE_P(
    Cases, ParserRejects,
    ::testing::Values(
        BadCase{"", ParseErrc::empty_message, 0}, BadCase{"\r\n\r\n", ParseErrc::empty_message, 0},
        BadCase{"INVITE  sip:x@h SIP/2.0\r\n" HDRS "\r\n", ParseErrc::bad_request_uri, 1},
        BadCase{"INVITE sip:x@h SIP/2.0 \r\n" HDRS "\r\n", ParseErrc::bad_start_line, 1},
        BadCase{"INVITE sip:x@h SIP/2.0x\r\n" HDRS "\r\n", ParseErrc::bad_version, 1},
        BadCase{"INVITE sip:x@h SIP/7.0\r\n" HDRS "\r\n", ParseErrc::unsupported_version, 1},
        BadCase{"INV@TE sip:x@h SIP/2.0\r\n" HDRS "\r\n", ParseErrc::bad_method, 1},
        BadCase{"INVITE x@h SIP/2.0\r\n" HDRS "\r\n", ParseErrc::bad_request_uri, 1},
        BadCase{"SIP/2.0 20 OK\r\n" HDRS "\r\n", ParseErrc::bad_status_code, 1},
        BadCase{"SIP/2.0 700 Nope\r\n" HDRS "\r\n", ParseErrc::bad_status_code, 1},
        BadCase{"INVITE sip:x@h SIP/2.0\r\n" HDRS "Bad Header: x\r\n\r\n", ParseErrc::bad_header_line, 7},
        BadCase{"INVITE sip:x@h SIP/2.0\r\n" HDRS ": x\r\n\r\n", ParseErrc::bad_header_name, 7},
        BadCase{"INVITE sip:x@h SIP/2.0\r\n" HDRS "NoColon\r\n\r\n", ParseErrc::bad_header_line, 7},
        BadCase{"INVITE sip:x@h SIP/2.0\r\n" HDRS "Subject: a\rb\r\n\r\n", ParseErrc::control_character, 7},
        BadCase{"INVITE sip:x@h SIP/2.0\r\n" HDRS "Subject: a\x01"
                "b\r\n\r\n",
                ParseErrc::control_character, 7},
        BadCase{"INVITE sip:x@h SIP/2.0\r\n" HDRS, ParseErrc::bad_header_line, 7},
        BadCase{"INVITE sip:x@h SIP/2.0\r\n  folded\r\n" HDRS "\r\n", ParseErrc::bad_header_line, 2},
        BadCase{"INVITE sip:x@h SIP/2.0\r\n" HDRS "Content-Length: 10\r\n\r\nshort", ParseErrc::body_truncated, 7},
        BadCase{"INVITE sip:x@h SIP/2.0\r\n" HDRS "Content-Length: -1\r\n\r\n", ParseErrc::bad_content_length, 7},
        BadCase{"INVITE sip:x@h SIP/2.0\r\n" HDRS "Content-Length: 99999999999\r\n\r\n", ParseErrc::bad_content_length,
                7},
        BadCase{"INVITE sip:x@h SIP/2.0\r\n" HDRS "l: 1\r\nContent-Length: 2\r\n\r\nab", ParseErrc::duplicate_header,
                8},
        BadCase{"INVITE sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n", ParseErrc::missing_header, 0}));

TEST(Parser, ErrorColumnPointsAtTheByte) {
  auto m = parse_message("INVITE sip:x@h SIP/2.0\r\n" HDRS
                         "Subject: ab\x02"
                         "c\r\n\r\n");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().line, 7u);
  EXPECT_EQ(m.error().column, 12u);
  EXPECT_NE(m.error().message().find("line 7, column 12"), std::string::npos);
}

// find(HeaderId) is an index lookup; past 65534 headers it falls back to a scan.
TEST(Parser, FindAfterVeryManyHeaders) {
  std::string text = "OPTIONS sip:a@b SIP/2.0\r\n";
  for (int i = 0; i < 66000; ++i) text += "X-A:1\r\n";
  text += "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\n\r\n";
  ParseOptions opt;
  opt.max_message_size = text.size();
  opt.max_header_count = 70000;
  opt.require_mandatory_headers = false;
  auto m = parse_message(text, opt);
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_NE(m->find(HeaderId::other), nullptr);
  EXPECT_EQ(m->find(HeaderId::other)->name, "X-A");
  EXPECT_EQ(m->top_via()->branch, "z9hG4bK1");
  EXPECT_EQ(m->from()->tag, "1");
  EXPECT_EQ(m->find(HeaderId::to), nullptr);
  const Message copy = *m;
  EXPECT_EQ(copy.header(HeaderId::from).data(),
            copy.raw().data() + (m->header(HeaderId::from).data() - m->raw().data()));
}

TEST(Parser, Limits) {
  ParseOptions opt;
  opt.max_header_count = 3;
  auto m = parse_message("INVITE sip:x@h SIP/2.0\r\n" HDRS "\r\n", opt);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ParseErrc::too_many_headers);
  opt = {};
  opt.max_line_length = 20;
  m = parse_message("INVITE sip:x@h SIP/2.0\r\n" HDRS "\r\n", opt);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ParseErrc::line_too_long);
  opt = {};
  opt.max_message_size = 10;
  m = parse_message("INVITE sip:x@h SIP/2.0\r\n" HDRS "\r\n", opt);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ParseErrc::message_too_large);
}

TEST(Parser, ValueThrowsParseFailure) {
  auto m = parse_message("garbage");
  EXPECT_THROW((void)m.value(), ParseFailure);
}

TEST(Message, CopyRebasesViewsAndMoveKeepsThem) {
  auto m = parse_message(kInvite);
  ASSERT_TRUE(m);
  Message copy = *m;
  Message moved = std::move(*m);
  EXPECT_EQ(copy.call_id(), moved.call_id());
  EXPECT_NE(copy.call_id().data(), moved.call_id().data());
  EXPECT_EQ(copy.raw(), moved.raw());
  EXPECT_EQ(copy.from()->tag, "1928301774");
  Message assigned;
  assigned = copy;
  EXPECT_EQ(assigned.body(), "v=0\n");
  EXPECT_GE(assigned.raw().data(), assigned.body().data() - assigned.raw().size());
}

TEST(Message, SerializeIsCanonical) {
  auto m = parse_message(
      "BYE sip:x@h SIP/2.0\nv: SIP/2.0/UDP h\nt: <sip:b@h>\nf: <sip:a@h>\ni: x\nCSEQ: 1\n BYE\nl: 3\nX-A:b\n\nabcdef");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->serialize(),
            "BYE sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\n"
            "CSeq: 1  BYE\r\nX-A: b\r\nContent-Length: 3\r\n\r\nabc");
  auto again = parse_message(m->serialize());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->serialize(), m->serialize());
}

TEST(Message, ValidateChecksStructuredHeaders) {
  auto m = parse_message(
      "INVITE sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\nCSeq: 1 "
      "BYE\r\n\r\n");
  ASSERT_TRUE(m);
  auto st = m->validate();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().header, "CSeq");
  EXPECT_EQ(st.error().line, 6u);
  ParseOptions strict;
  strict.validate_headers = true;
  EXPECT_FALSE(parse_message("INVITE sip:x@h SIP/2.0\r\n" HDRS "Max-Forwards: ten\r\n\r\n", strict));
  EXPECT_TRUE(parse_message("INVITE sip:x@h SIP/2.0\r\n" HDRS "Max-Forwards: 10\r\n\r\n", strict));
  auto dup = parse_message("INVITE sip:x@h SIP/2.0\r\n" HDRS "Call-ID: y\r\n\r\n", strict);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ParseErrc::duplicate_header);
  EXPECT_EQ(dup.error().line, 7u);
}
