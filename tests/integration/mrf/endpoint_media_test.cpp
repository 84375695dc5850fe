// Endpoint media verbs against the real Asterisk (issue 15): record, fetch and delete,
// DTMF both ways, mute, music on hold, silence, channel variables, talk detection, and
// verbs after the call ended. The caller's media end is an astmrf_test::RtpPeer whose
// SDP is the endpoint's offer (MediaServer::async_create_endpoint), so what Asterisk
// sends and records is checked on real RTP. Every test ends with the leak check: no
// channel of the app, no bridge, no live recording, no Endpoint alive.
#include "../engine/engine_harness.hpp"
#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/rtp_peer.hpp"
#include "astmrf_test/sandbox.hpp"
#include "mrf_support.hpp"

#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <future>
#include <stdexcept>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace ari = astmrf::ari;
using astmrf_test::RtpPeer;
using astmrf_test::sandbox_options;

// The error a future holds, by kind (a value means it completed without one).
template <typename T>
std::string error_kind(std::future<T>& future) {
  try {
    future.get();
    return "ok";
  } catch (const mrf::CallEnded&) {
    return "CallEnded";
  } catch (const ari::NotFound&) {
    return "NotFound";
  } catch (const std::invalid_argument&) {
    return "invalid_argument";
  } catch (const boost::system::system_error& e) {
    return e.code() == asio::error::operation_aborted ? "operation_aborted" : std::string("system_error ") + e.what();
  } catch (const std::exception& e) {
    return std::string("error ") + e.what();
  }
}

// A RIFF/WAVE file as far as the checks need it.
struct Wav {
  std::uint16_t format = 0;
  std::uint16_t channels = 0;
  std::uint32_t rate = 0;
  std::uint16_t bits = 0;
  std::vector<std::int16_t> samples;
};

std::uint32_t le32(const std::string& b, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24;
}
std::uint16_t le16(const std::string& b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) | static_cast<unsigned char>(b[at + 1]) << 8);
}

// Walks the chunks of a WAV file; nothing if it is not one.
std::optional<Wav> parse_wav(const std::string& bytes) {
  if (bytes.size() < 12 || bytes.compare(0, 4, "RIFF") != 0 || bytes.compare(8, 4, "WAVE") != 0) return std::nullopt;
  Wav wav;
  bool fmt = false;
  bool data = false;
  std::size_t at = 12;
  while (at + 8 <= bytes.size()) {
    const std::string id = bytes.substr(at, 4);
    const std::uint32_t size = le32(bytes, at + 4);
    const std::size_t body = at + 8;
    if (id == "fmt " && size >= 16 && body + 16 <= bytes.size()) {
      wav.format = le16(bytes, body);
      wav.channels = le16(bytes, body + 2);
      wav.rate = le32(bytes, body + 4);
      wav.bits = le16(bytes, body + 14);
      fmt = true;
    } else if (id == "data") {
      const std::size_t n = std::min<std::size_t>(size, bytes.size() - body) / 2;
      wav.samples.resize(n);
      for (std::size_t i = 0; i < n; ++i) wav.samples[i] = static_cast<std::int16_t>(le16(bytes, body + 2 * i));
      data = true;
    }
    at = body + size + (size % 2);
  }
  if (!fmt || !data) return std::nullopt;
  return wav;
}

// 20 ms frames of `samples` louder than -30 dBm0 (the peer's tone is at -10).
std::size_t loud_frames(const std::vector<std::int16_t>& samples) {
  std::size_t count = 0;
  for (std::size_t at = 0; at + 160 <= samples.size(); at += 160) {
    const std::vector<std::int16_t> frame(samples.begin() + static_cast<std::ptrdiff_t>(at),
                                          samples.begin() + static_cast<std::ptrdiff_t>(at + 160));
    if (astmrf_test::level_dbm0(frame) > -30.0) ++count;
  }
  return count;
}

