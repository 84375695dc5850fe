// The engine's metrics and log lines: two engines in this process call each other
// over TCP (no retransmissions: the counts are exact), each with its own registry.
#include "astmrf_test/observe.hpp"
#include "engine_harness.hpp"

#include <astmrf/sip/engine/engine.hpp>
#include <astmrf/util/log.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/ip/udp.hpp>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <future>

namespace {

using namespace std::chrono_literals;
using astmrf::sip::Dialog;
using astmrf::sip::DialogEndReason;
using astmrf::sip::IncomingRequest;
using astmrf::sip::Message;
using astmrf::sip::RequestSpec;
using astmrf::sip::ResponseSpec;
using astmrf::sip::Transport;
using astmrf::util::metrics::Registry;
using astmrf_test::EngineHarness;
using astmrf_test::EventLog;

const std::string kSdp =
    "v=0\r\no=astmrf 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

std::uint64_t counter(Registry& registry, const std::string& name, std::vector<std::string> label_names,
                      std::vector<std::string> values) {
  return registry.counter(name, "", std::move(label_names)).with(std::move(values))->value();
}
astmrf::sip::EngineConfig config_with(std::shared_ptr<Registry> registry, std::shared_ptr<spdlog::logger> logger) {
  auto config = EngineHarness::test_config();
  config.metrics = std::move(registry);
  config.logger = std::move(logger);
  return config;
}

// A calls B: B answers 200 (or `status`), A hangs up after the ACK.
struct TwoEngines {
  explicit TwoEngines(std::shared_ptr<spdlog::logger> logger = nullptr)
      : a(config_with(metrics_a, logger)), b(config_with(metrics_b, logger)) {}
  std::shared_ptr<Registry> metrics_a = std::make_shared<Registry>();
  std::shared_ptr<Registry> metrics_b = std::make_shared<Registry>();
  EventLog log;
  EngineHarness a;
  EngineHarness b;

  void answer_with(int status) {
    b.run([this, status] {
      b.engine().on_request([this, status](const std::shared_ptr<IncomingRequest>& request) {
        auto dialog = request->respond(
            ResponseSpec{status, {}, {}, status < 300 ? "application/sdp" : "", status < 300 ? kSdp : ""});
        if (dialog)
          dialog->on_end([this](DialogEndReason reason) { log.add("b end " + std::string(to_string(reason))); });
      });
      return 0;
    });
  }

