// The websocket transport (src/mrf/stream/websocket_transport.cpp) against a stand-in for
// chan_websocket's /media/<id> server, through a real ari::Client: the externalMedia request's
// fields, the connection, audio both ways (little-endian linear PCM), FLUSH_MEDIA, control
// events (XOFF/XON, junk), both ends' closes. A fake sink records what the transport reports.
#include "../ari/fake_media_server.hpp"
#include "stream/transport.hpp"

#include <astmrf/ari/client.hpp>
#include <astmrf/mrf/audio.hpp>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace mrf = astmrf::mrf;
namespace ari = astmrf::ari;
using mrf::detail::MediaTransport;

constexpr const char* kId = "4b0f7a2e-9c1d-4e55-8a61-0d3c2b1a9f00";

struct FakeSink final : mrf::detail::StreamSink {
  void on_audio(std::span<const std::int16_t> samples, std::optional<mrf::detail::RtpInfo> rtp) override {
    EXPECT_FALSE(rtp.has_value());
    audio.emplace_back(samples.begin(), samples.end());
    ++calls;
  }
  void on_malformed(std::string_view what) override {
    malformed.emplace_back(what);
    ++calls;
  }
  void on_ready() override {
    ++ready;
    ++calls;
  }
  void on_transport_closed(std::string_view why) override {
    closed.emplace_back(why);
    ++calls;
  }
  void reset() {
    audio.clear();
    malformed.clear();
    closed.clear();
    ready = 0;
    calls = 0;
  }
  std::vector<std::vector<std::int16_t>> audio;
  std::vector<std::string> malformed;
  std::vector<std::string> closed;
  int ready{0};
  int calls{0};
};

bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& pred,
               std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (ioc.stopped()) ioc.restart();
    ioc.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

void run_for(boost::asio::io_context& ioc, std::chrono::milliseconds d) {
  run_until(
      ioc, [] { return false; }, d);
}

std::vector<std::uint8_t> le_bytes(const std::vector<std::int16_t>& samples) {
  std::vector<std::uint8_t> out;
  for (auto s : samples) {
    const auto u = static_cast<std::uint16_t>(s);
    out.push_back(static_cast<std::uint8_t>(u & 0xff));
    out.push_back(static_cast<std::uint8_t>(u >> 8));
  }
  return out;
}

class WebsocketTransportTest : public ::testing::Test {
 protected:
  WebsocketTransportTest() {
    server_.allow(kId);
    ari::ClientOptions o;
    o.url = server_.url();
    o.user = "astmrf";
    o.password = "secret";
    client_ = std::make_unique<ari::Client>(ioc_.get_executor(), o);
  }

  std::unique_ptr<MediaTransport> make(mrf::AudioFormat format = mrf::AudioFormat::slin16,
                                       mrf::StreamDirection direction = mrf::StreamDirection::both) {
    mrf::detail::TransportContext ctx;
    ctx.executor = ioc_.get_executor();
    ctx.format = format;
    ctx.direction = direction;
    ctx.ari = client_.get();
    ctx.log = std::make_shared<spdlog::logger>("ws-test", std::make_shared<spdlog::sinks::null_sink_mt>());
    ctx.stream_id = "stream-1";
    ctx.sink = &sink_;
    return mrf::detail::make_websocket_transport(std::move(ctx));
  }

  static ari::Channel channel(const std::string& id = kId) {
    ari::Channel c;
    c.id = "stream-1";
    if (!id.empty()) c.channelvars["MEDIA_WEBSOCKET_CONNECTION_ID"] = id;
    return c;
  }

  // A transport started and connected.
  std::unique_ptr<MediaTransport> connected(mrf::AudioFormat format = mrf::AudioFormat::slin16,
                                            mrf::StreamDirection direction = mrf::StreamDirection::both) {
    auto t = make(format, direction);
    ari::channels::ExternalMedia request;
    t->prepare(request);
    t->start(channel());
    EXPECT_TRUE(run_until(ioc_, [&] { return sink_.ready == 1; }));
    EXPECT_TRUE(server_.wait_connections(1));
    return t;
  }

  fake::MediaServer server_;
  boost::asio::io_context ioc_;
  std::unique_ptr<ari::Client> client_;
  FakeSink sink_;
};