class EndpointMediaTest : public astmrf_test::MrfFixture {
 protected:
  void SetUp() override {
    server = connect(sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port));
    ASSERT_TRUE(server);
  }
  // The server is let go on the engine's thread, where it lives: as the fixture's member it
  // would be destroyed on the test's thread while the engine's handlers still run.
  ~EndpointMediaTest() override {
    harness.run([&] {
      server.reset();
      return 0;
    });
  }

  // An endpoint whose media goes to `peer`, which sends to Asterisk's answer.
  std::shared_ptr<mrf::Endpoint> make_endpoint(RtpPeer& peer) {
    mrf::EndpointOptions options;
    options.remote_sdp = peer.sdp();
    auto endpoint = harness.run([&] { return server->async_create_endpoint(options, asio::use_future); }).get();
    peer.set_remote_from_sdp(harness.run([&] { return endpoint->local_sdp(); }));
    return endpoint;
  }

  // Runs `start` (which returns a future) on the engine's thread; the future.
  template <typename F>
  auto on_engine(F start) {
    return harness.run(std::move(start));
  }

  // Ends the endpoint, then the leak check: nothing of the app on Asterisk or in the engine,
  // no bridge, none of `recordings` live, and the Endpoint itself freed.
  void finish(std::shared_ptr<mrf::Endpoint>& endpoint, const std::vector<std::string>& recordings = {}) {
    std::weak_ptr<mrf::Endpoint> weak;
    harness.run([&] {
      weak = endpoint;
      if (endpoint) endpoint->destroy();
      endpoint.reset();
      return 0;
    });
    expect_nothing_left(server, probe);
    EXPECT_TRUE(harness.run([&] { return weak.expired(); })) << "an Endpoint is still alive";
    const auto bridges = probe.request("GET", "/ari/bridges");
    EXPECT_EQ(bridges.status, 200u);
    if (bridges.status == 200) {
      EXPECT_TRUE(bridges.json().as_array().empty()) << bridges.body;
    }
    // ARI 22 has no list of live recordings (GET /recordings/live answers 405): ask by name.
    for (const auto& name : recordings) {
      EXPECT_EQ(probe.request("GET", "/ari/recordings/live/" + name).status, 404u) << name << " is live";
    }
  }

  // Deletes a stored recording through the probe (cleanup when a test failed midway).
  void drop_stored(const std::string& name) { probe.request("DELETE", "/ari/recordings/stored/" + name); }

  astmrf_test::AriProbe probe = astmrf_test::AriProbe::for_sandbox();
  std::shared_ptr<mrf::MediaServer> server;
};

// ---------------------------------------------------------------- record

TEST_F(EndpointMediaTest, RecordEndsAtMaxDurationAndTheFetchedWavHoldsTheTone) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  const std::string name = "astmrf-test-" + astmrf_test::random_uuid();
  mrf::RecordOptions options{.name = name, .format = "wav", .max_duration = 3s};
  auto recorded = on_engine([&] { return endpoint->async_record(options, asio::use_future); });
  std::this_thread::sleep_for(300ms);  // the recording is under way
  peer.send_tone(1000.0, -10.0, 2s);   // then silence until max_duration ends it
  peer.send_silence(3s);
  ASSERT_EQ(recorded.wait_for(20s), std::future_status::ready);
  const auto result = recorded.get();
  EXPECT_EQ(result.end, mrf::RecordEnd::finished) << mrf::to_string(result.end);
  EXPECT_EQ(result.name, name);
  EXPECT_EQ(result.format, "wav");
  EXPECT_GE(result.duration, 2s);
  EXPECT_LE(result.duration, 3s);

  auto fetched = on_engine([&] { return endpoint->async_fetch_recording(name, asio::use_future); });
  const std::string bytes = fetched.get();
  const auto wav = parse_wav(bytes);
  ASSERT_TRUE(wav.has_value()) << bytes.size() << " bytes, not a WAV";
  EXPECT_EQ(wav->format, 1u);  // PCM
  EXPECT_EQ(wav->channels, 1u);
  EXPECT_EQ(wav->rate, 8000u);
  EXPECT_EQ(wav->bits, 16u);
  // The tone sent lasted 2 s (100 frames): the file holds it, within 10 %, and it is the
  // peer's 1 kHz tone. The file itself runs about max_duration (measured: up to 0.7 s more,
  // see the report).
  const auto loud = loud_frames(wav->samples);
  EXPECT_GE(loud, 90u) << loud << " frames of tone";
  EXPECT_LE(loud, 110u) << loud << " frames of tone";
  const double seconds = static_cast<double>(wav->samples.size()) / 8000.0;
  EXPECT_GE(seconds, 2.7);
  EXPECT_LE(seconds, 4.5);
  std::printf("max_duration 3 s: %.2f s in the file, %zu frames of tone\n", seconds, loud);
  EXPECT_GT(astmrf_test::tone_share(wav->samples, 1000.0), 0.3) << "not the peer's 1 kHz tone";
  peer.stop_sending();

  auto deleted = on_engine([&] { return endpoint->async_delete_recording(name, asio::use_future); });
  EXPECT_NO_THROW(deleted.get());
  EXPECT_EQ(probe.request("GET", "/ari/recordings/stored/" + name).status, 404u);
  auto again = on_engine([&] { return endpoint->async_fetch_recording(name, asio::use_future); });
  EXPECT_EQ(error_kind(again), "NotFound");
  finish(endpoint, {name});
}