  void call(astmrf::sip::HeaderList headers = {}) {
    a.run([&] {
      RequestSpec spec;
      spec.method = "INVITE";
      spec.uri = "sip:b@" + b.address(Transport::tcp) + ";transport=tcp";
      spec.content_type = "application/sdp";
      spec.body = kSdp;
      spec.headers = std::move(headers);
      a.engine().send_request(std::move(spec), [this](const Message& response, const std::shared_ptr<Dialog>& dialog) {
        if (response.status() < 200) return;
        log.add("a final " + std::to_string(response.status()));
        if (dialog) {
          dialog->on_end([this](DialogEndReason reason) { log.add("a end " + std::string(to_string(reason))); });
          dialog->bye();
        }
      });
      return 0;
    });
  }
};

TEST(EngineObservability, CountsACallAndItsRejection) {
  TwoEngines engines;
  engines.answer_with(200);
  engines.call();
  ASSERT_TRUE(engines.log.wait_for("a final 200")) << engines.log.joined();
  ASSERT_TRUE(engines.log.wait_for("b end remote_bye")) << engines.log.joined();

  engines.answer_with(486);
  engines.call();
  ASSERT_TRUE(engines.log.wait_for("a final 486")) << engines.log.joined();

  auto& a = *engines.metrics_a;
  auto& b = *engines.metrics_b;
  const std::vector<std::string> method{"method"};
  const std::vector<std::string> method_class{"method", "class"};
  // B, the UAS, waits for the ACK of the 486 (it comes after A saw the 486).
  for (int i = 0; i < 100 && counter(b, "astmrf_sip_requests_received_total", method, {"ACK"}) < 2; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(counter(a, "astmrf_sip_requests_sent_total", method, {"INVITE"}), 2u);
  EXPECT_EQ(counter(a, "astmrf_sip_requests_sent_total", method, {"ACK"}), 2u);
  EXPECT_EQ(counter(a, "astmrf_sip_requests_sent_total", method, {"BYE"}), 1u);
  EXPECT_EQ(counter(a, "astmrf_sip_responses_received_total", method_class, {"INVITE", "2xx"}), 1u);
  EXPECT_EQ(counter(a, "astmrf_sip_responses_received_total", method_class, {"INVITE", "4xx"}), 1u);
  EXPECT_EQ(counter(a, "astmrf_sip_responses_received_total", method_class, {"BYE", "2xx"}), 1u);
  EXPECT_EQ(counter(b, "astmrf_sip_requests_received_total", method, {"INVITE"}), 2u);
  EXPECT_EQ(counter(b, "astmrf_sip_requests_received_total", method, {"ACK"}), 2u);
  EXPECT_EQ(counter(b, "astmrf_sip_requests_received_total", method, {"BYE"}), 1u);
  EXPECT_EQ(counter(b, "astmrf_sip_responses_sent_total", method_class, {"INVITE", "2xx"}), 1u);
  EXPECT_EQ(counter(b, "astmrf_sip_responses_sent_total", method_class, {"INVITE", "4xx"}), 1u);
  EXPECT_EQ(counter(b, "astmrf_sip_responses_sent_total", method_class, {"BYE", "2xx"}), 1u);
  EXPECT_EQ(counter(b, "astmrf_sip_requests_sent_total", method, {"INVITE"}), 0u);
  EXPECT_EQ(counter(a, "astmrf_sip_retransmissions_sent_total", {}, {}), 0u);  // TCP
  EXPECT_EQ(counter(a, "astmrf_sip_messages_dropped_total", {"reason"}, {"parse_error"}), 0u);

  // The gauges follow the engine's own stats.
  EXPECT_EQ(astmrf_test::exposed_value(a, "astmrf_sip_dialogs"), 0);
  EXPECT_EQ(astmrf_test::exposed_value(b, "astmrf_sip_dialogs"), 0);
  EXPECT_EQ(astmrf_test::exposed_value(a, "astmrf_sip_tcp_connections"), 1);
  EXPECT_EQ(astmrf_test::exposed_value(b, "astmrf_sip_tcp_connections"), 1);
  auto stats_b = engines.b.run([&] { return engines.b.engine().stats(); });
  EXPECT_EQ(astmrf_test::exposed_value(b, "astmrf_sip_transactions{kind=\"server\"}"),
            static_cast<double>(stats_b.server_transactions));
  EXPECT_EQ(astmrf_test::exposed_value(b, "astmrf_sip_transactions{kind=\"client\"}"),
            static_cast<double>(stats_b.client_transactions));
  EXPECT_EQ(stats_b.messages_received, 5u);  // EngineStats still counts as before
  // The text exposition has every family.
  auto text = a.expose();
  for (const char* name : {"astmrf_sip_requests_received_total", "astmrf_sip_responses_sent_total",
                           "astmrf_sip_retransmissions_absorbed_total", "astmrf_sip_overload_rejections_total"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + name + " counter"), std::string::npos) << name;
  }
}

TEST(EngineObservability, UnparsableInputIsCountedAndLoggedWithoutItsText) {
  astmrf_test::LogCapture capture(spdlog::level::warn);
  const auto& logger = capture.logger();
  auto registry = std::make_shared<Registry>();
  EngineHarness harness(config_with(registry, logger));
  boost::asio::io_context ioc;
  boost::asio::ip::udp::socket socket(ioc,
                                      boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  std::string garbage = "NOT SIP AT ALL password=hunter2\r\n\r\n";
  socket.send_to(boost::asio::buffer(garbage),
                 {boost::asio::ip::make_address("127.0.0.1"), harness.port(Transport::udp)});
  std::uint64_t dropped = 0;
  for (int i = 0; i < 100 && dropped == 0; ++i) {
    std::this_thread::sleep_for(20ms);
    dropped = counter(*registry, "astmrf_sip_messages_dropped_total", {"reason"}, {"parse_error"});
  }
  EXPECT_EQ(dropped, 1u);
  auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 1u);
  auto fields = astmrf::util::parse_fields(lines[0]);
  ASSERT_FALSE(fields.empty());
  EXPECT_EQ(fields[0], (std::pair<std::string, std::string>{"event", "sip_parse_error"}));
  EXPECT_EQ(lines[0].find("hunter2"), std::string::npos) << lines[0];
}

TEST(EngineObservability, TraceLinesShowEveryMessageWithAuthorizationRedacted) {
  astmrf_test::LogCapture capture(spdlog::level::trace);
  const auto& logger = capture.logger();
  {
    TwoEngines engines(logger);
    engines.answer_with(200);
    engines.call({{"Authorization", "Digest username=\"u\", realm=\"r\", response=\"SECRETVALUE\""},
                  {"Proxy-Authorization", "Digest username=\"u\", response=\"PROXYSECRET\""}});
    ASSERT_TRUE(engines.log.wait_for("b end remote_bye")) << engines.log.joined();
    // A's last message in is the 200 to its BYE, which may still be on its way.
    auto received = [&] {
      int n = 0;
      for (const auto& line : capture.lines()) n += line.starts_with("event=sip_in ") ? 1 : 0;
      return n;
    };
    for (int i = 0; i < 100 && received() < 5; ++i) std::this_thread::sleep_for(20ms);
  }
  auto lines = capture.lines();
  int in = 0;
  int out = 0;
  bool redacted = false;
  bool dialog_created = false;
  bool dialog_ended = false;
  for (const auto& line : lines) {
    EXPECT_EQ(line.find("SECRETVALUE"), std::string::npos) << line;
    EXPECT_EQ(line.find("PROXYSECRET"), std::string::npos) << line;
    auto fields = astmrf::util::parse_fields(line);
    ASSERT_FALSE(fields.empty()) << line;
    const auto& event = fields[0].second;
    if (event == "sip_in") ++in;
    if (event == "sip_out") ++out;
    if (event == "sip_dialog_created") dialog_created = true;
    if (event == "sip_dialog_ended") dialog_ended = true;
    if (event == "sip_in" || event == "sip_out" || event.starts_with("sip_dialog_")) {
      ASSERT_GE(fields.size(), 2u) << line;
      EXPECT_EQ(fields[1].first, "call_id") << line;
      EXPECT_FALSE(fields[1].second.empty()) << line;
    }
    if (line.find("<redacted>") != std::string::npos) redacted = true;
  }
  // INVITE, 200, ACK, BYE, 200: each out of one engine and into the other.
  EXPECT_EQ(in, 5);
  EXPECT_EQ(out, 5);
  EXPECT_TRUE(redacted);
  EXPECT_TRUE(dialog_created);
  EXPECT_TRUE(dialog_ended);
}

TEST(EngineObservability, NoRegistryNoMetrics) {
  EngineHarness harness;  // metrics null: nothing to look at, and nothing crashes
  auto stats = harness.run([&] { return harness.engine().stats(); });
  EXPECT_EQ(stats.messages_received, 0u);
}

}  // namespace
