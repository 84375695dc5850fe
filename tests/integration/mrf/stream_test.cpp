// Live audio streams (issue 19) against the real Asterisk, for each transport: the caller is an
// endpoint whose media is an RtpPeer (PCMU); the application's side is a MediaStream. Audio in is
// checked by frequency (a tone sequence arrives in order), audio out by what the caller's socket
// receives (nothing missing, 20 ms spacing), barge-in by how soon the caller's audio stops after
// flush(), teardown by the leak check and by our socket being gone.
#include "media_objects_fixture.hpp"

#include <astmrf/mrf/stream.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include <atomic>
#include <cmath>
#include <future>
#include <mutex>
#include <numbers>

namespace {

using namespace std::chrono_literals;
using astmrf::mrf::AudioFormat;
using astmrf::mrf::MediaStream;
using astmrf::mrf::StreamOptions;
using astmrf::mrf::StreamTransport;
using astmrf_test::MediaObjectsFixture;
using astmrf_test::Party;

struct Case {
  StreamTransport transport;
  AudioFormat format;
};

std::string case_name(const testing::TestParamInfo<Case>& info) {
  return std::string(astmrf::mrf::to_string(info.param.transport)) + "_" +
         std::string(astmrf::mrf::to_string(info.param.format));
}

// A sine at `hz`, -10 dBFS, for `duration` at `rate`.
std::vector<std::int16_t> tone(double hz, std::chrono::milliseconds duration, unsigned rate) {
  const auto n = static_cast<std::size_t>(rate) * static_cast<std::size_t>(duration.count()) / 1000;
  std::vector<std::int16_t> out(n);
  const double amplitude = 32767.0 * std::pow(10.0, -10.0 / 20.0) * std::numbers::sqrt2;
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<std::int16_t>(amplitude * std::sin(2 * std::numbers::pi * hz * double(i) / rate) * 0.7);
  }
  return out;
}

// Reads frames on the engine's thread until stopped; the test thread looks at them. Its state is
// shared with the read in flight, which may complete (StreamClosed) after the test is over.
class Collector {
 public:
  explicit Collector(const std::shared_ptr<MediaStream>& stream) : inner_(std::make_shared<Inner>()) {
    inner_->stream = stream;
  }
  void start() { next(inner_); }
  void stop() { inner_->stopped = true; }
  std::vector<astmrf::mrf::AudioFrame> frames() const {
    std::lock_guard lock(inner_->mutex);
    return inner_->frames;
  }

 private:
  struct Inner {
    std::weak_ptr<MediaStream> stream;
    std::mutex mutex;
    std::vector<astmrf::mrf::AudioFrame> frames;
    std::atomic<bool> stopped{false};
  };
  static void next(const std::shared_ptr<Inner>& inner) {
    auto stream = inner->stream.lock();
    if (!stream) return;
    stream->async_read([inner](std::exception_ptr e, astmrf::mrf::AudioFrame frame) {
      if (e) return;
      {
        std::lock_guard lock(inner->mutex);
        inner->frames.push_back(std::move(frame));
      }
      if (!inner->stopped) next(inner);
    });
  }
  std::shared_ptr<Inner> inner_;
};

// Channels on Asterisk made by externalMedia (whatever their app).
std::size_t externalmedia_channels(const astmrf_test::AriProbe& probe) {
  auto result = probe.request("GET", "/ari/channels");
  if (result.status != 200) return 0;
  std::size_t count = 0;
  const auto channels = result.json();
  for (const auto& channel : channels.as_array()) {
    const std::string name(channel.at("name").as_string());
    if (name.rfind("UnicastRTP/", 0) == 0 || name.rfind("WebSocket/", 0) == 0 || name.rfind("AudioSocket/", 0) == 0)
      ++count;
  }
  return count;
}