TEST_F(EndpointMediaTest, StopRecordingKeepsWhatWasSent) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  const std::string name = "astmrf-test-" + astmrf_test::random_uuid();
  mrf::RecordOptions options{.name = name};  // no limit: only the stop ends it
  auto recorded = on_engine([&] { return endpoint->async_record(options, asio::use_future); });
  std::this_thread::sleep_for(300ms);  // the recording is under way
  peer.send_silence(400ms);
  peer.send_tone(1000.0, -10.0, 2s);
  peer.send_silence(400ms);
  ASSERT_TRUE(peer.wait_until_sent(10s));
  ASSERT_NE(recorded.wait_for(0s), std::future_status::ready) << "it ended by itself";
  auto stopped = on_engine([&] { return endpoint->async_stop_recording(name, asio::use_future); });
  EXPECT_NO_THROW(stopped.get());
  ASSERT_EQ(recorded.wait_for(10s), std::future_status::ready);
  const auto result = recorded.get();
  EXPECT_EQ(result.end, mrf::RecordEnd::stopped) << mrf::to_string(result.end);

  auto fetched = on_engine([&] { return endpoint->async_fetch_recording(name, asio::use_future); });
  const auto wav = parse_wav(fetched.get());
  ASSERT_TRUE(wav.has_value());
  EXPECT_EQ(wav->rate, 8000u);
  // The tone sent lasted 2 s (100 frames): the recording holds it, within 10 %.
  const auto loud = loud_frames(wav->samples);
  EXPECT_GE(loud, 90u) << loud << " frames of tone";
  EXPECT_LE(loud, 110u) << loud << " frames of tone";
  std::printf("stopped: %.2f s in the file, %zu frames of tone\n", static_cast<double>(wav->samples.size()) / 8000.0,
              loud);
  auto deleted = on_engine([&] { return endpoint->async_delete_recording(name, asio::use_future); });
  EXPECT_NO_THROW(deleted.get());
  finish(endpoint, {name});
}

TEST_F(EndpointMediaTest, HashFromTheCallerEndsTheRecording) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  mrf::RecordOptions options;
  options.max_duration = 20s;
  options.beep = true;
  options.terminate_on = mrf::RecordTerminate::hash;
  auto recorded = on_engine([&] { return endpoint->async_record(options, asio::use_future); });
  std::this_thread::sleep_for(500ms);
  peer.send_tone(1000.0, -10.0, 1s);
  peer.send_digits("#");
  ASSERT_EQ(recorded.wait_for(10s), std::future_status::ready) << "the # did not end it";
  const auto result = recorded.get();
  EXPECT_EQ(result.end, mrf::RecordEnd::finished) << mrf::to_string(result.end);
  EXPECT_FALSE(result.name.empty()) << "a fresh name is picked";
  EXPECT_LE(result.duration, 5s);
  auto deleted = on_engine([&] { return endpoint->async_delete_recording(result.name, asio::use_future); });
  EXPECT_NO_THROW(deleted.get());
  finish(endpoint, {result.name});
}

