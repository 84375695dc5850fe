// The playback verbs of mrf::Endpoint against the real Asterisk sandbox (issue 15): an
// endpoint made with create_endpoint whose offer points at an astmrf_test::RtpPeer, so the
// peer hears the prompts and sends RFC 4733 digits. After every test: no handler left on
// the endpoint, no channel, bridge or live recording on Asterisk, no playback left.
#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/rtp_peer.hpp"
#include "astmrf_test/sandbox.hpp"
#include "mrf_support.hpp"

#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <future>
#include <stdexcept>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
using astmrf_test::RtpPeer;
using astmrf_test::sandbox_options;

// A bounded wait for a verb's future (the verbs themselves have no timeout).
template <typename T>
T await(std::future<T> future, std::chrono::seconds timeout = 30s) {
  if (future.wait_for(timeout) != std::future_status::ready) throw std::runtime_error("the verb did not complete");
  return future.get();
}

template <typename Error, typename T>
bool fails_with(std::future<T> future) {
  try {
    await(std::move(future), 10s);
  } catch (const Error&) {
    return true;
  } catch (...) {
    return false;
  }
  return false;
}

bool aborted(std::future<mrf::PlayResult> future) {
  try {
    await(std::move(future), 10s);
  } catch (const boost::system::system_error& e) {
    return e.code() == asio::error::operation_aborted;
  } catch (...) {
  }
  return false;
}

class EndpointPlayTest : public astmrf_test::MrfFixture {
 protected:
  void SetUp() override {
    server = connect(sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port));
    ASSERT_TRUE(server);
    const auto offer = peer.sdp();
    endpoint = harness
                   .run([&] {
                     mrf::EndpointOptions options;
                     options.remote_sdp = offer;
                     return server->async_create_endpoint(options, asio::use_future);
                   })
                   .get();
    ASSERT_TRUE(endpoint);
    peer.set_remote_from_sdp(endpoint->local_sdp());
    events = harness.run([&] {
      return endpoint->on_playback([this](const mrf::PlaybackEvent& e) {
        log.add(std::string(e.finished ? "finished " : "started ") + e.playback_id + " " + e.state);
        log.add(e.finished ? "finished" : "started");
      });
    });
  }

  void TearDown() override {
    if (!endpoint) return;
    harness.run([&] {
      events.reset();
      return 0;
    });
    // The verbs' own handlers are gone (some finish their cleanup after completing).
    std::size_t handlers = 1;
    for (int i = 0; i < 250 && handlers != 0; ++i) {
      handlers = harness.run([&] { return endpoint->event_handlers(); });
      if (handlers != 0) std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(handlers, 0u) << "handlers left on the endpoint";
    for (const auto& id : playbacks) {
      bool gone = false;
      for (int i = 0; i < 250 && !gone; ++i) {
        gone = probe.request("GET", "/ari/playbacks/" + id).status == 404;
        if (!gone) std::this_thread::sleep_for(20ms);
      }
      EXPECT_TRUE(gone) << "playback " << id << " left";
    }
    harness.run([&] {
      endpoint->destroy();
      endpoint.reset();
      return 0;
    });
    expect_nothing_left(server, probe);
    auto bridges = probe.request("GET", "/ari/bridges");
    EXPECT_EQ(bridges.status, 200u);
    EXPECT_TRUE(bridges.json().as_array().empty()) << bridges.body;
    // ARI 22 has no list of live recordings: the stored ones of the test's would show there.
    auto stored = probe.request("GET", "/ari/recordings/stored");
    EXPECT_EQ(stored.status, 200u);
  }
  // The server is let go on the engine's thread, where it lives: as the fixture's member it
  // would be destroyed on the test's thread while the engine's handlers still run.
  ~EndpointPlayTest() override {
    harness.run([&] {
      endpoint.reset();
      server.reset();
      return 0;
    });
  }

  template <typename F>
  auto on_loop(F&& f) {
    return harness.run(std::forward<F>(f));
  }

  std::future<mrf::PlayResult> play(std::vector<std::string> uris, mrf::PlayOptions options = {}) {
    return on_loop([&] { return endpoint->async_play(uris, options, asio::use_future); });
  }

  std::future<mrf::CollectResult> collect(std::vector<std::string> prompts, mrf::CollectOptions options) {
    return on_loop([&] { return endpoint->async_play_and_collect(prompts, options, asio::use_future); });
  }

  std::string fresh_id() {
    auto id = on_loop([&] { return endpoint->make_playback_id(); });
    playbacks.push_back(id);
    return id;
  }

  RtpPeer peer;
  astmrf_test::AriProbe probe = astmrf_test::AriProbe::for_sandbox();
  std::shared_ptr<mrf::MediaServer> server;
  std::shared_ptr<mrf::Endpoint> endpoint;
  mrf::Subscription events;
  std::vector<std::string> playbacks;  // checked gone at the end
};

