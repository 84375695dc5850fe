// The audiosocket transport against a fake Asterisk: a TCP client of the test on the same
// io_context, speaking chan_audiosocket's side (0x01 UUID first, then audio, DTMF, hangup...).
#include "stream/transport.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <regex>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using astmrf::mrf::AudioFormat;
using astmrf::mrf::StreamDirection;
using astmrf::mrf::detail::MediaTransport;
using astmrf::mrf::detail::RtpInfo;
using astmrf::mrf::detail::StreamSink;
using astmrf::mrf::detail::TransportContext;
using Bytes = std::vector<std::uint8_t>;

struct RecordingSink : StreamSink {
  std::vector<std::vector<std::int16_t>> audio;
  std::vector<std::string> malformed;
  std::vector<std::string> closed;
  int ready{0};
  int calls{0};
  std::function<void()> after_audio;

  void on_audio(std::span<const std::int16_t> samples, std::optional<RtpInfo> rtp) override {
    ++calls;
    EXPECT_FALSE(rtp.has_value());
    audio.emplace_back(samples.begin(), samples.end());
    if (after_audio) after_audio();
  }
  void on_malformed(std::string_view what) override {
    ++calls;
    malformed.emplace_back(what);
  }
  void on_ready() override {
    ++calls;
    ++ready;
  }
  void on_transport_closed(std::string_view why) override {
    ++calls;
    closed.emplace_back(why);
  }
};

Bytes message(std::uint8_t type, const Bytes& payload) {
  Bytes out(3 + payload.size());
  out[0] = type;
  out[1] = static_cast<std::uint8_t>(payload.size() >> 8);
  out[2] = static_cast<std::uint8_t>(payload.size() & 0xFF);
  std::copy(payload.begin(), payload.end(), out.begin() + 3);
  return out;
}

Bytes little_endian(const std::vector<std::int16_t>& samples) {
  Bytes out;
  for (auto s : samples) {
    const auto v = static_cast<std::uint16_t>(s);
    out.push_back(static_cast<std::uint8_t>(v & 0xFF));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
  }
  return out;
}

std::vector<std::int16_t> ramp(std::size_t n, int start = -1000, int step = 7) {
  std::vector<std::int16_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::int16_t>(start + step * static_cast<int>(i));
  return out;
}

Bytes uuid_payload(const std::string& text) {
  Bytes out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '-') continue;
    out.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    ++i;
  }
  return out;
}

class AudiosocketTransportTest : public ::testing::Test {
 protected:
  void make(AudioFormat format = AudioFormat::slin16, StreamDirection direction = StreamDirection::both) {
    TransportContext context;
    context.executor = io_.get_executor();
    context.format = format;
    context.direction = direction;
    context.log = std::make_shared<spdlog::logger>("audiosocket_test");  // no sinks: silent
    context.stream_id = "stream-1";
    context.sink = &sink_;
    transport_ = astmrf::mrf::detail::make_audiosocket_transport(std::move(context));
    transport_->prepare(request_);
  }

  tcp::endpoint listener() const {
    const auto colon = request_.external_host.rfind(':');
    return {asio::ip::make_address(request_.external_host.substr(0, colon)),
            static_cast<unsigned short>(std::stoi(request_.external_host.substr(colon + 1)))};
  }

  // A fake Asterisk's connection (connect() completes in the kernel's backlog, no accept needed).
  tcp::socket connect() {
    tcp::socket s(io_);
    s.connect(listener());
    return s;
  }

  static void put(tcp::socket& s, const Bytes& bytes) { asio::write(s, asio::buffer(bytes)); }
  void hello(tcp::socket& s) { put(s, message(0x01, uuid_payload(request_.data))); }

  void start() { transport_->start(astmrf::ari::Channel{.id = "media-1"}); }