// Asterisk's refusals pass through typed: an existing name with if_exists=fail is a Conflict
// (not CallEnded), an unknown format an UnprocessableEntity; overwrite replaces it.
TEST_F(EndpointMediaTest, RecordHonoursIfExistsAndRejectsBadFormats) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  const std::string name = "astmrf-test-" + astmrf_test::random_uuid();
  peer.send_tone(1000.0, -10.0, 5s);
  mrf::RecordOptions options{.name = name, .max_duration = 1s};
  auto first = on_engine([&] { return endpoint->async_record(options, asio::use_future); });
  EXPECT_EQ(first.get().end, mrf::RecordEnd::finished);
  auto again = on_engine([&] { return endpoint->async_record(options, asio::use_future); });
  try {
    again.get();
    ADD_FAILURE() << "a second recording of the same name with if_exists=fail";
  } catch (const ari::Conflict&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  options.if_exists = mrf::RecordIfExists::overwrite;
  auto overwrite = on_engine([&] { return endpoint->async_record(options, asio::use_future); });
  EXPECT_EQ(overwrite.get().end, mrf::RecordEnd::finished);
  mrf::RecordOptions bad{.name = name + "-bad", .format = "no-such-format", .max_duration = 1s};
  auto rejected = on_engine([&] { return endpoint->async_record(bad, asio::use_future); });
  try {
    rejected.get();
    ADD_FAILURE() << "an unknown format was accepted";
  } catch (const ari::UnprocessableEntity&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  auto deleted = on_engine([&] { return endpoint->async_delete_recording(name, asio::use_future); });
  EXPECT_NO_THROW(deleted.get());
  peer.stop_sending();
  finish(endpoint, {name, name + "-bad"});
}

TEST_F(EndpointMediaTest, CancellingARecordingStopsItAndKeepsTheFile) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  const std::string name = "astmrf-test-" + astmrf_test::random_uuid();
  asio::cancellation_signal cancel;
  mrf::RecordOptions options{.name = name};
  peer.send_tone(1000.0, -10.0, 2s);
  auto recorded = on_engine(
      [&] { return endpoint->async_record(options, asio::bind_cancellation_slot(cancel.slot(), asio::use_future)); });
  std::this_thread::sleep_for(1s);
  harness.run([&] {
    cancel.emit(asio::cancellation_type::terminal);
    return 0;
  });
  ASSERT_EQ(recorded.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(error_kind(recorded), "operation_aborted");
  // Stopped, not discarded: the file is stored.
  unsigned status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    status = probe.request("GET", "/ari/recordings/stored/" + name).status;
    if (status != 200) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(status, 200u);
  EXPECT_EQ(probe.request("GET", "/ari/recordings/live/" + name).status, 404u);
  drop_stored(name);
  finish(endpoint, {name});
}

TEST_F(EndpointMediaTest, HangUpDuringARecordingEndsItAsCallEnded) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  const std::string name = "astmrf-test-" + astmrf_test::random_uuid();
  mrf::RecordOptions options{.name = name};
  peer.send_tone(1000.0, -10.0, 3s);
  auto recorded = on_engine([&] { return endpoint->async_record(options, asio::use_future); });
  std::this_thread::sleep_for(1500ms);
  const std::string channel = harness.run([&] { return endpoint->channel_id(); });
  EXPECT_EQ(probe.request("DELETE", "/ari/channels/" + channel).status, 204u);
  ASSERT_EQ(recorded.wait_for(10s), std::future_status::ready);
  const auto result = recorded.get();
  EXPECT_EQ(result.end, mrf::RecordEnd::call_ended) << mrf::to_string(result.end) << " " << result.cause;
  std::printf("hangup: duration %llds, cause '%s'\n", static_cast<long long>(result.duration.count()),
              result.cause.c_str());
  // What was recorded is stored, and can be fetched and deleted after the call; stopping
  // it now is Asterisk's 404 about the recording, not CallEnded.
  auto stop = on_engine([&] { return endpoint->async_stop_recording(name, asio::use_future); });
  EXPECT_EQ(error_kind(stop), "NotFound");
  auto fetched = on_engine([&] { return endpoint->async_fetch_recording(name, asio::use_future); });
  EXPECT_TRUE(parse_wav(fetched.get()).has_value());
  auto deleted = on_engine([&] { return endpoint->async_delete_recording(name, asio::use_future); });
  EXPECT_NO_THROW(deleted.get());
  finish(endpoint, {name});
}

// ---------------------------------------------------------------- DTMF