TEST_F(WebsocketTransportTest, PrepareFillsTheExternalMediaRequest) {
  auto t = make(mrf::AudioFormat::slin16, mrf::StreamDirection::in);
  ari::channels::ExternalMedia request;
  request.external_host = "junk";
  t->prepare(request);
  EXPECT_EQ(request.transport, "websocket");
  EXPECT_EQ(request.encapsulation, "none");
  EXPECT_EQ(request.connection_type, "server");
  EXPECT_EQ(request.external_host, "");
  EXPECT_EQ(request.transport_data, "f(json)");
  EXPECT_EQ(request.direction, "in");
  auto both = make(mrf::AudioFormat::ulaw, mrf::StreamDirection::both);
  both->prepare(request);
  EXPECT_EQ(request.direction, "both");
  auto out = make(mrf::AudioFormat::ulaw, mrf::StreamDirection::out);
  out->prepare(request);
  EXPECT_EQ(request.direction, "out");
}

TEST_F(WebsocketTransportTest, ReadyAfterConnect) {
  auto t = connected();
  EXPECT_EQ(sink_.ready, 1);
  ASSERT_EQ(server_.targets().size(), 1U);
  EXPECT_EQ(server_.targets()[0], std::string("/media/") + kId);
  EXPECT_TRUE(sink_.closed.empty());
  EXPECT_TRUE(sink_.malformed.empty());
}

TEST_F(WebsocketTransportTest, MissingConnectionIdClosesTheTransport) {
  auto t = make();
  t->start(channel(""));
  EXPECT_EQ(sink_.calls, 0);  // never inside start()
  ASSERT_TRUE(run_until(ioc_, [&] { return !sink_.closed.empty(); }));
  EXPECT_EQ(sink_.closed[0], "no MEDIA_WEBSOCKET_CONNECTION_ID");
  EXPECT_EQ(sink_.ready, 0);
}

TEST_F(WebsocketTransportTest, UnknownConnectionIdClosesTheTransport) {
  auto t = make();
  t->start(channel("not-allowed"));
  ASSERT_TRUE(run_until(ioc_, [&] { return !sink_.closed.empty(); }));
  EXPECT_EQ(sink_.ready, 0);
  EXPECT_EQ(sink_.closed.size(), 1U);
}

