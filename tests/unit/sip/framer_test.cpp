#include <astmrf/sip/stream_framer.hpp>

#include <gtest/gtest.h>

using namespace astmrf::sip;

namespace {

std::string msg(int cseq, std::string_view body = {}) {
  return "MESSAGE sip:x@h SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK" + std::to_string(cseq) +
         "\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>;tag=1\r\nCall-ID: x\r\nCSeq: " + std::to_string(cseq) +
         " MESSAGE\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

std::vector<Message> drain(StreamFramer& f, int* pings = nullptr) {
  std::vector<Message> out;
  while (true) {
    auto r = f.next();
    EXPECT_TRUE(r) << r.error().message();
    if (!r || r->kind == Frame::Kind::need_more) break;
    if (r->kind == Frame::Kind::keepalive_ping) {
      if (pings) ++*pings;
      continue;
    }
    out.push_back(std::move(r->message));
  }
  return out;
}

}  // namespace

TEST(Framer, PipelinedMessagesInOneRead) {
  StreamFramer f;
  ASSERT_TRUE(f.feed(msg(1, "hello") + msg(2) + msg(3, "x")));
  auto out = drain(f);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].body(), "hello");
  EXPECT_EQ(out[2].cseq()->number, 3u);
  EXPECT_EQ(f.buffered(), 0u);
}

TEST(Framer, ByteByByte) {
  const std::string all = msg(1, "body one") + "\r\n\r\n" + msg(2, "two");
  StreamFramer f;
  std::vector<Message> out;
  int pings = 0;
  for (char c : all) {
    ASSERT_TRUE(f.feed(std::string_view(&c, 1)));
    for (auto& m : drain(f, &pings)) out.push_back(std::move(m));
  }
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].body(), "body one");
  EXPECT_EQ(out[1].body(), "two");
  EXPECT_EQ(pings, 1);
}

TEST(Framer, KeepAlives) {
  StreamFramer f;
  ASSERT_TRUE(f.feed("\r\n\r\n"));
  auto r = f.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Frame::Kind::keepalive_ping);
  ASSERT_TRUE(f.feed("\r\n"));  // pong: skipped silently
  r = f.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Frame::Kind::need_more);
  ASSERT_TRUE(f.feed(msg(9)));
  auto out = drain(f);
  ASSERT_EQ(out.size(), 1u);
}

TEST(Framer, BodySplitAcrossReads) {
  const auto m = msg(4, std::string(1000, 'b'));
  StreamFramer f;
  ASSERT_TRUE(f.feed(m.substr(0, m.size() - 10)));
  EXPECT_TRUE(drain(f).empty());
  ASSERT_TRUE(f.feed(m.substr(m.size() - 10)));
  auto out = drain(f);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].body().size(), 1000u);
}

TEST(Framer, MissingContentLengthIsAnError) {
  StreamFramer f;
  ASSERT_TRUE(f.feed("OPTIONS sip:x@h SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n"));
  auto r = f.next();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ParseErrc::missing_header);
  EXPECT_TRUE(f.failed());
  EXPECT_FALSE(f.next());  // sticky
  EXPECT_FALSE(f.feed("x"));
}

TEST(Framer, LimitsEndInErrors) {
  {
    StreamFramer f(FramerLimits{1024, 256, 8192});
    ASSERT_TRUE(f.feed(msg(1, std::string(2000, 'x'))));
    auto r = f.next();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ParseErrc::bad_content_length);
  }
  {
    StreamFramer f(FramerLimits{1024, 256, 100});
    ASSERT_TRUE(f.feed("INVITE sip:x@h SIP/2.0\r\nSubject: " + std::string(200, 'a')));
    auto r = f.next();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ParseErrc::line_too_long);
  }
  {
    StreamFramer f(FramerLimits{1024, 3, 8192});
    ASSERT_TRUE(f.feed(msg(1)));
    auto r = f.next();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ParseErrc::too_many_headers);
  }
  {
    // endless header section in small chunks: bounded by max_message_size
    StreamFramer f(FramerLimits{4096, 100000, 8192});
    ASSERT_TRUE(f.feed("INVITE sip:x@h SIP/2.0\r\n"));
    bool failed = false;
    for (int i = 0; i < 10000 && !failed; ++i) {
      if (!f.feed("X: y\r\n")) break;
      auto r = f.next();
      if (!r) {
        EXPECT_EQ(r.error().code, ParseErrc::message_too_large);
        failed = true;
      }
    }
    EXPECT_TRUE(failed);
    EXPECT_LE(f.buffered(), 4096u + 16u);
  }
}

TEST(Framer, ParseErrorsPropagate) {
  StreamFramer f;
  ASSERT_TRUE(f.feed("BOGUS\r\nContent-Length: 0\r\n\r\n"));
  auto r = f.next();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ParseErrc::bad_method);
}