TEST_F(EndpointMediaTest, SendDtmfReachesTheCallerAsRfc4733Events) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  peer.send_silence(200ms);  // Asterisk learns the peer's address
  auto bad = on_engine([&] { return endpoint->async_send_dtmf("12x", asio::use_future); });
  EXPECT_EQ(error_kind(bad), "invalid_argument");
  auto sent = on_engine([&] {
    return endpoint->async_send_dtmf("1234*#AD", mrf::DtmfOptions{.between = 100ms, .duration = 150ms},
                                     asio::use_future);
  });
  EXPECT_NO_THROW(sent.get());
  EXPECT_TRUE(peer.wait_for_digits(8, 15s)) << peer.digit_string();
  EXPECT_EQ(peer.digit_string(), "1234*#AD");
  for (const auto& digit : peer.digits()) EXPECT_GE(digit.duration, 100ms) << digit.digit;
  finish(endpoint);
}

// ---------------------------------------------------------------- mute, moh, silence

// Muted out, the caller hears nothing of the music on hold. Asterisk keeps the RTP stream
// going with silence frames (see the report), so what is measured is audio: PCMU packets
// above -50 dBm0.
TEST_F(EndpointMediaTest, MutedOutTheCallerHearsNoAudio) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  auto moh = on_engine([&] { return endpoint->async_start_moh("", asio::use_future); });
  EXPECT_NO_THROW(moh.get());
  ASSERT_TRUE(peer.wait_for_audio_packets(25, 10s)) << peer.audio_packets_received();

  auto muted = on_engine([&] { return endpoint->async_mute(mrf::MediaDirection::out, asio::use_future); });
  EXPECT_NO_THROW(muted.get());
  std::this_thread::sleep_for(300ms);  // what was in flight
  peer.clear_received();
  std::this_thread::sleep_for(1500ms);
  EXPECT_LE(peer.audio_packets_received(), 2u) << "audio while muted out";
  const auto packets_muted = peer.packets_received();

  auto unmuted = on_engine([&] { return endpoint->async_unmute(mrf::MediaDirection::out, asio::use_future); });
  EXPECT_NO_THROW(unmuted.get());
  EXPECT_TRUE(peer.wait_for_audio_packets(25, 10s)) << peer.audio_packets_received() << " audio packets after unmute";
  auto stop = on_engine([&] { return endpoint->async_stop_moh(asio::use_future); });
  EXPECT_NO_THROW(stop.get());
  std::printf("packets while muted out (1.5 s): %zu\n", packets_muted);
  finish(endpoint);
}

TEST_F(EndpointMediaTest, MusicOnHoldStartsAndStops) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  auto moh = on_engine([&] { return endpoint->async_start_moh("default", asio::use_future); });
  EXPECT_NO_THROW(moh.get());
  EXPECT_TRUE(peer.wait_for_audio_packets(50, 10s)) << peer.audio_packets_received();
  auto stop = on_engine([&] { return endpoint->async_stop_moh(asio::use_future); });
  EXPECT_NO_THROW(stop.get());
  std::this_thread::sleep_for(300ms);
  peer.clear_received();
  std::this_thread::sleep_for(1s);
  EXPECT_LE(peer.audio_packets_received(), 2u) << "music after stop_moh";
  finish(endpoint);
}

TEST_F(EndpointMediaTest, SilenceStartsAndStops) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  std::this_thread::sleep_for(300ms);
  peer.clear_received();
  auto silence = on_engine([&] { return endpoint->async_start_silence(asio::use_future); });
  EXPECT_NO_THROW(silence.get());
  EXPECT_TRUE(peer.wait_for_packets(25, 10s)) << peer.packets_received() << " packets of silence";
  EXPECT_EQ(peer.audio_packets_received(), 0u);
  auto stop = on_engine([&] { return endpoint->async_stop_silence(asio::use_future); });
  EXPECT_NO_THROW(stop.get());
  EXPECT_TRUE(peer.wait_for_quiet(500ms, 5s)) << "still sending after stop_silence";
  finish(endpoint);
}