TEST_F(EndpointPlayTest, PlayFinishesAndTheCallerHearsThePrompt) {
  mrf::PlayOptions options;
  options.playback_id = fresh_id();
  auto result = await(play({"sound:tt-monkeysintro"}, options));
  EXPECT_EQ(result.end, mrf::PlayEnd::finished);
  EXPECT_EQ(result.playback_id, options.playback_id);
  EXPECT_FALSE(result.digit);
  EXPECT_TRUE(log.wait_for("started " + options.playback_id + " playing")) << log.joined();
  EXPECT_TRUE(log.wait_for("finished " + options.playback_id + " done")) << log.joined();
  // 2.7 s of speech: well over 50 packets with audio in them.
  EXPECT_GE(peer.audio_packets_received(), 50u);
}

TEST_F(EndpointPlayTest, PlaybackPauseResumeSkipAndStop) {
  mrf::PlayOptions options;
  options.playback_id = fresh_id();
  options.skip = 1000ms;
  auto result = play({"sound:tt-monkeys"}, options);
  ASSERT_TRUE(log.wait_for("started")) << log.joined();
  auto handle = on_loop([&] { return endpoint->playback(options.playback_id); });
  EXPECT_EQ(handle.id(), options.playback_id);
  EXPECT_NO_THROW(await(on_loop([&] { return handle.async_pause(asio::use_future); })));
  EXPECT_NO_THROW(await(on_loop([&] { return handle.async_resume(asio::use_future); })));
  EXPECT_NO_THROW(await(on_loop([&] { return handle.async_forward(asio::use_future); })));
  EXPECT_NO_THROW(await(on_loop([&] { return handle.async_reverse(asio::use_future); })));
  EXPECT_NO_THROW(await(on_loop([&] { return handle.async_restart(asio::use_future); })));
  EXPECT_NO_THROW(await(on_loop([&] { return handle.async_stop(asio::use_future); })));
  auto end = await(std::move(result));
  EXPECT_EQ(end.end, mrf::PlayEnd::stopped);
  // Gone on Asterisk: a control on it is a 404 (the call is up: not CallEnded).
  EXPECT_TRUE(fails_with<astmrf::ari::NotFound>(on_loop([&] { return handle.async_pause(asio::use_future); })));
}

TEST_F(EndpointPlayTest, StopOnDtmfReportsTheDigit) {
  mrf::PlayOptions options;
  options.playback_id = fresh_id();
  options.stop_on_dtmf = true;
  auto result = play({"sound:tt-monkeys"}, options);
  ASSERT_TRUE(log.wait_for("started")) << log.joined();
  peer.send_digits("5");
  auto end = await(std::move(result), 10s);  // tt-monkeys lasts 16 s
  EXPECT_EQ(end.end, mrf::PlayEnd::stopped);
  ASSERT_TRUE(end.digit);
  EXPECT_EQ(*end.digit, '5');
  EXPECT_TRUE(log.wait_for("finished " + options.playback_id + " done")) << log.joined();
}

TEST_F(EndpointPlayTest, UnknownSoundFails) {
  mrf::PlayOptions options;
  options.playback_id = fresh_id();
  auto end = await(play({"sound:no-such-sound-astmrf"}, options));
  EXPECT_EQ(end.end, mrf::PlayEnd::failed);
  // Asterisk accepts the request, then reports the playback "failed".
  EXPECT_TRUE(log.wait_for("finished " + options.playback_id + " failed")) << log.joined();
}

