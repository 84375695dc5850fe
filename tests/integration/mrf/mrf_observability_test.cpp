// The Mrf's metrics and log lines against the real Asterisk sandbox: one call connected and
// hung up, one refused; the counters, gauges and histograms say so, and every Mrf log line
// about the call names its call_id (and its channel and server once known).
#include "astmrf_test/sipp.hpp"
#include "mrf_support.hpp"

#include <astmrf/util/log.hpp>

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace {

using namespace std::chrono_literals;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
using astmrf::sip::Transport;
using astmrf_test::describe;
using astmrf_test::sandbox_options;

class MrfObservabilityTest : public astmrf_test::MrfFixture {
 protected:
  MrfObservabilityTest() {
    server = connect(sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port));
    name = server->name();
  }
  ~MrfObservabilityTest() override {
    expect_nothing_left(server, probe);
    harness.run([&] {
      held.clear();
      server.reset();
      return 0;
    });
  }

  void connect_callers() {
    harness.run([&] {
      app->invite([&](srf::Request req, srf::Response res) {
        server->async_connect_caller(req, res, {}, [&](std::exception_ptr error, mrf::ConnectedCaller call) {
          log.add("connect_caller " + describe(error));
          if (!call.endpoint) return;
          held.push_back(call.endpoint);
          held.push_back(call.dialog);
          call.endpoint->on_destroy([&](mrf::EndpointEnd end) { log.add("endpoint " + std::string(to_string(end))); });
        });
      });
      return 0;
    });
  }

  astmrf_test::SippCall caller(const std::string& scenario) {
    astmrf_test::SippCall call;
    call.scenario = std::string(MRF_SIPP_DIR) + "/" + scenario;
    call.remote = harness.address(Transport::udp);
    return call;
  }

  std::string label() const { return "server=\"" + name + "\""; }
  double value(const std::string& series) const { return astmrf_test::exposed_value(*metrics, series); }

  std::vector<std::map<std::string, std::string>> log_lines() const {
    std::vector<std::map<std::string, std::string>> out;
    for (const auto& fields : mrf_log.fields()) out.emplace_back(fields.begin(), fields.end());
    return out;
  }

  astmrf_test::AriProbe probe = astmrf_test::AriProbe::for_sandbox();
  std::shared_ptr<mrf::MediaServer> server;
  std::string name;
};

TEST_F(MrfObservabilityTest, AConnectedCallIsCountedTimedAndLoggedWithItsCallId) {
  EXPECT_EQ(name, "127.0.0.1:" + std::to_string(astmrf_test::sandbox().ari_port));
  auto text = metrics->expose();
  EXPECT_EQ(value("astmrf_mrf_server_up{" + label() + "}"), 1) << text;
  EXPECT_EQ(value("astmrf_mrf_server_state{" + label() + ",state=\"up\"}"), 1) << text;
  EXPECT_EQ(value("astmrf_ari_websocket_up{" + label() + "}"), 1) << text;

  connect_callers();
  auto result = astmrf_test::run_sipp(caller("uac-invite-hold-bye.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  ASSERT_TRUE(log.wait_for("connect_caller ok")) << log.joined();
  ASSERT_TRUE(log.wait_for("endpoint destroyed")) << log.joined();
  expect_nothing_left(server, probe);

  text = metrics->expose();
  EXPECT_EQ(value("astmrf_mrf_caller_connects_total{outcome=\"answered\"}"), 1) << text;
  EXPECT_EQ(value("astmrf_mrf_caller_connects_total{outcome=\"rejected\"}"), 0) << text;
  EXPECT_EQ(value("astmrf_mrf_caller_connect_seconds_count"), 1) << text;
  EXPECT_GT(value("astmrf_mrf_caller_connect_seconds_sum"), 0) << text;
  EXPECT_EQ(value("astmrf_mrf_endpoint_setups_total{" + label() + ",outcome=\"up\",cause=\"none\"}"), 1) << text;
  EXPECT_EQ(value("astmrf_mrf_endpoint_setup_seconds_count{" + label() + "}"), 1) << text;
  EXPECT_EQ(value("astmrf_mrf_endpoints_ended_total{" + label() + ",reason=\"destroyed\"}"), 1) << text;
  EXPECT_EQ(value("astmrf_mrf_endpoints{" + label() + "}"), 0) << text;
  EXPECT_EQ(value("astmrf_mrf_pending_setups{" + label() + "}"), 0) << text;
  // The channel's events came through the server's ARI client, counted under its name.
  EXPECT_GE(value("astmrf_ari_events_total{" + label() + ",type=\"StasisStart\"}"), 1) << text;

  // Every Mrf line about the call carries the caller's Call-ID, the channel and the server.
  std::string call_id;
  std::string channel_id;
  std::set<std::string> events;
  for (const auto& line : log_lines()) {
    const auto event = line.count("event") ? line.at("event") : "";
    if (event.rfind("endpoint_", 0) != 0 && event.rfind("caller_", 0) != 0) continue;
    events.insert(event);
    ASSERT_TRUE(line.count("call_id")) << event;
    if (call_id.empty()) call_id = line.at("call_id");
    EXPECT_EQ(line.at("call_id"), call_id) << event;
    EXPECT_FALSE(call_id.empty());
    if (event == "endpoint_setup") continue;  // before StasisStart: no channel yet
    ASSERT_TRUE(line.count("channel_id")) << event;
    if (channel_id.empty()) channel_id = line.at("channel_id");
    EXPECT_EQ(line.at("channel_id"), channel_id) << event;
    EXPECT_EQ(line.at("server"), name) << event;
  }
  EXPECT_EQ(events, (std::set<std::string>{"endpoint_setup", "endpoint_up", "caller_connected", "endpoint_ended"}));
  EXPECT_NE(result.output.find(call_id), std::string::npos) << "not sipp's Call-ID: " << call_id;
}

TEST_F(MrfObservabilityTest, ACallerNoServerCouldTakeIsCountedAsRejectedWithItsCause) {
  harness.run([&] {
    server->disconnect();
    return 0;
  });
  connect_callers();
  auto result = astmrf_test::run_sipp(caller("uac-invite-503.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  ASSERT_TRUE(log.wait_for("connect_caller error the media server is disconnected")) << log.joined();
  const auto text = metrics->expose();
  EXPECT_EQ(value("astmrf_mrf_caller_connects_total{outcome=\"rejected\"}"), 1) << text;
  EXPECT_EQ(value("astmrf_mrf_caller_connect_seconds_count"), 0) << text;
  EXPECT_EQ(value("astmrf_mrf_endpoint_setups_total{" + label() + ",outcome=\"failed\",cause=\"unavailable\"}"), 1)
      << text;
  EXPECT_EQ(value("astmrf_mrf_server_up{" + label() + "}"), 0) << text;
  EXPECT_EQ(value("astmrf_mrf_server_state{" + label() + ",state=\"closed\"}"), 1) << text;
  bool logged = false;
  for (const auto& line : log_lines()) {
    if (line.count("event") && line.at("event") == "caller_rejected") {
      logged = true;
      EXPECT_EQ(line.at("status"), "503");
      EXPECT_EQ(line.at("cause"), "unavailable");
      EXPECT_FALSE(line.at("call_id").empty());
    }
  }
  EXPECT_TRUE(logged);
}

}  // namespace