// ARI hold is Asterisk's hold indication on the channel: chan_pjsip (moh_passthrough off,
// the default) answers it by playing music on hold to the caller, and unhold stops it.
TEST_F(EndpointMediaTest, HoldPlaysMusicToTheCallerUntilUnhold) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  auto hold = on_engine([&] { return endpoint->async_hold(asio::use_future); });
  EXPECT_NO_THROW(hold.get());
  EXPECT_TRUE(peer.wait_for_audio_packets(25, 10s)) << peer.audio_packets_received() << " audio packets on hold";
  auto unhold = on_engine([&] { return endpoint->async_unhold(asio::use_future); });
  EXPECT_NO_THROW(unhold.get());
  std::this_thread::sleep_for(300ms);
  peer.clear_received();
  std::this_thread::sleep_for(1s);
  EXPECT_LE(peer.audio_packets_received(), 2u) << "music after unhold";
  finish(endpoint);
}

// A cancelled verb completes at once with operation_aborted; the endpoint is unharmed.
TEST_F(EndpointMediaTest, CancellingAVerbAbortsIt) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  asio::cancellation_signal cancel;
  auto set = on_engine([&] {
    auto f =
        endpoint->async_set_variable("ASTMRF_A", "1", asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
    cancel.emit(asio::cancellation_type::terminal);  // before Asterisk's answer can come
    return f;
  });
  EXPECT_EQ(error_kind(set), "operation_aborted");
  auto get = on_engine([&] {
    auto f =
        endpoint->async_get_variable("CHANNEL(name)", asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
    cancel.emit(asio::cancellation_type::terminal);
    return f;
  });
  EXPECT_EQ(error_kind(get), "operation_aborted");
  auto again = on_engine([&] { return endpoint->async_get_variable("CHANNEL(name)", asio::use_future); });
  EXPECT_FALSE(again.get().empty());
  finish(endpoint);
}

// ---------------------------------------------------------------- variables, talk detection

TEST_F(EndpointMediaTest, SetAndGetVariables) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  auto set = on_engine([&] { return endpoint->async_set_variable("ASTMRF_COLOR", "blue green", asio::use_future); });
  EXPECT_NO_THROW(set.get());
  auto got = on_engine([&] { return endpoint->async_get_variable("ASTMRF_COLOR", asio::use_future); });
  EXPECT_EQ(got.get(), "blue green");
  // A function reads too; an unset variable is a NotFound, not the end of the call.
  auto name = on_engine([&] { return endpoint->async_get_variable("CHANNEL(name)", asio::use_future); });
  EXPECT_EQ(name.get(), harness.run([&] { return endpoint->channel_name(); }));
  auto unset = on_engine([&] { return endpoint->async_get_variable("ASTMRF_NEVER_SET", asio::use_future); });
  EXPECT_EQ(error_kind(unset), "NotFound");
  auto empty = on_engine([&] { return endpoint->async_get_variable("", asio::use_future); });
  EXPECT_EQ(error_kind(empty), "invalid_argument");
  finish(endpoint);
}