TEST_F(EndpointPlayTest, CancellingPlayStopsThePlayback) {
  mrf::PlayOptions options;
  options.playback_id = fresh_id();
  asio::cancellation_signal cancel;
  auto result = on_loop([&] {
    return endpoint->async_play(std::vector<std::string>{"sound:tt-monkeys"}, options,
                                asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
  });
  ASSERT_TRUE(log.wait_for("started")) << log.joined();
  on_loop([&] {
    cancel.emit(asio::cancellation_type::terminal);
    return 0;
  });
  EXPECT_TRUE(aborted(std::move(result)));
  EXPECT_TRUE(log.wait_for("finished " + options.playback_id + " done")) << log.joined();  // stopped on Asterisk
}

TEST_F(EndpointPlayTest, HangupDuringPlayEndsItAsCallEnded) {
  auto result = play({"sound:tt-monkeys"});
  ASSERT_TRUE(log.wait_for("started")) << log.joined();
  EXPECT_EQ(probe.request("DELETE", "/ari/channels/" + endpoint->channel_id()).status, 204u);
  EXPECT_EQ(await(std::move(result), 10s).end, mrf::PlayEnd::call_ended);
}

TEST_F(EndpointPlayTest, CollectEndsOnTheTerminator) {
  mrf::CollectOptions options;
  options.max_digits = 4;
  auto result = collect({"sound:beep"}, options);
  ASSERT_TRUE(log.wait_for("finished")) << log.joined();
  peer.send_digits("12#");
  auto input = await(std::move(result));
  EXPECT_EQ(input.digits, "12");
  EXPECT_EQ(input.end, mrf::CollectEnd::terminator);
  EXPECT_TRUE(input.valid);
  EXPECT_EQ(input.tries, 1);
}

TEST_F(EndpointPlayTest, CollectEndsAtMaxDigits) {
  mrf::CollectOptions options;
  options.max_digits = 3;
  auto result = collect({}, options);
  peer.send_digits("123");
  auto input = await(std::move(result));
  EXPECT_EQ(input.digits, "123");
  EXPECT_EQ(input.end, mrf::CollectEnd::max_digits);
  EXPECT_TRUE(input.valid);
}

TEST_F(EndpointPlayTest, CollectTimesOut) {
  mrf::CollectOptions options;
  options.first_digit_timeout = 1s;
  auto input = await(collect({"sound:beep"}, options));
  EXPECT_EQ(input.digits, "");
  EXPECT_EQ(input.end, mrf::CollectEnd::timeout);
  EXPECT_FALSE(input.valid);
  EXPECT_EQ(input.tries, 1);
}

TEST_F(EndpointPlayTest, BargeInStopsThePromptAndKeepsTheDigit) {
  mrf::CollectOptions options;
  options.max_digits = 2;
  options.inter_digit_timeout = 2s;
  auto result = collect({"sound:tt-monkeys"}, options);
  ASSERT_TRUE(log.wait_for("started")) << log.joined();
  peer.send_digits("4");
  ASSERT_TRUE(log.wait_for("finished", 10s)) << log.joined();  // stopped long before its 16 s
  auto input = await(std::move(result), 10s);
  EXPECT_EQ(input.digits, "4");
  EXPECT_EQ(input.end, mrf::CollectEnd::timeout);  // the inter-digit timeout after "4"
  EXPECT_TRUE(input.valid);
}

TEST_F(EndpointPlayTest, WithoutBargeInThePromptPlaysOutAndItsDigitsAreDropped) {
  mrf::CollectOptions options;
  options.max_digits = 1;
  options.barge_in = false;
  auto result = collect({"sound:tt-monkeysintro"}, options);
  ASSERT_TRUE(log.wait_for("started")) << log.joined();
  peer.send_digits("1");
  ASSERT_TRUE(log.wait_for("finished")) << log.joined();
  EXPECT_NE(log.joined().find(" done"), std::string::npos) << log.joined();
  peer.send_digits("2");
  auto input = await(std::move(result));
  EXPECT_EQ(input.digits, "2");
  EXPECT_EQ(input.end, mrf::CollectEnd::max_digits);
}

TEST_F(EndpointPlayTest, HangupDuringCollectionIsCallEnded) {
  mrf::CollectOptions options;
  options.max_digits = 4;
  options.first_digit_timeout = 30s;
  auto result = collect({}, options);
  peer.send_digits("7");
  peer.wait_until_sent(5s);
  std::this_thread::sleep_for(300ms);  // let the digit land first
  EXPECT_EQ(probe.request("DELETE", "/ari/channels/" + endpoint->channel_id()).status, 204u);
  auto input = await(std::move(result), 10s);
  EXPECT_EQ(input.end, mrf::CollectEnd::call_ended);
  EXPECT_EQ(input.digits, "7");
  EXPECT_FALSE(input.valid);
}

TEST_F(EndpointPlayTest, TriesWithAnInvalidPromptAndARegex) {
  mrf::CollectOptions options;
  options.max_digits = 3;
  options.regex = "1[0-9]*";
  options.tries = 2;
  options.invalid_prompt = {"sound:beep"};
  auto result = collect({}, options);
  peer.send_digits("23#");
  ASSERT_TRUE(log.wait_for("finished")) << log.joined();  // the invalid prompt played
  peer.send_digits("15#");
  auto input = await(std::move(result));
  EXPECT_EQ(input.digits, "15");
  EXPECT_EQ(input.end, mrf::CollectEnd::terminator);
  EXPECT_TRUE(input.valid);
  EXPECT_EQ(input.tries, 2);
}

TEST_F(EndpointPlayTest, EveryTryInvalidEndsInvalid) {
  mrf::CollectOptions options;
  options.max_digits = 2;
  options.validate = [](std::string_view digits) { return digits == "42"; };
  auto result = collect({}, options);
  peer.send_digits("41");
  auto input = await(std::move(result));
  EXPECT_EQ(input.digits, "41");
  EXPECT_EQ(input.end, mrf::CollectEnd::invalid);
  EXPECT_FALSE(input.valid);
}

TEST_F(EndpointPlayTest, CancellingCollectStopsThePrompt) {
  asio::cancellation_signal cancel;
  auto result = on_loop([&] {
    return endpoint->async_play_and_collect(std::vector<std::string>{"sound:tt-monkeys"}, mrf::CollectOptions{},
                                            asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
  });
  ASSERT_TRUE(log.wait_for("started")) << log.joined();
  on_loop([&] {
    cancel.emit(asio::cancellation_type::terminal);
    return 0;
  });
  bool is_aborted = false;
  try {
    await(std::move(result), 10s);
  } catch (const boost::system::system_error& e) {
    is_aborted = e.code() == asio::error::operation_aborted;
  }
  EXPECT_TRUE(is_aborted);
  EXPECT_TRUE(log.wait_for("finished", 10s)) << log.joined();  // stopped on Asterisk, long before its 16 s
}

TEST_F(EndpointPlayTest, BadCollectOptionsFailAtOnce) {
  mrf::CollectOptions options;
  options.max_digits = 0;
  EXPECT_TRUE(fails_with<std::invalid_argument>(collect({"sound:beep"}, options)));
  options = {};
  options.regex = "([";
  EXPECT_TRUE(fails_with<std::invalid_argument>(collect({"sound:beep"}, options)));
  options = {};
  options.tries = 0;
  EXPECT_TRUE(fails_with<std::invalid_argument>(collect({"sound:beep"}, options)));
}

TEST_F(EndpointPlayTest, SayEveryKind) {
  const std::pair<std::string, mrf::SayKind> values[] = {
      {"123", mrf::SayKind::digits},
      {"-42", mrf::SayKind::number},
      {"ab", mrf::SayKind::characters},
      {"ab1", mrf::SayKind::phonetic},
  };
  for (const auto& [value, kind] : values) {
    auto result = on_loop([&] { return endpoint->async_say(value, kind, asio::use_future); });
    EXPECT_EQ(await(std::move(result)).end, mrf::PlayEnd::finished) << value;
  }
  EXPECT_TRUE(fails_with<std::invalid_argument>(
      on_loop([&] { return endpoint->async_say("12x", mrf::SayKind::number, asio::use_future); })));
  EXPECT_TRUE(fails_with<std::invalid_argument>(
      on_loop([&] { return endpoint->async_say("", mrf::SayKind::digits, asio::use_future); })));
  EXPECT_GE(peer.audio_packets_received(), 20u);
}

TEST_F(EndpointPlayTest, VerbsAfterTheCallEndedFailAtOnce) {
  auto ended = on_loop([&] {
    endpoint->destroy();
    return endpoint->async_wait_destroyed(asio::use_future);
  });
  await(std::move(ended));
  EXPECT_TRUE(fails_with<mrf::CallEnded>(play({"sound:beep"})));
  EXPECT_TRUE(fails_with<mrf::CallEnded>(collect({"sound:beep"}, {})));
  EXPECT_TRUE(fails_with<mrf::CallEnded>(
      on_loop([&] { return endpoint->async_say("1", mrf::SayKind::digits, asio::use_future); })));
  auto handle = on_loop([&] { return endpoint->playback("pb-x"); });
  EXPECT_TRUE(fails_with<mrf::CallEnded>(on_loop([&] { return handle.async_pause(asio::use_future); })));
  EXPECT_TRUE(fails_with<mrf::CallEnded>(on_loop([&] { return handle.async_stop(asio::use_future); })));
}

}  // namespace
