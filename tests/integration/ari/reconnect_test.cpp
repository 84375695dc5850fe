// Asterisk killed and started again under a connected client: the client reconnects on its own,
// re-registers its app, reconciles (reports the channel lost in the gap), and events flow again.
// Runs its own Asterisk instance (SIP 25160, ARI 28188) so that the fixture's stays untouched.
#include "ari_it.hpp"

#include <astmrf/util/metrics.hpp>

#include <map>
#include <sstream>

namespace {

using namespace ari_it;
using ari::EventType;
using ari::ResourceKind;

// One sample of an exposition text, by its "name{labels}" (-1: absent).
double sample(const astmrf::util::metrics::Registry& r, const std::string& series) {
  std::istringstream in(r.expose());
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

constexpr const char* kName = "ctest-ari-reconnect";
constexpr std::uint16_t kSipPort = 25160;
constexpr std::uint16_t kAriPort = 28188;

std::vector<std::string> up_args() {
  const auto& box = astmrf_test::sandbox();
  return {"up",
          "--name",
          kName,
          "--sip-port",
          std::to_string(kSipPort),
          "--ari-port",
          std::to_string(kAriPort),
          "--rtp-ports",
          "31000-31499",
          "--ari-user",
          box.ari_user,
          "--ari-password",
          box.ari_password};
}

class AriReconnect : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto r = sandbox_tool(up_args());
    if (r.exit_code != 0) setup_error = "sandbox up: " + r.output;
  }
  // A failure in SetUpTestSuite would mark the test skipped, which ctest counts as no
  // failure: the test fails on its own instead.
  void SetUp() override {
    if (!setup_error.empty()) FAIL() << setup_error;
  }
  static inline std::string setup_error;
  static void TearDownTestSuite() { sandbox_tool({"down", "--name", kName}); }
};

TEST_F(AriReconnect, AsteriskRestartReconnectsReRegistersAndReconciles) {
  asio::io_context ioc;
  const auto app = astmrf_test::unique_app_name();
  const auto caller = astmrf_test::random_uuid();
  auto registry = std::make_shared<astmrf::util::metrics::Registry>();
  auto opts = options("http://127.0.0.1:" + std::to_string(kAriPort), {app});
  opts.metrics = registry;
  const std::string ws_up = "astmrf_ari_websocket_up{server=\"127.0.0.1:" + std::to_string(kAriPort) + "\"}";
  const std::string reconnects = "astmrf_ari_reconnects_total{server=\"127.0.0.1:" + std::to_string(kAriPort) + "\"}";
  ari::Client client(ioc.get_executor(), opts);
  std::vector<ari::ConnectionState> states;
  auto on_state = client.on_state([&](ari::ConnectionState s, boost::system::error_code) { states.push_back(s); });
  std::optional<ari::ReconcileReport> report;
  auto on_reconcile = client.on_reconcile([&](const ari::ReconcileReport& r) { report = r; });
  std::vector<std::string> started;
  auto on_start = client.on_event(EventType::stasis_start, [&](const ari::Event& e) {
    started.push_back(e.as<ari::StasisStart>().channel.caller.number);
  });
  run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); });
  EXPECT_EQ(sample(*registry, ws_up), 1);
  EXPECT_EQ(sample(*registry, reconnects), 0);

  // A call that is up in our app when Asterisk goes away.
  std::optional<std::string> channel;
  auto first = client.on_event(EventType::stasis_start, [&](const ari::Event& e) {
    if (!channel) channel = std::string(e.id(ResourceKind::channel));
  });
  auto sipp = start_sipp(
      {.scenario = scenario_dir() + "/wait-bye.xml", .service = app, .from_user = caller, .sip_port = kSipPort});
  ASSERT_TRUE(run_until(
      ioc, [&] { return channel.has_value(); }, 15s));
  std::optional<ari::EndReason> channel_end;
  auto tracked = client.subscribe(ResourceKind::channel, *channel, {}, [&](ari::EndReason r) { channel_end = r; });
  run(ioc, [&]() -> asio::awaitable<void> {
    const ari::channels::Answer answer{.channel_id = *channel};
    co_await client.channels().async_answer(answer, asio::use_awaitable);
  });

  // Asterisk dies (SIGKILL to the instance this suite started: no StasisEnd, no BYE): the client
  // notices and keeps trying. A graceful `down` would hang the channel up first, with StasisEnd
  // on the still open socket, leaving nothing for reconcile to find.
  auto status = sandbox_tool({"status", "--name", kName});
  const auto at = status.output.find("pid ");
  ASSERT_NE(at, std::string::npos) << status.output;
  const auto pid = std::to_string(std::stol(status.output.substr(at + 4)));
  auto kill = astmrf_test::run({"kill", "-KILL", pid}, 10s);
  ASSERT_EQ(kill.exit_code, 0) << kill.output;
  ASSERT_TRUE(run_until(
      ioc, [&] { return client.state() != ari::ConnectionState::connected; }, 15s));
  run_until(
      ioc, [] { return false; }, 2s);  // a few failed attempts while Asterisk is down
  EXPECT_NE(client.state(), ari::ConnectionState::connected);
  EXPECT_EQ(sample(*registry, ws_up), 0);
  EXPECT_EQ(sample(*registry, reconnects), 0);  // failed attempts are not reconnects

  // Start it again: reconnect, re-registration, reconcile.
  auto up = sandbox_tool(up_args());
  ASSERT_EQ(up.exit_code, 0) << up.output;
  ASSERT_TRUE(run_until(
      ioc, [&] { return report.has_value(); }, 30s))
      << "no reconcile after restart";
  EXPECT_EQ(client.state(), ari::ConnectionState::connected);
  EXPECT_EQ(report->lost_channels, std::vector<std::string>{*channel});
  EXPECT_EQ(channel_end, ari::EndReason::vanished);
  EXPECT_FALSE(tracked.active());
  EXPECT_GE(client.stats().connects, 2u);
  EXPECT_EQ(sample(*registry, ws_up), 1);
  EXPECT_EQ(sample(*registry, reconnects), static_cast<double>(client.stats().connects - 1));
  EXPECT_GE(sample(*registry, reconnects), 1);
  EXPECT_GE(std::count(states.begin(), states.end(), ari::ConnectionState::connected), 2);
  run(ioc, [&]() -> asio::awaitable<void> {
    const ari::applications::Get get{.application_name = app};
    auto a = co_await client.applications().async_get(get, asio::use_awaitable);
    EXPECT_EQ(a.name, app);  // registered again by the new WebSocket
  });

  // Events flow again: a new call reaches the app.
  auto on_new = client.on_event(EventType::stasis_start, [&](const ari::Event& e) {
    client.channels().async_hangup(ari::channels::Hangup{.channel_id = std::string(e.id(ResourceKind::channel))},
                                   [](std::exception_ptr) {});
  });
  const auto second = astmrf_test::random_uuid();
  auto sipp2 = start_sipp(
      {.scenario = scenario_dir() + "/reject.xml", .service = app, .from_user = second, .sip_port = kSipPort});
  ASSERT_TRUE(run_until(
      ioc, [&] { return std::find(started.begin(), started.end(), second + "-1") != started.end(); }, 15s));
  EXPECT_TRUE(run_until(
      ioc, [&] { return !sipp2->running(); }, 15s));  // the app's hangup runs here
  auto result = sipp2->wait(1s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

}  // namespace