  // Runs the io_context until `done` or `limit`.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 3s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.restart();
      io_.run_for(5ms);
    }
    return true;
  }
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }

  // Connects, identifies and starts: the transport is ready.
  tcp::socket ready_connection() {
    auto s = connect();
    hello(s);
    start();
    EXPECT_TRUE(run_until([&] { return sink_.ready == 1; }));
    return s;
  }

  // Reads `n` bytes from the fake's socket while the transport runs.
  Bytes receive(tcp::socket& s, std::size_t n) {
    Bytes out(n);
    bool done = false;
    asio::async_read(s, asio::buffer(out), [&](boost::system::error_code ec, std::size_t) {
      EXPECT_FALSE(ec) << ec.message();
      done = true;
    });
    EXPECT_TRUE(run_until([&] { return done; }));
    return out;
  }

  // Whether the transport closed the fake's socket (EOF or reset).
  bool peer_closed(tcp::socket& s) {
    std::array<std::uint8_t, 64> scratch{};
    bool done = false;
    boost::system::error_code result;
    s.async_read_some(asio::buffer(scratch), [&](boost::system::error_code ec, std::size_t) {
      result = ec;
      done = true;
    });
    if (!run_until([&] { return done; })) return false;
    return result == asio::error::eof || result == asio::error::connection_reset;
  }

  asio::io_context io_;
  RecordingSink sink_;
  astmrf::ari::channels::ExternalMedia request_;
  std::unique_ptr<MediaTransport> transport_;
};

