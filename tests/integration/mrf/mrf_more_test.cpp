// More Mrf end-to-end tests (issue 7): the caller hangs up during a playback, the
// ARI WebSocket is lost (Asterisk killed) and comes back while an endpoint is up, and
// the app's event filter. Same rule as mrf_test.cpp: after every test nothing may be left.
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

#include <csignal>
#include <future>
#include <regex>

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

using MrfMoreTest = astmrf_test::MrfFixture;

TEST_F(MrfMoreTest, CallerHangsUpDuringAPlayback) {
  auto probe = astmrf_test::AriProbe::for_sandbox();
  auto server = connect(sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port));
  harness.run([&] {
    app->invite([&, server](srf::Request req, srf::Response res) {
      server->async_connect_caller(req, res, {}, [&, server](std::exception_ptr error, mrf::ConnectedCaller call) {
        log.add("connect_caller " + describe(error));
        if (!call.endpoint) return;
        held.push_back(call.endpoint);
        held.push_back(call.dialog);
        call.endpoint->on_destroy(
            [&](mrf::EndpointEnd end) { log.add("endpoint " + std::string(mrf::to_string(end))); });
        auto& ari_client = server->ari();
        std::string playback = ari_client.make_id("pb");
        auto waiter = std::make_shared<ari::Waiter>(
            ari_client.expect(ari::ResourceKind::playback, playback, {ari::EventType::playback_finished}));
        ari_client.channels().async_play_with_id(
            ari::channels::PlayWithId{call.endpoint->channel_id(), playback, {"sound:tt-monkeys"}, {}, {}, {}},
            [&](std::exception_ptr e, auto) { log.add("play " + describe(e)); });
        waiter->async_wait(20s, [&, waiter](std::exception_ptr e, const ari::Event&) {
          // Any final state will do ("done" after a hangup on Asterisk 22); no timeout.
          log.add(e ? "playback wait " + describe(e) : "playback finished");
        });
      });
    });
    return 0;
  });
  astmrf_test::SippCall call;
  call.scenario = std::string(MRF_SIPP_DIR) + "/uac-invite-short-hold-bye.xml";
  call.remote = harness.address(Transport::udp);
  auto result = astmrf_test::run_sipp(call);  // 1 s hold, then BYE: tt-monkeys (16 s) is still playing
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("connect_caller ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("play ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("endpoint destroyed")) << log.joined();
  EXPECT_TRUE(log.wait_for("playback finished", 5s)) << log.joined();  // well before the 16 s of the file
  harness.run([&] {
    held.clear();
    return 0;
  });
  expect_nothing_left(server, probe);
}