TEST_F(WebsocketTransportTest, BinarySlin16FrameIsDecodedLittleEndian) {
  auto t = connected();
  std::vector<std::int16_t> frame(320);
  for (std::size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<std::int16_t>(i * 97 - 15000);
  frame[0] = -2;      // 0xfffe: bytes fe ff
  frame[1] = 0x0102;  // bytes 02 01
  server_.send_binary(le_bytes(frame));
  ASSERT_TRUE(run_until(ioc_, [&] { return sink_.audio.size() == 1; }));
  EXPECT_EQ(sink_.audio[0], frame);
}

TEST_F(WebsocketTransportTest, SendProducesLittleEndianBinaryOf640Bytes) {
  auto t = connected();
  std::vector<std::int16_t> frame(320);
  for (std::size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<std::int16_t>(1000 - 7 * i);
  frame[0] = 0x0102;
  t->send(frame);
  ASSERT_TRUE(server_.wait_messages(1));
  const auto got = server_.messages();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_FALSE(got[0].text);
  ASSERT_EQ(got[0].data.size(), 640U);
  EXPECT_EQ(static_cast<std::uint8_t>(got[0].data[0]), 0x02);
  EXPECT_EQ(static_cast<std::uint8_t>(got[0].data[1]), 0x01);
  const auto expected = le_bytes(frame);
  EXPECT_EQ(got[0].data, std::string(expected.begin(), expected.end()));
  EXPECT_EQ(t->dropped_out(), 0U);
}

TEST_F(WebsocketTransportTest, SlinEightKilohertzTooIs160SamplesOf320Bytes) {
  auto t = connected(mrf::AudioFormat::slin);
  t->send(std::vector<std::int16_t>(160, -1));
  ASSERT_TRUE(server_.wait_messages(1));
  EXPECT_EQ(server_.messages()[0].data, std::string(320, '\xff'));
}

TEST_F(WebsocketTransportTest, G711BothWays) {
  for (const auto format : {mrf::AudioFormat::ulaw, mrf::AudioFormat::alaw}) {
    fake::MediaServer server;
    server.allow(kId);
    ari::ClientOptions o;
    o.url = server.url();
    client_ = std::make_unique<ari::Client>(ioc_.get_executor(), o);
    sink_.reset();
    auto t = make(format);
    t->start(channel());
    ASSERT_TRUE(run_until(ioc_, [&] { return sink_.ready == 1; }));
    ASSERT_TRUE(server.wait_connections(1));
    const bool ulaw = format == mrf::AudioFormat::ulaw;
    // In: 160 codes, each decoded.
    std::vector<std::uint8_t> codes(160);
    for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<std::uint8_t>(i * 37);
    server.send_binary(codes);
    ASSERT_TRUE(run_until(ioc_, [&] { return sink_.audio.size() == 1; }));
    ASSERT_EQ(sink_.audio[0].size(), 160U);
    for (std::size_t i = 0; i < codes.size(); ++i) {
      EXPECT_EQ(sink_.audio[0][i], ulaw ? mrf::audio::ulaw_to_linear(codes[i]) : mrf::audio::alaw_to_linear(codes[i]));
    }
    // Out: one 160-byte message of codes.
    std::vector<std::int16_t> frame(160);
    for (std::size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<std::int16_t>(i * 400 - 32000);
    t->send(frame);
    ASSERT_TRUE(server.wait_messages(1));
    const auto got = server.messages()[0].data;
    ASSERT_EQ(got.size(), 160U);
    for (std::size_t i = 0; i < frame.size(); ++i) {
      EXPECT_EQ(static_cast<std::uint8_t>(got[i]),
                ulaw ? mrf::audio::linear_to_ulaw(frame[i]) : mrf::audio::linear_to_alaw(frame[i]));
    }
    t->close();
    ASSERT_TRUE(run_until(ioc_, [&] { return server.close_codes().size() == 1; }));
  }
}

TEST_F(WebsocketTransportTest, InDirectionSendsNothing) {
  auto t = connected(mrf::AudioFormat::slin16, mrf::StreamDirection::in);
  t->send(std::vector<std::int16_t>(320, 5));
  run_for(ioc_, 100ms);
  EXPECT_TRUE(server_.messages().empty());
  EXPECT_EQ(t->dropped_out(), 0U);
}

TEST_F(WebsocketTransportTest, FlushSendsFlushMedia) {
  auto t = connected();
  t->flush();
  ASSERT_TRUE(server_.wait_messages(1));
  const auto got = server_.messages();
  EXPECT_TRUE(got[0].text);
  EXPECT_EQ(got[0].data, R"({"command":"FLUSH_MEDIA"})");
}

TEST_F(WebsocketTransportTest, JunkIsMalformedAndTheStreamGoesOn) {
  auto t = connected();
  server_.send(true, "MEDIA_START connection_id:x channel:y");  // plain text, not JSON
  server_.send(true, "[1,2,3]");
  server_.send(true, R"({"channel_id":"x"})");
  server_.send(true, R"({"event":"SOMETHING_NEW","channel_id":"x"})");
  server_.send(true, R"({"event":"ERROR","channel_id":"x","error_text":"bad command"})");
  server_.send(true, R"({"event":"MEDIA_START","format":"ulaw","optimal_frame_size":160,"ptime":20})");
  server_.send_binary({1, 2, 3});  // odd length
  server_.send_binary(le_bytes(std::vector<std::int16_t>(320, 42)));
  ASSERT_TRUE(run_until(ioc_, [&] { return sink_.audio.size() == 1; }));
  ASSERT_EQ(sink_.malformed.size(), 7U);
  EXPECT_NE(sink_.malformed[3].find("SOMETHING_NEW"), std::string::npos);
  EXPECT_NE(sink_.malformed[4].find("bad command"), std::string::npos);
  EXPECT_NE(sink_.malformed[5].find("ulaw"), std::string::npos);
  EXPECT_NE(sink_.malformed[6].find("odd"), std::string::npos);
  EXPECT_EQ(sink_.audio[0], std::vector<std::int16_t>(320, 42));
  EXPECT_TRUE(sink_.closed.empty());
}

TEST_F(WebsocketTransportTest, KnownEventsAreNotMalformed) {
  auto t = connected();
  for (
      const char* e :
      {R"({"event":"MEDIA_START","connection_id":"c","channel":"WebSocket/c/0x1","channel_id":"stream-1","format":"slin16","optimal_frame_size":640,"ptime":20,"channel_variables":{}})",
       R"({"event":"DTMF_END","channel_id":"stream-1","digit":"5"})", R"({"event":"QUEUE_DRAINED","channel_id":"x"})",
       R"({"event":"STATUS","channel_id":"x","queue_length":0,"xon_level":800,"xoff_level":900,"queue_full":false,"bulk_media":false,"media_paused":false})",
       R"({"event":"MEDIA_BUFFERING_COMPLETED","channel_id":"x","correlation_id":"a"})",
       R"({"event":"MEDIA_MARK_PROCESSED","channel_id":"x","correlation_id":"b"})",
       R"({"event":"MEDIA_XOFF","channel_id":"x"})", R"({"event":"MEDIA_XON","channel_id":"x"})"}) {
    server_.send(true, e);
  }
  server_.send_binary(le_bytes(std::vector<std::int16_t>(320, 1)));
  ASSERT_TRUE(run_until(ioc_, [&] { return sink_.audio.size() == 1; }));
  EXPECT_TRUE(sink_.malformed.empty()) << sink_.malformed.front();
}

TEST_F(WebsocketTransportTest, XoffDropsAndCountsUntilXon) {
  auto t = connected();
  server_.send(true, R"({"event":"MEDIA_XOFF","channel_id":"x"})");
  server_.send_binary(le_bytes(std::vector<std::int16_t>(320, 1)));  // marks that the XOFF arrived
  ASSERT_TRUE(run_until(ioc_, [&] { return sink_.audio.size() == 1; }));
  const std::vector<std::int16_t> frame(320, 9);
  for (int i = 0; i < 3; ++i) t->send(frame);
  EXPECT_EQ(t->dropped_out(), 3U);
  server_.send(true, R"({"event":"MEDIA_XON","channel_id":"x"})");
  server_.send_binary(le_bytes(std::vector<std::int16_t>(320, 2)));
  ASSERT_TRUE(run_until(ioc_, [&] { return sink_.audio.size() == 2; }));
  t->send(frame);
  ASSERT_TRUE(server_.wait_messages(1));
  run_for(ioc_, 50ms);
  EXPECT_EQ(server_.messages().size(), 1U);
  EXPECT_EQ(t->dropped_out(), 3U);
}

TEST_F(WebsocketTransportTest, CongestedSocketCountsDrops) {
  auto t = connected();
  const std::vector<std::int16_t> frame(320, 9);
  // Nothing runs between the sends: the socket queues 50, then refuses.
  for (int i = 0; i < 55; ++i) t->send(frame);
  EXPECT_EQ(t->dropped_out(), 5U);
  ASSERT_TRUE(run_until(ioc_, [&] { return server_.messages().size() == 50; }));
}

TEST_F(WebsocketTransportTest, ServerCloseIsTransportClosedOnce) {
  auto t = connected();
  server_.close_all();
  ASSERT_TRUE(run_until(ioc_, [&] { return !sink_.closed.empty(); }));
  run_for(ioc_, 100ms);
  EXPECT_EQ(sink_.closed.size(), 1U);
  const int calls = sink_.calls;
  t->send(std::vector<std::int16_t>(320, 1));
  t->flush();
  t->close();
  run_for(ioc_, 50ms);
  EXPECT_EQ(sink_.calls, calls);
}

TEST_F(WebsocketTransportTest, NoSinkCallsAfterClose) {
  auto t = connected();
  const int calls = sink_.calls;
  server_.send_binary(le_bytes(std::vector<std::int16_t>(320, 1)));  // may be in flight
  server_.send(true, "junk");
  t->close();
  t->close();  // idempotent
  // The close frame goes out as the executor runs (Asterisk hangs the channel up on it).
  ASSERT_TRUE(run_until(ioc_, [&] { return server_.close_codes().size() == 1; }));
  EXPECT_EQ(server_.close_codes()[0], 1000);
  run_for(ioc_, 200ms);
  EXPECT_EQ(sink_.calls, calls);
}

TEST_F(WebsocketTransportTest, CloseWhileConnectingCallsNothing) {
  server_.set_hold_upgrades(true);
  auto t = make();
  t->start(channel());
  ASSERT_TRUE(run_until(ioc_, [&] { return server_.targets().size() == 1; }));
  t->close();
  run_for(ioc_, 200ms);
  EXPECT_EQ(sink_.calls, 0);
}

TEST_F(WebsocketTransportTest, DestroyedWithIoInFlight) {
  auto t = connected();
  for (int i = 0; i < 10; ++i) t->send(std::vector<std::int16_t>(320, 3));
  server_.send_binary(le_bytes(std::vector<std::int16_t>(320, 1)));
  const int calls = sink_.calls;
  t.reset();  // closes
  ASSERT_TRUE(run_until(ioc_, [&] { return server_.close_codes().size() == 1; }));
  run_for(ioc_, 100ms);
  EXPECT_EQ(sink_.calls, calls);
}

}  // namespace