TEST_F(AudiosocketTransportTest, PrepareFillsTheRequestWithOurListenerAndAUuid) {
  make();
  EXPECT_EQ(request_.encapsulation, "audiosocket");
  EXPECT_EQ(request_.transport, "tcp");
  EXPECT_TRUE(std::regex_match(request_.external_host, std::regex(R"(127\.0\.0\.1:[1-9][0-9]*)")))
      << request_.external_host;
  EXPECT_TRUE(std::regex_match(request_.data,
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << request_.data;
  EXPECT_TRUE(request_.connection_type.empty());
  // Two transports, two UUIDs.
  astmrf::ari::channels::ExternalMedia other;
  TransportContext context;
  context.executor = io_.get_executor();
  context.log = std::make_shared<spdlog::logger>("audiosocket_test");
  context.sink = &sink_;
  auto second = astmrf::mrf::detail::make_audiosocket_transport(std::move(context));
  second->prepare(other);
  EXPECT_NE(other.data, request_.data);
  EXPECT_NE(other.external_host, request_.external_host);
}

TEST_F(AudiosocketTransportTest, PrepareRefusesG711) {
  for (auto format : {AudioFormat::ulaw, AudioFormat::alaw}) {
    TransportContext context;
    context.executor = io_.get_executor();
    context.format = format;
    context.log = std::make_shared<spdlog::logger>("audiosocket_test");
    context.sink = &sink_;
    auto t = astmrf::mrf::detail::make_audiosocket_transport(std::move(context));
    EXPECT_THROW(t->prepare(request_), std::invalid_argument);
  }
}

TEST_F(AudiosocketTransportTest, UuidHandshakeMakesItReadyOnceStarted) {
  make();
  auto s = connect();
  hello(s);
  run_for(50ms);
  EXPECT_EQ(sink_.ready, 0);  // Asterisk identified itself during the POST; ready after start()
  start();
  EXPECT_TRUE(run_until([&] { return sink_.ready == 1; }));
  EXPECT_TRUE(sink_.malformed.empty());
  EXPECT_TRUE(sink_.closed.empty());
}

TEST_F(AudiosocketTransportTest, StartedBeforeTheHandshakeIsReadyAtTheUuid) {
  make();
  start();
  run_for(20ms);
  EXPECT_EQ(sink_.ready, 0);
  auto s = connect();
  hello(s);
  EXPECT_TRUE(run_until([&] { return sink_.ready == 1; }));
}

TEST_F(AudiosocketTransportTest, AnotherUuidIsClosedAndCountedThenOursIsAccepted) {
  make();
  start();
  auto stranger = connect();
  put(stranger, message(0x01, uuid_payload("0badc0de-0000-4000-8000-000000000001")));
  EXPECT_TRUE(run_until([&] { return sink_.malformed.size() == 1; }));
  EXPECT_TRUE(peer_closed(stranger));
  EXPECT_EQ(sink_.ready, 0);
  auto asterisk = connect();
  hello(asterisk);
  EXPECT_TRUE(run_until([&] { return sink_.ready == 1; }));
  EXPECT_EQ(sink_.malformed.size(), 1U);
}

TEST_F(AudiosocketTransportTest, AFirstMessageOtherThanUuidIsRejected) {
  make();
  start();
  auto stranger = connect();
  put(stranger, message(0x12, little_endian(ramp(320))));
  EXPECT_TRUE(run_until([&] { return sink_.malformed.size() == 1; }));
  EXPECT_TRUE(peer_closed(stranger));
  auto asterisk = connect();
  hello(asterisk);
  EXPECT_TRUE(run_until([&] { return sink_.ready == 1; }));
}

TEST_F(AudiosocketTransportTest, ASilentConnectionIsDroppedAfterTwoSeconds) {
  make();
  start();
  auto silent = connect();
  const auto began = std::chrono::steady_clock::now();
  EXPECT_TRUE(run_until([&] { return sink_.malformed.size() == 1; }, 4s));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 1900ms);
  EXPECT_TRUE(peer_closed(silent));
  EXPECT_EQ(sink_.ready, 0);
}

TEST_F(AudiosocketTransportTest, ASilentConnectionDoesNotDelayAsterisk) {
  make();
  start();
  auto silent = connect();
  run_for(20ms);
  auto asterisk = connect();
  hello(asterisk);
  EXPECT_TRUE(run_until([&] { return sink_.ready == 1; }, 500ms));
  EXPECT_TRUE(peer_closed(silent));  // the listener and the strangers go once Asterisk is found
  EXPECT_TRUE(sink_.malformed.empty());
  EXPECT_THROW(connect(), boost::system::system_error);  // nobody listens any more
}

TEST_F(AudiosocketTransportTest, Slin16AudioIsDecodedLittleEndian) {
  make();
  auto s = ready_connection();
  const auto samples = ramp(320, -1120, 7);  // negatives and positives
  put(s, message(0x12, little_endian(samples)));
  put(s, message(0x12, Bytes{0x01, 0x80, 0xff, 0x7f}));
  EXPECT_TRUE(run_until([&] { return sink_.audio.size() == 2; }));
  EXPECT_EQ(sink_.audio[0], samples);
  EXPECT_EQ(sink_.audio[1], (std::vector<std::int16_t>{-32767, 32767}));
  EXPECT_TRUE(sink_.malformed.empty());
}

TEST_F(AudiosocketTransportTest, SlinAudioIsKind0x10) {
  make(AudioFormat::slin);
  auto s = ready_connection();
  put(s, message(0x12, little_endian(ramp(320))));  // slin16 on a slin stream
  put(s, message(0x10, little_endian(ramp(160))));
  EXPECT_TRUE(run_until([&] { return sink_.audio.size() == 1; }));
  EXPECT_EQ(sink_.audio[0], ramp(160));
  ASSERT_EQ(sink_.malformed.size(), 1U);
  transport_->send(ramp(160, 5, 3));
  const auto out = receive(s, 3 + 320);
  EXPECT_EQ(out, message(0x10, little_endian(ramp(160, 5, 3))));
}

TEST_F(AudiosocketTransportTest, SendWritesOneSlin16MessagePerFrame) {
  make();
  auto s = ready_connection();
  const auto frame = ramp(320, -3000, 19);
  transport_->send(frame);
  const auto out = receive(s, 3 + 640);
  EXPECT_EQ(out[0], 0x12);
  EXPECT_EQ(out[1], 0x02);  // 640, big-endian
  EXPECT_EQ(out[2], 0x80);
  EXPECT_EQ(Bytes(out.begin() + 3, out.end()), little_endian(frame));
  EXPECT_EQ(transport_->dropped_out(), 0U);
}

TEST_F(AudiosocketTransportTest, AnUnknownTypeIsSkippedAndReadingGoesOn) {
  make();
  auto s = ready_connection();
  put(s, message(0x05, Bytes{1, 2, 3, 4, 5}));
  put(s, message(0x12, little_endian(ramp(320))));
  EXPECT_TRUE(run_until([&] { return sink_.audio.size() == 1; }));
  EXPECT_EQ(sink_.audio[0], ramp(320));
  ASSERT_EQ(sink_.malformed.size(), 1U);
  EXPECT_NE(sink_.malformed[0].find("0x05"), std::string::npos) << sink_.malformed[0];
  EXPECT_TRUE(sink_.closed.empty());
}

TEST_F(AudiosocketTransportTest, OddOrEmptyAudioIsMalformed) {
  make();
  auto s = ready_connection();
  put(s, message(0x12, Bytes{1, 2, 3}));
  put(s, message(0x12, Bytes{}));
  put(s, message(0x12, little_endian(ramp(320))));
  EXPECT_TRUE(run_until([&] { return sink_.audio.size() == 1; }));
  EXPECT_EQ(sink_.audio[0], ramp(320));
  EXPECT_EQ(sink_.malformed.size(), 2U);
}

TEST_F(AudiosocketTransportTest, DtmfIsOnlyLogged) {
  make();
  auto s = ready_connection();
  put(s, message(0x03, Bytes{'5'}));
  put(s, message(0x12, little_endian(ramp(320))));
  EXPECT_TRUE(run_until([&] { return sink_.audio.size() == 1; }));
  EXPECT_TRUE(sink_.malformed.empty());
  EXPECT_TRUE(sink_.closed.empty());
}

TEST_F(AudiosocketTransportTest, HugeDeclaredLengthsAreSkipped) {
  make();
  auto s = ready_connection();
  const Bytes huge(0xFFFF, 0x55);
  put(s, message(0x12, huge));
  put(s, message(0x05, huge));
  put(s, message(0x12, Bytes(20000, 0)));  // over the 16 KiB cap, even
  put(s, message(0x12, little_endian(ramp(320))));
  EXPECT_TRUE(run_until([&] { return sink_.audio.size() == 1; }));
  EXPECT_EQ(sink_.audio[0], ramp(320));
  EXPECT_EQ(sink_.malformed.size(), 3U);
  EXPECT_TRUE(sink_.closed.empty());
}

TEST_F(AudiosocketTransportTest, HangupClosesOnce) {
  make();
  auto s = ready_connection();
  put(s, message(0x00, Bytes{}));
  put(s, message(0x12, little_endian(ramp(320))));  // after the hangup: not read
  EXPECT_TRUE(run_until([&] { return sink_.closed.size() == 1; }));
  run_for(50ms);
  ASSERT_EQ(sink_.closed.size(), 1U);
  EXPECT_EQ(sink_.closed[0], "hangup");
  EXPECT_TRUE(sink_.audio.empty());
  EXPECT_TRUE(peer_closed(s));
  transport_->send(ramp(320));  // nothing more is sent
  EXPECT_EQ(transport_->dropped_out(), 0U);
}

TEST_F(AudiosocketTransportTest, ErrorMessageClosesOnce) {
  make();
  auto s = ready_connection();
  put(s, message(0xff, Bytes{0x04}));
  EXPECT_TRUE(run_until([&] { return sink_.closed.size() == 1; }));
  run_for(30ms);
  ASSERT_EQ(sink_.closed.size(), 1U);
  EXPECT_NE(sink_.closed[0].find("0x04"), std::string::npos) << sink_.closed[0];
}

TEST_F(AudiosocketTransportTest, PeerEofClosesOnce) {
  make();
  auto s = ready_connection();
  put(s, message(0x12, little_endian(ramp(320))));
  s.close();
  EXPECT_TRUE(run_until([&] { return sink_.closed.size() == 1; }));
  run_for(30ms);
  EXPECT_EQ(sink_.closed.size(), 1U);
  EXPECT_EQ(sink_.audio.size(), 1U);  // what came before the end is delivered
  transport_->close();
  transport_->close();
}

TEST_F(AudiosocketTransportTest, EofInsideAMessageClosesOnce) {
  make();
  auto s = ready_connection();
  put(s, Bytes{0x12, 0x02, 0x80, 1, 2, 3});
  s.close();
  EXPECT_TRUE(run_until([&] { return sink_.closed.size() == 1; }));
  run_for(30ms);
  EXPECT_EQ(sink_.closed.size(), 1U);
  EXPECT_TRUE(sink_.audio.empty());
}

TEST_F(AudiosocketTransportTest, CloseWithReadsPendingCallsNothingMore) {
  make();
  auto s = ready_connection();
  const int calls = sink_.calls;
  transport_->close();
  transport_->close();  // idempotent
  boost::system::error_code ec;
  asio::write(s, asio::buffer(message(0x12, little_endian(ramp(320)))), ec);
  s.close();
  run_for(50ms);
  EXPECT_EQ(sink_.calls, calls);
  transport_->send(ramp(320));
  transport_.reset();
  run_for(20ms);
  EXPECT_EQ(sink_.calls, calls);
}

TEST_F(AudiosocketTransportTest, CloseFromInsideOnAudioStopsTheReading) {
  make();
  auto s = ready_connection();
  sink_.after_audio = [this] { transport_->close(); };
  put(s, message(0x12, little_endian(ramp(320))));
  put(s, message(0x12, little_endian(ramp(320))));
  put(s, message(0x00, Bytes{}));
  EXPECT_TRUE(run_until([&] { return !sink_.audio.empty(); }));
  run_for(50ms);
  EXPECT_EQ(sink_.audio.size(), 1U);
  EXPECT_TRUE(sink_.closed.empty());
}

TEST_F(AudiosocketTransportTest, DestroyedWhileAcceptingAndIdentifying) {
  make();
  auto s = connect();  // accepted, its UUID awaited
  run_for(20ms);
  transport_.reset();
  run_for(50ms);
  EXPECT_EQ(sink_.calls, 0);
  EXPECT_TRUE(peer_closed(s));
}

TEST_F(AudiosocketTransportTest, ACongestedSocketDropsBeyondTenFrames) {
  make();
  auto s = ready_connection();
  // Nothing runs between the sends: one write in flight, the rest queued up to the limit.
  for (int i = 0; i < 15; ++i) transport_->send(ramp(320, i, 1));
  EXPECT_EQ(transport_->dropped_out(), 5U);
  const auto out = receive(s, 10 * 643);
  for (int i = 0; i < 10; ++i) {
    const Bytes frame(out.begin() + i * 643, out.begin() + (i + 1) * 643);
    EXPECT_EQ(frame, message(0x12, little_endian(ramp(320, i, 1)))) << i;
  }
  transport_->send(ramp(320));  // the queue drained: accepted again
  EXPECT_EQ(receive(s, 643), message(0x12, little_endian(ramp(320))));
  EXPECT_EQ(transport_->dropped_out(), 5U);
}

TEST_F(AudiosocketTransportTest, APeerThatNeverReadsCostsBoundedMemory) {
  make();
  auto s = ready_connection();  // never read: the kernel's buffers fill, then our queue
  std::uint64_t sent = 0;
  while (transport_->dropped_out() < 100 && sent < 200000) {
    transport_->send(ramp(320));
    ++sent;
    io_.restart();
    io_.poll();
  }
  EXPECT_GE(transport_->dropped_out(), 100U) << sent << " frames sent";
  EXPECT_TRUE(sink_.closed.empty());
  transport_->close();
  run_for(20ms);
}

TEST_F(AudiosocketTransportTest, FramesBeforeReadyAreDropped) {
  make();
  transport_->send(ramp(320));
  EXPECT_EQ(transport_->dropped_out(), 1U);
}

TEST_F(AudiosocketTransportTest, DirectionInSendsNothing) {
  make(AudioFormat::slin16, StreamDirection::in);
  auto s = ready_connection();
  transport_->send(ramp(320));
  run_for(30ms);
  EXPECT_EQ(s.available(), 0U);
  EXPECT_EQ(transport_->dropped_out(), 0U);
  put(s, message(0x12, little_endian(ramp(320))));
  EXPECT_TRUE(run_until([&] { return sink_.audio.size() == 1; }));
}

TEST_F(AudiosocketTransportTest, DirectionOutReportsNoAudio) {
  make(AudioFormat::slin16, StreamDirection::out);
  auto s = ready_connection();
  put(s, message(0x12, little_endian(ramp(320))));
  put(s, message(0x00, Bytes{}));
  EXPECT_TRUE(run_until([&] { return sink_.closed.size() == 1; }));
  EXPECT_TRUE(sink_.audio.empty());
  EXPECT_TRUE(sink_.malformed.empty());
}

}  // namespace
