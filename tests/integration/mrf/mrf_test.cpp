// Mrf end to end: sipp caller → astmrf (embedded engine + Srf + Mrf) → the real
// Asterisk sandbox. After every test nothing may be left: no channel of the app on
// Asterisk, no endpoint, no pending setup, no dialog in the engine.
#include "../engine/engine_harness.hpp"
#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/process.hpp"
#include "astmrf_test/sandbox.hpp"
#include "astmrf_test/sipp.hpp"
#include "mrf_support.hpp"

#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
namespace ari = astmrf::ari;
using astmrf::sip::Transport;
using astmrf_test::channels_of;
using astmrf_test::describe;
using astmrf_test::EngineHarness;
using astmrf_test::EventLog;
using astmrf_test::sandbox_options;
using astmrf_test::SippCall;

class MrfTest : public astmrf_test::MrfFixture {
 protected:
  MrfTest() { server = connect(sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port)); }

  ~MrfTest() override {
    expect_nothing_left(server, probe);
    harness.run([&] {
      held.clear();
      server.reset();
      return 0;
    });
  }

  SippCall caller(const std::string& scenario) {
    SippCall call;
    call.scenario = scenario.find("/") == std::string::npos ? std::string(MRF_SIPP_DIR) + "/" + scenario : scenario;
    call.remote = harness.address(Transport::udp);
    return call;
  }

  // The application: connect every caller to `ms`, then `then(connected)`.
  void connect_callers(const std::shared_ptr<mrf::MediaServer>& ms, mrf::ConnectCallerOptions options = {},
                       std::function<void(const mrf::ConnectedCaller&)> then = {}) {
    harness.run([&, ms, options, then] {
      app->invite([&, ms, options, then](srf::Request req, srf::Response res) {
        ms->async_connect_caller(req, res, options, [&, then](std::exception_ptr error, mrf::ConnectedCaller call) {
          log.add("connect_caller " + describe(error));
          if (!call.endpoint) return;
          held.push_back(call.endpoint);
          held.push_back(call.dialog);
          call.endpoint->on_destroy(
              [&](mrf::EndpointEnd end) { log.add("endpoint " + std::string(mrf::to_string(end))); });
          if (then) then(call);
        });
      });
      return 0;
    });
  }

  astmrf_test::AriProbe probe = astmrf_test::AriProbe::for_sandbox();
  std::shared_ptr<mrf::MediaServer> server;
};

TEST_F(MrfTest, BadOptionsFailBeforeAnyIo) {
  auto options = sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port);
  options.ari.address = "http://127.0.0.1";  // a URL, not a host: refused, not looked up
  EXPECT_THROW(connect(options), std::invalid_argument);
  options = sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port);
  options.sip.address = "127.0.0.1:5060";
  EXPECT_THROW(connect(options), std::invalid_argument);
  options = sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port);
  options.event_filter.disallowed.push_back("StasisEnd");  // the Mrf could never end an endpoint
  EXPECT_THROW(connect(options), std::invalid_argument);
  options = sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port);
  options.event_filter.allowed = {"StasisEnd", "PlaybackFinished"};  // no StasisStart: no setup could finish
  EXPECT_THROW(connect(options), std::invalid_argument);
  options = sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port);
  options.ari.password += "-wrong";
  EXPECT_THROW(connect(options), ari::AuthenticationError);
  EXPECT_EQ(harness.run([&] { return media->media_servers().size(); }), 1u);
}

TEST_F(MrfTest, MediaServerRunsItsOwnStasisApp) {
  EXPECT_EQ(server->app().rfind("drachtio-", 0), 0u);
  auto apps = probe.request("GET", "/ari/applications/" + server->app());
  EXPECT_EQ(apps.status, 200u) << apps.body;
}

TEST_F(MrfTest, CreateEndpointWithoutSdpThenDestroy) {
  auto endpoint = harness.run([&] { return server->async_create_endpoint({}, asio::use_future); }).get();
  ASSERT_TRUE(endpoint);
  EXPECT_FALSE(endpoint->channel_id().empty());
  EXPECT_NE(endpoint->channel_name().find("PJSIP/drachtio"), std::string::npos) << endpoint->channel_name();
  EXPECT_NE(endpoint->local_sdp().find("a=inactive"), std::string::npos) << endpoint->local_sdp();
  EXPECT_EQ(channels_of(probe, server->app()), 1u);
  auto ended = harness.run([&] {
    endpoint->destroy();
    endpoint->destroy();  // idempotent
    return endpoint->async_wait_destroyed(asio::use_future);
  });
  EXPECT_EQ(ended.get(), mrf::EndpointEnd::destroyed);
  harness.run([&] {
    endpoint.reset();
    return 0;
  });
}