// After a cancelled open the creating request may still be on its way: Asterisk makes the
// channel after the open completed, and the stream hangs it up when the answer comes. So
// "none left" is a count of 0 that holds for 300 ms, not the first 0 seen (bounded: 5 s).
std::size_t externalmedia_channels_settled(const astmrf_test::AriProbe& probe) {
  int zeros = 0;
  for (int i = 0; i < 250 && zeros < 15; ++i) {
    zeros = externalmedia_channels(probe) == 0 ? zeros + 1 : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return externalmedia_channels(probe);
}

class StreamTest : public MediaObjectsFixture, public testing::WithParamInterface<Case> {
 protected:
  // A failure shows what the library said about streams and bridges.
  void TearDown() override {
    if (!HasFailure()) return;
    for (const auto& line : mrf_log.lines()) {
      if (line.find("stream") != std::string::npos || line.find("bridge") != std::string::npos)
        std::cerr << "  log: " << line << "\n";
    }
  }

  StreamOptions options() const {
    StreamOptions o;
    o.transport = GetParam().transport;
    o.format = GetParam().format;
    return o;
  }

  std::shared_ptr<MediaStream> open(Party& party, StreamOptions o) {
    return on_engine([&] { return party.endpoint->async_open_stream(o, boost::asio::use_future); }).get();
  }

  std::size_t media_channels() { return externalmedia_channels(probe); }

  // Our side of the media is closed: the RTP port can be bound again, the AudioSocket listener
  // refuses connections (websocket: our connection is to Asterisk, checked by its channel).
  static bool local_side_closed(StreamTransport transport, const std::string& local) {
    if (local.empty()) return true;
    const auto colon = local.rfind(':');
    const auto port = static_cast<std::uint16_t>(std::stoi(local.substr(colon + 1)));
    boost::asio::io_context io;
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(local.substr(0, colon));
    if (transport == StreamTransport::rtp) {
      boost::asio::ip::udp::socket s(io, boost::asio::ip::udp::v4());
      s.bind({address, port}, ec);
      return !ec;
    }
    boost::asio::ip::tcp::socket s(io);
    s.connect({address, port}, ec);
    return static_cast<bool>(ec);
  }

  void expect_stream_gone(const std::string& local) {
    for (int i = 0; i < 100 && media_channels() != 0; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(media_channels(), 0u) << "an externalMedia channel is left on Asterisk";
    EXPECT_TRUE(local_side_closed(GetParam().transport, local)) << "our side of the media is still open: " << local;
  }
};

// The caller says four tones in a row; the application hears them, in order.
TEST_P(StreamTest, CallersAudioArrivesInOrder) {
  auto& caller = add_party();
  auto stream = open(caller, options());
  ASSERT_TRUE(stream);
  const unsigned rate = stream->sample_rate();
  Collector collector(stream);
  on_engine([&] {
    collector.start();
    return 0;
  });
  const std::array<double, 4> tones{500.0, 900.0, 1300.0, 1700.0};
  caller.peer->send_silence(200ms);
  for (double hz : tones) caller.peer->send_tone(hz, -10.0, 400ms);
  caller.peer->send_silence(200ms);
  ASSERT_TRUE(caller.peer->wait_until_sent(5s));
  std::this_thread::sleep_for(200ms);
  on_engine([&] {
    collector.stop();
    return 0;
  });
  const auto frames = collector.frames();
  ASSERT_GT(frames.size(), 50u);
  // The tone of each frame (0: none), runs collapsed.
  std::vector<double> heard;
  std::size_t run = 0;
  for (const auto& frame : frames) {
    EXPECT_EQ(frame.samples.size(), stream->frame_samples());
    double found = 0;
    for (double hz : tones) {
      if (astmrf::mrf::audio::tone_share(frame.samples, rate, hz) > 0.6) found = hz;
    }
    if (found == 0) continue;
    if (!heard.empty() && heard.back() == found) {
      ++run;
      continue;
    }
    if (!heard.empty()) {
      EXPECT_GE(run, 10u) << "tone " << heard.back() << " lasted only " << run << " frames";
    }
    heard.push_back(found);
    run = 1;
  }
  EXPECT_EQ(heard, std::vector<double>(tones.begin(), tones.end()));
  // Numbered without gaps on loopback.
  for (std::size_t i = 1; i < frames.size(); ++i) EXPECT_EQ(frames[i].sequence, frames[i - 1].sequence + 1);
  const auto stats = on_engine([&] { return stream->stats(); });
  EXPECT_EQ(stats.lost, 0u);
  EXPECT_EQ(stats.malformed, 0u);
  const auto local = stream->local_endpoint();
  finish(stream);
  expect_stream_gone(local);
}

// The application writes 2 s of a tone at once; the caller receives it paced, nothing missing.
TEST_P(StreamTest, ApplicationsAudioIsPacedToTheCaller) {
  auto& caller = add_party();
  auto stream = open(caller, options());
  ASSERT_TRUE(stream);
  caller.peer->send_silence(3s);  // a phone keeps sending
  std::this_thread::sleep_for(300ms);
  caller.peer->clear_received();
  const auto samples = tone(1000.0, 2000ms, stream->sample_rate());
  auto done = on_engine([&] { return stream->async_write(samples, boost::asio::use_future); });
  EXPECT_EQ(done.get(), astmrf::mrf::WriteOutcome::played);
  std::this_thread::sleep_for(300ms);
  const auto times = caller.peer->audio_packet_times();
  auto heard = caller.peer->received_samples();
  EXPECT_GT(astmrf_test::tone_share(heard, 1000.0), 0.5)
      << caller.peer->packets_received() << " packets, level " << astmrf_test::level_dbm0(heard) << " dBm0";
  // ≤ 1 % of the 100 frames missing.
  EXPECT_GE(times.size(), 99u);
  EXPECT_LE(times.size(), 102u);
  std::size_t paced = 0;
  double max_gap = 0;
  for (std::size_t i = 1; i < times.size(); ++i) {
    const double gap = std::chrono::duration<double, std::milli>(times[i] - times[i - 1]).count();
    if (gap >= 15.0 && gap <= 25.0) ++paced;
    max_gap = std::max(max_gap, gap);
  }
  ASSERT_GT(times.size(), 1u);
  const double share = double(paced) / double(times.size() - 1);
  EXPECT_GE(share, 0.95) << "frames 20 ± 5 ms apart: " << share * 100 << " %, largest gap " << max_gap << " ms";
  const auto span = std::chrono::duration<double, std::milli>(times.back() - times.front()).count();
  EXPECT_NEAR(span / double(times.size() - 1), 20.0, 1.0) << "mean spacing";
  const auto stats = on_engine([&] { return stream->stats(); });
  EXPECT_EQ(stats.underruns, 0u);
  EXPECT_EQ(stats.queued_out_samples, 0u);
  const auto local = stream->local_endpoint();
  finish(stream);
  expect_stream_gone(local);
}

// flush() during a long prompt: the caller's audio stops within 60 ms.
TEST_P(StreamTest, FlushStopsTheCallersAudioAtOnce) {
  auto& caller = add_party();
  auto stream = open(caller, options());
  ASSERT_TRUE(stream);
  caller.peer->send_silence(4s);
  caller.peer->clear_received();
  const auto samples = tone(800.0, 10s, stream->sample_rate());
  auto outcome = on_engine([&] { return stream->async_write(samples, boost::asio::use_future); });
  ASSERT_TRUE(caller.peer->wait_for_audio_packets(50, 3s));
  const auto flushed_at = std::chrono::steady_clock::now();
  on_engine([&] {
    stream->flush();
    return 0;
  });
  EXPECT_EQ(outcome.get(), astmrf::mrf::WriteOutcome::flushed);
  std::this_thread::sleep_for(500ms);
  const auto last = caller.peer->last_audio_packet_time();
  ASSERT_TRUE(last);
  const auto after = std::chrono::duration<double, std::milli>(*last - flushed_at).count();
  EXPECT_LE(after, 60.0) << "the caller still heard the prompt " << after << " ms after flush()";
  const auto local = stream->local_endpoint();
  finish(stream);
  expect_stream_gone(local);
}

// The caller hangs up during a stream: the stream ends (call_ended), nothing is left.
TEST_P(StreamTest, HangUpDuringAStreamLeavesNothing) {
  auto& caller = add_party();
  auto stream = open(caller, options());
  ASSERT_TRUE(stream);
  const auto local = stream->local_endpoint();
  on_engine([&] {
    stream->write(tone(600.0, 5s, stream->sample_rate()));
    return 0;
  });
  std::this_thread::sleep_for(300ms);
  on_engine([&] {
    caller.endpoint->destroy();
    return 0;
  });
  std::optional<astmrf::mrf::StreamEnd> reason;
  for (int i = 0; i < 100 && !reason; ++i) {
    reason = on_engine([&] { return stream->end_reason(); });
    if (!reason) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(reason, astmrf::mrf::StreamEnd::call_ended);
  // Reads after the end get what had arrived, then say so.
  bool closed = false;
  for (int i = 0; i < 200 && !closed; ++i) {
    auto read = on_engine([&] { return stream->async_read(boost::asio::use_future); });
    try {
      read.get();
    } catch (const astmrf::mrf::StreamClosed& e) {
      closed = true;
      EXPECT_EQ(e.reason(), astmrf::mrf::StreamEnd::call_ended);
    }
  }
  EXPECT_TRUE(closed);
  finish(stream);
  expect_stream_gone(local);
}

// The stream closed first: its channel and bridge go, the call stays up.
TEST_P(StreamTest, ClosingTheStreamKeepsTheCall) {
  auto& caller = add_party();
  auto stream = open(caller, options());
  ASSERT_TRUE(stream);
  const auto local = stream->local_endpoint();
  on_engine([&] {
    stream->close();
    return 0;
  });
  for (int i = 0; i < 100 && (media_channels() != 0 || on_engine([&] { return server->bridges(); }) != 0); ++i)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(media_channels(), 0u);
  EXPECT_EQ(on_engine([&] { return server->bridges(); }), 0u);
  EXPECT_FALSE(on_engine([&] { return caller.endpoint->destroyed(); }));
  // The endpoint can stream again.
  auto again = open(caller, options());
  ASSERT_TRUE(again);
  EXPECT_FALSE(on_engine([&] { return again->closed(); }));
  const auto local2 = again->local_endpoint();
  finish(stream, again);
  expect_stream_gone(local);
  expect_stream_gone(local2);
}

// The application drops every handle (stream and endpoint): nothing is left.
TEST_P(StreamTest, DroppingEveryHandleLeavesNothing) {
  auto& caller = add_party();
  auto stream = open(caller, options());
  ASSERT_TRUE(stream);
  const auto local = stream->local_endpoint();
  std::weak_ptr<MediaStream> weak = stream;
  on_engine([&] {
    stream->write(tone(700.0, 2s, stream->sample_rate()));
    stream.reset();
    caller.endpoint.reset();
    return 0;
  });
  EXPECT_TRUE(weak.expired());
  finish();
  expect_stream_gone(local);
}

INSTANTIATE_TEST_SUITE_P(Transports, StreamTest,
                         testing::Values(Case{StreamTransport::rtp, AudioFormat::ulaw},
                                         Case{StreamTransport::rtp, AudioFormat::alaw},
                                         Case{StreamTransport::websocket, AudioFormat::slin16},
                                         Case{StreamTransport::websocket, AudioFormat::alaw},
                                         Case{StreamTransport::audiosocket, AudioFormat::slin16},
                                         Case{StreamTransport::audiosocket, AudioFormat::slin}),
                         case_name);

// Options a transport cannot carry are refused before anything is made on Asterisk.
class StreamOptionsTest : public MediaObjectsFixture {
 protected:
  std::size_t media_channels() { return externalmedia_channels(probe); }
};

TEST_F(StreamOptionsTest, UnsupportedCombinationsAreRefused) {
  auto& caller = add_party();
  for (auto [transport, format] :
       {std::pair{StreamTransport::rtp, AudioFormat::slin}, std::pair{StreamTransport::rtp, AudioFormat::slin16},
        std::pair{StreamTransport::audiosocket, AudioFormat::ulaw}}) {
    StreamOptions o;
    o.transport = transport;
    o.format = format;  // slin16 over rtp: only direction in (tested below)
    auto f = on_engine([&] { return caller.endpoint->async_open_stream(o, boost::asio::use_future); });
    EXPECT_THROW(f.get(), std::invalid_argument);
  }
  EXPECT_EQ(on_engine([&] { return server->bridges(); }), 0u);
  finish();
}

// Cancelling the open, at each moment of it (at once, while Asterisk creates the channel, while the
// media connects), completes it with operation_aborted and leaves nothing behind.
TEST_F(StreamOptionsTest, CancellingTheOpenLeavesNothing) {
  auto& caller = add_party();
  for (auto delay : {0ms, 2ms, 10ms, 30ms}) {
    for (auto transport : {StreamTransport::rtp, StreamTransport::websocket, StreamTransport::audiosocket}) {
      StreamOptions o;
      o.transport = transport;
      o.format = transport == StreamTransport::rtp ? AudioFormat::ulaw : AudioFormat::slin16;
      auto cancel = std::make_shared<boost::asio::cancellation_signal>();
      auto result = std::make_shared<std::promise<std::exception_ptr>>();
      on_engine([&] {
        caller.endpoint->async_open_stream(
            o, boost::asio::bind_cancellation_slot(cancel->slot(),
                                                   [result](std::exception_ptr e, std::shared_ptr<MediaStream> s) {
                                                     s.reset();  // a stream that made it: dropped
                                                     result->set_value(e);
                                                   }));
        return 0;
      });
      std::this_thread::sleep_for(delay);
      on_engine([&] {
        cancel->emit(boost::asio::cancellation_type::terminal);
        return 0;
      });
      auto error = result->get_future().get();
      if (error) {
        std::string what;
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        }
        EXPECT_TRUE(astmrf::detail::is_operation_aborted(error))
            << astmrf::mrf::to_string(transport) << " after " << delay.count() << " ms: " << what;
      }
      EXPECT_EQ(externalmedia_channels_settled(probe), 0u)
          << astmrf::mrf::to_string(transport) << " after " << delay.count() << " ms";
      // A bridge being made when the cancel came is taken down when Asterisk answers: the endpoint
      // is free for the next stream once it is gone.
      for (int i = 0; i < 100 && on_engine([&] { return caller.endpoint->bridge() != nullptr; }); ++i)
        std::this_thread::sleep_for(20ms);
    }
  }
  EXPECT_FALSE(on_engine([&] { return caller.endpoint->destroyed(); }));
  finish();
}

// The caller's DTMF reaches MediaStream::on_dtmf while its audio is streamed (the stream's bridge
// keeps DTMF events), for each transport.
TEST_F(StreamOptionsTest, CallersDigitsReachTheStream) {
  auto& caller = add_party();
  for (auto transport : {StreamTransport::rtp, StreamTransport::websocket, StreamTransport::audiosocket}) {
    StreamOptions o;
    o.transport = transport;
    o.format = transport == StreamTransport::rtp ? AudioFormat::ulaw : AudioFormat::slin16;
    auto stream = on_engine([&] { return caller.endpoint->async_open_stream(o, boost::asio::use_future); }).get();
    ASSERT_TRUE(stream);
    auto digits = std::make_shared<std::string>();
    auto subscription = on_engine([&] {
      return stream->on_dtmf([digits](const astmrf::mrf::DtmfEvent& event) { digits->push_back(event.digit); });
    });
    caller.peer->send_digits("12#");
    ASSERT_TRUE(caller.peer->wait_until_sent(5s));
    std::string got;
    for (int i = 0; i < 100 && got.size() < 3; ++i) {
      std::this_thread::sleep_for(20ms);
      got = on_engine([&] { return *digits; });
    }
    EXPECT_EQ(got, "12#") << astmrf::mrf::to_string(transport);
    on_engine([&] {
      subscription.reset();
      stream.reset();
      return 0;
    });
    for (int i = 0; i < 100 && on_engine([&] { return caller.endpoint->bridge() != nullptr; }); ++i)
      std::this_thread::sleep_for(20ms);
  }
  finish();
}

// Garbage at our RTP socket is counted and dropped; the caller's audio keeps arriving (slin16 over
// rtp, which Asterisk sends but would not take back: direction in).
TEST_F(StreamOptionsTest, MalformedRtpIsCountedAndTheStreamGoesOn) {
  auto& caller = add_party();
  StreamOptions o;
  o.transport = StreamTransport::rtp;
  o.format = AudioFormat::slin16;
  o.direction = astmrf::mrf::StreamDirection::in;
  auto stream = on_engine([&] { return caller.endpoint->async_open_stream(o, boost::asio::use_future); }).get();
  ASSERT_TRUE(stream);
  const auto local = stream->local_endpoint();
  const auto colon = local.rfind(':');
  boost::asio::io_context io;
  boost::asio::ip::udp::socket sock(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const boost::asio::ip::udp::endpoint to(boost::asio::ip::make_address(local.substr(0, colon)),
                                          static_cast<std::uint16_t>(std::stoi(local.substr(colon + 1))));
  std::vector<std::uint8_t> garbage{1, 2, 3};
  sock.send_to(boost::asio::buffer(garbage), to);
  std::vector<std::uint8_t> bad_version(172, 0);
  sock.send_to(boost::asio::buffer(bad_version), to);
  std::vector<std::uint8_t> stray(12 + 640, 0);
  stray[0] = 0x80;
  stray[1] = 118;
  sock.send_to(boost::asio::buffer(stray), to);  // well formed, but not from Asterisk
  Collector collector(stream);
  on_engine([&] {
    collector.start();
    return 0;
  });
  caller.peer->send_tone(1000.0, -10.0, 600ms);
  caller.peer->wait_until_sent(3s);
  std::this_thread::sleep_for(200ms);
  on_engine([&] {
    collector.stop();
    return 0;
  });
  const auto stats = on_engine([&] { return stream->stats(); });
  EXPECT_GE(stats.malformed, 3u);
  std::size_t toned = 0;
  for (const auto& frame : collector.frames())
    toned += astmrf::mrf::audio::tone_share(frame.samples, 16000, 1000.0) > 0.6 ? 1 : 0;
  EXPECT_GE(toned, 20u) << "the caller's audio stopped arriving";
  finish(stream);
}

}  // namespace