TEST_F(EndpointMediaTest, TalkDetectionReportsToneThenSilence) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  std::vector<mrf::TalkEvent> events;  // engine thread
  auto subscription = harness.run([&] {
    return endpoint->on_talk([&](const mrf::TalkEvent& event) {
      events.push_back(event);
      log.add(event.talking ? "talking" : "quiet");
    });
  });
  auto on = on_engine([&] {
    return endpoint->async_start_talk_detect(
        mrf::TalkDetectOptions{.silence_threshold = 500ms, .talking_threshold = 256}, asio::use_future);
  });
  EXPECT_NO_THROW(on.get());
  auto first = on_engine([&] { return endpoint->async_wait_talk(asio::use_future); });
  peer.send_silence(500ms);
  peer.send_tone(1000.0, -10.0, 1500ms);
  peer.send_silence(2s);
  ASSERT_EQ(first.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(first.get().talking);
  EXPECT_TRUE(log.wait_for("quiet", 10s)) << log.joined();
  harness.run([&] {
    ASSERT_EQ(events.size(), 2u);
    EXPECT_TRUE(events[0].talking);
    EXPECT_FALSE(events[1].talking);
    // Asterisk's duration: the talking time minus the silence threshold (roughly 1.5 s).
    EXPECT_GE(events[1].duration, 500ms);
    EXPECT_LE(events[1].duration, 3s);
  });
  // TALK_DETECT(remove) with an empty value: Asterisk accepts it.
  auto off = on_engine([&] { return endpoint->async_stop_talk_detect(asio::use_future); });
  EXPECT_NO_THROW(off.get());
  peer.send_tone(1000.0, -10.0, 1s);
  ASSERT_TRUE(peer.wait_until_sent(5s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(harness.run([&] { return events.size(); }), 2u) << "talk events after stop_talk_detect";
  finish(endpoint);
  EXPECT_FALSE(harness.run([&] { return subscription.active(); })) << "the handler outlived the endpoint";
  harness.run([&] {
    subscription.reset();
    return 0;
  });
}

// ---------------------------------------------------------------- after the call

TEST_F(EndpointMediaTest, VerbsAfterTheCallEndedFailWithCallEndedAtOnce) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  const std::string channel = harness.run([&] { return endpoint->channel_id(); });
  auto ended = on_engine([&] { return endpoint->async_wait_destroyed(asio::use_future); });
  EXPECT_EQ(probe.request("DELETE", "/ari/channels/" + channel).status, 204u);
  ASSERT_EQ(ended.wait_for(10s), std::future_status::ready);

  auto mute = on_engine([&] { return endpoint->async_mute(mrf::MediaDirection::both, asio::use_future); });
  auto hold = on_engine([&] { return endpoint->async_hold(asio::use_future); });
  auto moh = on_engine([&] { return endpoint->async_start_moh("", asio::use_future); });
  auto silence = on_engine([&] { return endpoint->async_start_silence(asio::use_future); });
  auto set = on_engine([&] { return endpoint->async_set_variable("X", "1", asio::use_future); });
  auto get = on_engine([&] { return endpoint->async_get_variable("X", asio::use_future); });
  auto dtmf = on_engine([&] { return endpoint->async_send_dtmf("1", asio::use_future); });
  auto talk = on_engine([&] { return endpoint->async_start_talk_detect({}, asio::use_future); });
  auto record = on_engine([&] { return endpoint->async_record({}, asio::use_future); });
  // "At once": no request to Asterisk, so well under a second even on a busy machine.
  for (auto* f : {&mute, &hold, &moh, &silence, &set, &dtmf, &talk}) {
    ASSERT_EQ(f->wait_for(1s), std::future_status::ready);
    EXPECT_EQ(error_kind(*f), "CallEnded");
  }
  ASSERT_EQ(get.wait_for(1s), std::future_status::ready);
  EXPECT_EQ(error_kind(get), "CallEnded");
  ASSERT_EQ(record.wait_for(1s), std::future_status::ready);
  EXPECT_EQ(error_kind(record), "CallEnded");
  // Stored recordings still answer: a missing one is Asterisk's 404.
  auto fetch = on_engine([&] { return endpoint->async_fetch_recording("astmrf-no-such-recording", asio::use_future); });
  EXPECT_EQ(error_kind(fetch), "NotFound");
  finish(endpoint);
}

// Asterisk's 404 about a channel that vanished before the endpoint heard of it is CallEnded.
TEST_F(EndpointMediaTest, AChannelGoneUnderAVerbIsCallEndedNotNotFound) {
  RtpPeer peer;
  auto endpoint = make_endpoint(peer);
  const std::string channel = harness.run([&] { return endpoint->channel_id(); });
  // Hang up and issue the verbs from one engine-thread turn: the endpoint cannot have
  // heard of the end, whichever order Asterisk handles the requests in.
  std::future<void> hangup;
  std::future<void> mute;
  std::future<std::string> get;
  harness.run([&] {
    const ari::channels::Hangup params{.channel_id = channel};
    hangup = server->ari().channels().async_hangup(params, asio::use_future);
    mute = endpoint->async_mute(mrf::MediaDirection::in, asio::use_future);
    get = endpoint->async_get_variable("CHANNEL(name)", asio::use_future);
    return 0;
  });
  EXPECT_NO_THROW(hangup.get());
  const auto m = error_kind(mute);
  EXPECT_TRUE(m == "ok" || m == "CallEnded") << m;
  const auto g = error_kind(get);
  EXPECT_TRUE(g == "ok" || g == "CallEnded") << g;
  finish(endpoint);
}

}  // namespace