TEST_F(MrfTest, ConnectCallerPlaysMonkeysUntilTheCallerHangsUp) {
  connect_callers(server, {}, [&](const mrf::ConnectedCaller& call) {
    auto& ari_client = server->ari();
    std::string playback = ari_client.make_id("pb");
    // Subscribe first, then act: the events can precede the HTTP response.
    auto waiter = std::make_shared<ari::Waiter>(
        ari_client.expect(ari::ResourceKind::playback, playback, {ari::EventType::playback_finished}));
    ari_client.channels().async_play_with_id(
        ari::channels::PlayWithId{call.endpoint->channel_id(), playback, {"sound:tt-monkeys"}, {}, {}, {}},
        [&](std::exception_ptr error, auto) { log.add("play " + describe(error)); });
    waiter->async_wait(30s, [&, waiter](std::exception_ptr e, ari::Event event) {
      log.add(e ? "playback " + describe(e)
                : "playback " + std::string(event.json().at("playback").at("state").as_string()));
    });
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-hold-bye.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("connect_caller ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("play ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("playback done", 30s)) << log.joined();
  EXPECT_TRUE(log.wait_for("endpoint destroyed")) << log.joined();
  EXPECT_LT(log.joined().find("playback done"), log.joined().find("endpoint destroyed")) << log.joined();
  harness.run([&] {
    held.clear();
    return 0;
  });
}

TEST_F(MrfTest, AnAsteriskHangupEndsTheCaller) {
  connect_callers(server, {}, [&](const mrf::ConnectedCaller& call) {
    server->ari().channels().async_hangup(ari::channels::Hangup{call.endpoint->channel_id(), {}, {}},
                                          [&](std::exception_ptr error) { log.add("hangup " + describe(error)); });
  });
  auto result = astmrf_test::run_sipp(caller(std::string(ENGINE_SIPP_DIR) + "/uac-invite-wait-bye.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;  // the caller got our BYE
  EXPECT_TRUE(log.wait_for("hangup ok")) << log.joined();
  harness.run([&] {
    held.clear();
    return 0;
  });
}

TEST_F(MrfTest, AnUnknownStasisStartIsHungUp) {
  SippCall call;
  call.scenario = astmrf_test::sandbox().sipp_dir + "/invite-expect-603.xml";
  call.service = server->app();
  call.keys["from_user"] = astmrf_test::random_uuid();  // no setup waits for this one
  auto result = astmrf_test::run_sipp(call);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(MrfTest, AsteriskRejectionReachesTheCallerMapped) {
  // An app without its WebSocket: Asterisk declines the INVITE (603).
  harness.run([&] {
    server->ari().close();
    return 0;
  });
  mrf::ConnectCallerOptions options;
  options.status_map = {{603, 480}};
  connect_callers(server, options);
  auto result = astmrf_test::run_sipp(caller("uac-invite-480.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("connect_caller SipFailure 603")) << log.joined();
}

// A SIP address where nothing answers: the setup can only time out or be cancelled.
mrf::ConnectOptions black_hole(std::chrono::milliseconds timeout) {
  auto options = sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::free_port(Transport::udp));
  options.setup_timeout = timeout;
  return options;
}

TEST_F(MrfTest, SetupTimeoutGivesTheCaller503) {
  auto silent = connect(black_hole(500ms));
  connect_callers(silent);
  auto result = astmrf_test::run_sipp(caller("uac-invite-503.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("connect_caller MediaSetupTimeout")) << log.joined();
  expect_nothing_left(silent, probe);
}

TEST_F(MrfTest, CallerCancelDuringSetupTearsItDown) {
  auto silent = connect(black_hole(10s));
  connect_callers(silent);
  auto result = astmrf_test::run_sipp(caller("uac-invite-cancel-early.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("connect_caller RequestCancelled")) << log.joined();
  expect_nothing_left(silent, probe);
}

TEST_F(MrfTest, ALate200AfterTheTimeoutIsAckedAndEnded) {
  // A deadline shorter than Asterisk's answer: the 200 OK comes late.
  auto options = sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port);
  options.setup_timeout = 1ms;
  auto hurried = connect(options);
  auto error = harness.run([&] {
    auto future = std::make_shared<std::promise<std::string>>();
    hurried->async_create_endpoint(
        {}, [future](std::exception_ptr e, std::shared_ptr<mrf::Endpoint>) { future->set_value(describe(e)); });
    // Hold the engine's thread past the deadline: the expired timer then runs
    // before anything that follows Asterisk's StasisStart, so the 200 OK (sent
    // once the channel is answered) always arrives after the setup failed.
    std::this_thread::sleep_for(30ms);
    return future->get_future();
  });
  EXPECT_EQ(error.get(), "MediaSetupTimeout");
  expect_nothing_left(hurried, probe);
}

TEST_F(MrfTest, TwoAsteriskServersAtOnceACallOnEach) {
  // A second Asterisk instance, this test's own.
  const auto& box = astmrf_test::sandbox();
  std::uint16_t sip_port = astmrf_test::free_port(Transport::udp);
  std::uint16_t ari_port = astmrf_test::free_port(Transport::tcp);
  auto up = astmrf_test::run({box.tool, "up", "--name", "mrf-second", "--sip-port", std::to_string(sip_port),
                              "--ari-port", std::to_string(ari_port), "--rtp-ports", "32000-32499", "--ari-user",
                              box.ari_user, "--ari-password", box.ari_password},
                             120s);
  ASSERT_EQ(up.exit_code, 0) << up.output;
  {
    astmrf_test::AriProbe second_probe(box.ari_host, ari_port, box.ari_user, box.ari_password);
    auto second = connect(sandbox_options(ari_port, sip_port));
    EXPECT_EQ(harness.run([&] { return media->media_servers().size(); }), 2u);
    std::vector<std::shared_ptr<mrf::Endpoint>> endpoints;
    for (auto& ms : {server, second}) {
      auto endpoint = harness.run([&] { return ms->async_create_endpoint({}, asio::use_future); }).get();
      ASSERT_TRUE(endpoint);
      endpoints.push_back(endpoint);
    }
    EXPECT_EQ(channels_of(probe, server->app()), 1u);
    EXPECT_EQ(channels_of(second_probe, second->app()), 1u);
    harness.run([&] {
      for (auto& e : endpoints) e->destroy();
      endpoints.clear();
      return 0;
    });
    expect_nothing_left(second, second_probe);
    harness.run([&] {
      second->disconnect();
      second.reset();
      return 0;
    });
  }
  astmrf_test::run({box.tool, "down", "--name", "mrf-second"}, 60s);
}

}  // namespace