// The ARI WebSocket is lost and comes back with an endpoint up: Asterisk (an
// instance of this test's own) is killed, so the channel vanishes without a BYE or
// a StasisEnd, then started again. The ARI client reconnects, its reconcile step
// finds the channel gone, and the endpoint is told: media_server_lost.
TEST_F(MrfMoreTest, AriLostAndBackWithAnEndpointUpEndsItAsMediaServerLost) {
  const auto& box = astmrf_test::sandbox();
  const std::string name = "mrf-reconnect";
  std::uint16_t sip_port = astmrf_test::free_port(Transport::udp);
  std::uint16_t ari_port = astmrf_test::free_port(Transport::tcp);
  const std::vector<std::string> up = {box.tool,         "up",
                                       "--name",         name,
                                       "--sip-port",     std::to_string(sip_port),
                                       "--ari-port",     std::to_string(ari_port),
                                       "--rtp-ports",    "32500-32999",
                                       "--ari-user",     box.ari_user,
                                       "--ari-password", box.ari_password};
  struct Down {  // whatever happens below, the instance is stopped
    std::string tool, name;
    ~Down() { astmrf_test::run({tool, "down", "--name", name}, 60s); }
  } down{box.tool, name};
  auto started = astmrf_test::run(up, 120s);
  ASSERT_EQ(started.exit_code, 0) << started.output;
  {
    astmrf_test::AriProbe probe(box.ari_host, ari_port, box.ari_user, box.ari_password);
    auto server = connect(sandbox_options(ari_port, sip_port));
    auto endpoint = harness.run([&] { return server->async_create_endpoint({}, asio::use_future); }).get();
    ASSERT_TRUE(endpoint);
    auto ended = harness.run([&] { return endpoint->async_wait_destroyed(asio::use_future); });
    EXPECT_EQ(channels_of(probe, server->app()), 1u);

    // Kill Asterisk (its PID, from the tool's status line): no BYE, no StasisEnd.
    auto status = astmrf_test::run({box.tool, "status", "--name", name}, 30s);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(status.output, m, std::regex("pid ([0-9]+)"))) << status.output;
    const pid_t pid = static_cast<pid_t>(std::stol(m[1]));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(50ms);
    std::this_thread::sleep_for(500ms);
    EXPECT_FALSE(endpoint->destroyed());  // nothing told it yet: only the reconcile can

    auto again = astmrf_test::run(up, 120s);
    ASSERT_EQ(again.exit_code, 0) << again.output;
    ASSERT_EQ(ended.wait_for(30s), std::future_status::ready) << "the endpoint was never told";
    EXPECT_EQ(ended.get(), mrf::EndpointEnd::media_server_lost);
    // Up again once the events WebSocket is back (reconnect delays up to 2 s).
    bool back = false;
    for (int i = 0; i < 250 && !back; ++i) {
      back = harness.run([&] { return server->connected(); });
      if (!back) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(back);
    harness.run([&] {
      endpoint.reset();
      return 0;
    });
    expect_nothing_left(server, probe);
    harness.run([&] {
      server->disconnect();
      server.reset();
      return 0;
    });
  }
}

// ChannelVarset events of an endpoint's channel seen by the app, up to its StasisEnd:
// one set by ARI (report_events) plus those Asterisk sets at hangup (RTPAUDIOQOS*).
class MrfEventFilterTest : public astmrf_test::MrfFixture {
 protected:
  std::size_t varsets_until_stasis_end(const mrf::ConnectOptions& options) {
    auto probe = astmrf_test::AriProbe::for_sandbox();
    auto server = connect(options);
    auto endpoint = harness.run([&] { return server->async_create_endpoint({}, asio::use_future); }).get();
    EXPECT_TRUE(endpoint);
    if (!endpoint) return 0;
    auto varsets = std::make_shared<std::size_t>(0);
    auto ended = std::make_shared<std::promise<void>>();
    std::vector<ari::Subscription> subscriptions;
    harness.run([&] {
      const std::string id = endpoint->channel_id();
      auto& client = server->ari();
      subscriptions.push_back(client.on_event(ari::EventType::channel_varset, [varsets, id](const ari::Event& e) {
        if (e.id(ari::ResourceKind::channel) == id) ++*varsets;
      }));
      subscriptions.push_back(client.on_event(ari::EventType::stasis_end, [ended, id](const ari::Event& e) {
        if (e.id(ari::ResourceKind::channel) == id) ended->set_value();
      }));
      return 0;
    });
    auto set = harness.run([&] {
      return server->ari().channels().async_set_channel_var(
          ari::channels::SetChannelVar{endpoint->channel_id(), "ASTMRF_MARK", "1", true}, asio::use_future);
    });
    EXPECT_NO_THROW(set.get());
    harness.run([&] {
      endpoint->destroy();
      return 0;
    });
    EXPECT_EQ(ended->get_future().wait_for(10s), std::future_status::ready) << "no StasisEnd";
    const std::size_t seen = harness.run([&] {
      subscriptions.clear();
      endpoint.reset();
      return *varsets;
    });
    expect_nothing_left(server, probe);
    harness.run([&] {
      server->disconnect();
      server.reset();
      return 0;
    });
    return seen;
  }
};

TEST_F(MrfEventFilterTest, ChannelVarsetIsFilteredOutByDefault) {
  auto options = sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port);
  EXPECT_EQ(varsets_until_stasis_end(options), 0u);
}

TEST_F(MrfEventFilterTest, AnEmptyEventFilterDeliversChannelVarset) {
  auto options = sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port);
  options.event_filter = {};
  EXPECT_GE(varsets_until_stasis_end(options), 1u);
}

}  // namespace
