// The orphan sweep (ConnectOptions::instance_id, docs/mrf.md "Restarts"): a process with an
// instance id sets up an endpoint and is killed (SIGKILL: no BYE, no hangup, the channel stays in
// Stasis); a MediaServer of another instance id leaves that channel alone, one of the same
// instance id hangs it up when its ARI WebSocket connects, and logs and counts it; after a
// reconnect the sweep runs again and keeps the server's own endpoints.
#include "astmrf_test/process.hpp"
#include "astmrf_test/tcp_proxy.hpp"
#include "mrf_support.hpp"

#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include <signal.h>

namespace {

using namespace std::chrono_literals;
using astmrf_test::AriProbe;

// The channel as GET /ari/channels/{id} sees it: 200 while it exists, 404 once gone.
unsigned channel_status(const AriProbe& probe, const std::string& id) {
  return probe.request("GET", "/ari/channels/" + id).status;
}

bool orphan_line_seen(const astmrf_test::LogCapture& capture, const std::string& channel_id) {
  for (const auto& line : capture.lines()) {
    if (line.find("event=orphan_hangup") != std::string::npos &&
        line.find("channel_id=" + channel_id) != std::string::npos && line.starts_with("level=warning")) {
      return true;
    }
  }
  return false;
}

class OrphanSweep : public astmrf_test::MrfFixture {
 protected:
  // Starts the helper, waits for its endpoint, kills it: its app and the channel it left.
  std::pair<std::string, std::string> crash_with_a_channel(const std::string& instance_id) {
    astmrf_test::Process helper({ORPHAN_SWEEP_HELPER, instance_id});
    const std::regex printed("app=(\\S+) channel_id=(\\S+)");
    std::smatch match;
    std::string output;
    for (int i = 0; i < 300; ++i) {
      output = helper.output();
      if (std::regex_search(output, match, printed) || !helper.running()) break;
      std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(std::regex_search(output, match, printed)) << "helper said: " << output;
    if (match.empty()) return {};
    ::kill(helper.pid(), SIGKILL);
    helper.wait(5s);

    return {match[1].str(), match[2].str()};
  }

  std::shared_ptr<astmrf::mrf::MediaServer> connect_as(const std::string& instance_id) {
    const auto& box = astmrf_test::sandbox();
    auto options = astmrf_test::sandbox_options(box.ari_port, box.sip_port);
    options.instance_id = instance_id;
    return connect(options);
  }

  AriProbe probe = AriProbe::for_sandbox();
};

TEST_F(OrphanSweep, ARestartedInstanceHangsUpWhatItsKilledPredecessorLeft) {
  const auto [killed_app, channel_id] = crash_with_a_channel("sweep-test");
  ASSERT_FALSE(channel_id.empty());
  // Asterisk keeps the killed process's channel in Stasis.
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(channel_status(probe, channel_id), 200u);
  ASSERT_EQ(astmrf_test::channels_of(probe, killed_app), 1u);

  // Another instance's server does not touch it.
  auto other = connect_as("sweep-test-other");
  ASSERT_NE(other->app(), killed_app);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(channel_status(probe, channel_id), 200u);
  EXPECT_FALSE(orphan_line_seen(mrf_log, channel_id));
  harness.run([&] {
    other->disconnect();
    return 0;
  });

  // The same instance again: the same app, and the orphan is hung up at connect.
  auto server = connect_as("sweep-test");
  EXPECT_EQ(server->app(), killed_app);
  bool gone = false;
  for (int i = 0; i < 250 && !gone; ++i) {
    gone = channel_status(probe, channel_id) == 404;
    if (!gone) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(gone) << "the orphan channel " << channel_id << " is still on Asterisk";
  EXPECT_TRUE(orphan_line_seen(mrf_log, channel_id));
  const auto series = "astmrf_mrf_orphans_hung_up_total{server=\"" + server->name() + "\"}";
  EXPECT_EQ(astmrf_test::exposed_value(*metrics, series), 1) << metrics->expose();
  expect_nothing_left(server, probe);
}

TEST_F(OrphanSweep, TheSweepLeavesItsOwnEndpointsAndOtherInstancesAlone) {
  // Another instance's orphan: a server of instance "sweep-test" must not hang it up.
  const auto [foreign_app, foreign_channel] = crash_with_a_channel("sweep-test-foreign");
  ASSERT_FALSE(foreign_channel.empty());
  auto server = connect_as("sweep-test");
  auto endpoint = harness.run([&] { return server->async_create_endpoint({}, boost::asio::use_future); }).get();
  ASSERT_TRUE(endpoint);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(channel_status(probe, foreign_channel), 200u);
  EXPECT_EQ(channel_status(probe, endpoint->channel_id()), 200u);
  EXPECT_FALSE(orphan_line_seen(mrf_log, foreign_channel));
  EXPECT_FALSE(orphan_line_seen(mrf_log, endpoint->channel_id()));
  harness.run([&] {
    endpoint->destroy();
    endpoint.reset();
    return 0;
  });
  expect_nothing_left(server, probe);

  // Clean up the foreign orphan the way its own instance would: by connecting as it.
  auto owner = connect_as("sweep-test-foreign");
  EXPECT_EQ(owner->app(), foreign_app);
  expect_nothing_left(owner, probe);
  EXPECT_EQ(channel_status(probe, foreign_channel), 404u);
}

// The sweep runs at every connect, reconnects too: after its WebSocket was cut (a proxy resets it)
// the server lists the channels again and keeps its own endpoint. (An orphan can only appear while
// the server is away if another process holds the same instance id, which is not allowed: that
// process's own sweep would hang up this server's calls.)
TEST_F(OrphanSweep, AReconnectSweepsAgainAndKeepsItsOwnEndpoints) {
  const auto& box = astmrf_test::sandbox();
  astmrf_test::TcpProxy proxy(box.ari_port);
  auto options = astmrf_test::sandbox_options(proxy.port(), box.sip_port);
  options.instance_id = "sweep-test-reconnect";
  options.health.calls_lost_after = 20s;  // the blink must not end the server's own call
  auto server = connect(options);
  auto endpoint = harness.run([&] { return server->async_create_endpoint({}, boost::asio::use_future); }).get();
  ASSERT_TRUE(endpoint);
  // The sweep's GET /channels is the only channels request answered 200 while nothing else happens.
  const auto lists = "astmrf_ari_requests_total{server=\"" + server->name() + "\",family=\"channels\",status=\"200\"}";
  const auto before = astmrf_test::exposed_value(*metrics, lists);
  EXPECT_GE(before, 1) << metrics->expose();

  proxy.reset();
  std::this_thread::sleep_for(300ms);
  EXPECT_NE(harness.run([&] { return server->state(); }), astmrf::mrf::ServerState::up);
  proxy.pass();
  bool listed = false;
  for (int i = 0; i < 500 && !listed; ++i) {
    listed = astmrf_test::exposed_value(*metrics, lists) > before &&
             harness.run([&] { return server->state(); }) == astmrf::mrf::ServerState::up;
    if (!listed) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(listed) << "no sweep after the reconnect: " << metrics->expose();
  std::this_thread::sleep_for(200ms);  // a wrong hangup would have landed by now
  EXPECT_EQ(channel_status(probe, endpoint->channel_id()), 200u);
  EXPECT_EQ(harness.run([&] { return server->endpoints().size(); }), 1u);
  EXPECT_FALSE(orphan_line_seen(mrf_log, endpoint->channel_id()));
  const auto series = "astmrf_mrf_orphans_hung_up_total{server=\"" + server->name() + "\"}";
  EXPECT_EQ(astmrf_test::exposed_value(*metrics, series), 0) << metrics->expose();
  harness.run([&] {
    endpoint->destroy();
    endpoint.reset();
    return 0;
  });
  expect_nothing_left(server, probe);
}

}  // namespace
