// The demo IVR (apps/ivr) as a black box: a real sipp caller, the real program, the
// real Asterisk sandbox. The IVR's key=value log lines are what is checked; every
// test also checks that no channel of the IVR's Stasis application is left on
// Asterisk and that the ARI password never shows in the log.
#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/process.hpp"
#include "astmrf_test/prometheus.hpp"
#include "astmrf_test/sandbox.hpp"
#include "astmrf_test/sandbox_instance.hpp"
#include "astmrf_test/sipp.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace {

using namespace std::chrono_literals;
using astmrf_test::Process;
using astmrf_test::ProcessResult;
using astmrf_test::SippCall;

// A port free on 127.0.0.1 for both UDP and TCP (the IVR listens on both).
std::uint16_t free_port() {
  boost::asio::io_context ioc;
  for (int attempt = 0; attempt < 20; ++attempt) {
    boost::asio::ip::udp::socket udp(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto port = udp.local_endpoint().port();
    boost::system::error_code ec;
    boost::asio::ip::tcp::acceptor tcp(ioc);
    tcp.open(boost::asio::ip::tcp::v4());
    tcp.bind({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) return port;
  }
  throw std::runtime_error("no free port");
}

// Values of `key=` on the log lines of one event type, in order.
std::vector<std::string> field_of(const std::string& log, const std::string& event, const std::string& key) {
  std::vector<std::string> values;
  std::istringstream lines(log);
  const std::regex field(" " + key + "=(\"[^\"]*\"|\\S+)");
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" event=" + event + " ") == std::string::npos && !line.ends_with(" event=" + event)) continue;
    std::smatch match;
    if (std::regex_search(line, match, field)) values.push_back(match[1]);
  }
  return values;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

std::size_t channels_of(const astmrf_test::AriProbe& probe, const std::string& app) {
  const auto result = probe.request("GET", "/ari/channels");
  if (result.status != 200) return 0;
  const auto channels = result.json();  // named: the loop must not outlive it
  std::size_t count = 0;
  for (const auto& channel : channels.as_array())
    if (channel.at("dialplan").at("exten").as_string() == app) ++count;
  return count;
}

class IvrTest : public testing::Test {
 protected:
  void TearDown() override {
    const auto output = ivr ? ivr->output() : std::string();
    EXPECT_EQ(output.find(box.ari_password), std::string::npos) << "the ARI password is in the log";
    // Leak probe: once the IVR is gone, none of its apps' channels may be left.
    ivr.reset();
    // Every Stasis app the log names (either log format).
    std::set<std::string> apps;
    const std::regex app_name("drachtio-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    for (std::sregex_iterator it(output.begin(), output.end(), app_name), end; it != end; ++it) apps.insert(it->str());
    for (const auto& app : apps) {
      std::size_t left = 1;
      for (int i = 0; i < 100 && left != 0; ++i) {
        left = channels_of(probe, app);
        if (left != 0) std::this_thread::sleep_for(50ms);
      }
      EXPECT_EQ(left, 0u) << "channels of " << app << " left on Asterisk";
    }
    for (const auto& path : temp_files) std::remove(path.c_str());
  }

  // Starts the IVR and waits until it is ready for calls.
  void start_ivr(unsigned max_calls, std::vector<std::string> extra = {}, int first_digit_timeout_ms = 4000) {
    port = free_port();
    std::vector<std::string> argv{IVR_BINARY,
                                  "--listen",
                                  "127.0.0.1:" + std::to_string(port),
                                  "--ari-user",
                                  box.ari_user,
                                  "--ari-password",
                                  box.ari_password,
                                  "--max-calls",
                                  std::to_string(max_calls),
                                  "--first-digit-timeout-ms",
                                  std::to_string(first_digit_timeout_ms),
                                  "--log-level",
                                  "debug"};
    if (std::find(extra.begin(), extra.end(), "--log-level") != extra.end()) argv.resize(argv.size() - 2);
    if (std::find(extra.begin(), extra.end(), "--asterisk") == extra.end()) {
      argv.insert(argv.end(), {"--ari-url", "http://127.0.0.1:" + std::to_string(box.ari_port), "--media-sip",
                               "127.0.0.1:" + std::to_string(box.sip_port)});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    ivr = std::make_unique<Process>(argv);
    for (int i = 0; i < 200; ++i) {
      const auto out = ivr->output();
      if (out.find("event=ready") != std::string::npos || out.find("\"event\":\"ready\"") != std::string::npos) return;
      if (!ivr->running()) break;
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "the IVR did not become ready:\n" << ivr->output();
  }

  // The IVR's whole log once it has handled its calls and exited.
  std::string wait_ivr(std::chrono::seconds timeout = 40s) {
    auto result = ivr->wait(timeout);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return result.output;
  }

  std::string temp_path(const std::string& suffix) {
    auto path = "/tmp/astmrf-ivr-test-" + astmrf_test::random_uuid() + suffix;
    temp_files.push_back(path);
    return path;
  }

  // A scenario that waits `prompt_ms` after the ACK, then sends `digits` as RFC 4733 events.
  std::string dtmf_scenario(const std::string& digits, int prompt_ms) {
    const auto pcap = temp_path(".pcap");
    auto made = astmrf_test::run({IVR_PYTHON, IVR_GEN_DTMF_PCAP, digits, pcap}, 20s);
    EXPECT_EQ(made.exit_code, 0) << made.output;
    std::ifstream in(std::string(IVR_SIPP_DIR) + "/ivr-dtmf.xml.in");
    std::stringstream text;
    text << in.rdbuf();
    auto scenario = text.str();
    replace_all(scenario, "@DTMF_PCAP@", pcap);
    replace_all(scenario, "@PROMPT_MS@", std::to_string(prompt_ms));
    const auto path = temp_path(".xml");
    std::ofstream(path) << scenario;
    return path;
  }

  SippCall caller(const std::string& scenario) {
    SippCall call;
    call.scenario = scenario.find('/') == std::string::npos ? std::string(IVR_SIPP_DIR) + "/" + scenario : scenario;
    call.remote = "127.0.0.1:" + std::to_string(port);
    // A media port of our own: sipp binds it, and other sipps may run beside this one.
    call.extra_args = {"-mp", std::to_string(free_port() & ~1)};
    return call;
  }

  const astmrf_test::Sandbox& box = astmrf_test::sandbox();
  astmrf_test::AriProbe probe = astmrf_test::AriProbe::for_sandbox();
  std::unique_ptr<Process> ivr;
  std::uint16_t port{0};
  std::vector<std::string> temp_files;
};

TEST_F(IvrTest, DigitsAreCollectedFromRfc4733EventsAndReadBack) {
  start_ivr(1);
  const auto result = astmrf_test::run_sipp(caller(dtmf_scenario("1234#", 4000)));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  const auto log = wait_ivr();
  // Asterisk reported each digit as ChannelDtmfReceived (what sipp sent in RTP).
  EXPECT_EQ(field_of(log, "ari type=ChannelDtmfReceived", "digit"), (std::vector<std::string>{"1", "2", "3", "4", "#"}))
      << log;
  EXPECT_EQ(field_of(log, "digits", "digits"), std::vector<std::string>{"1234"}) << log;
  EXPECT_EQ(field_of(log, "media op=play what=readback", "media"),
            std::vector<std::string>{"\"sound:you-entered,digits:1234,sound:goodbye\""})
      << log;
  EXPECT_EQ(field_of(log, "call_end", "result"), std::vector<std::string>{"completed"}) << log;
  EXPECT_EQ(log.find("op=stop_prompt"), std::string::npos) << "digits came after the prompt\n" << log;
}

TEST_F(IvrTest, ADigitDuringThePromptStopsIt) {
  start_ivr(1);
  const auto result = astmrf_test::run_sipp(caller(dtmf_scenario("42#", 500)));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  const auto log = wait_ivr();
  EXPECT_NE(log.find("op=stop_prompt"), std::string::npos) << log;
  EXPECT_EQ(field_of(log, "digits", "digits"), std::vector<std::string>{"42"}) << log;
  EXPECT_EQ(field_of(log, "call_end", "result"), std::vector<std::string>{"completed"}) << log;
}

TEST_F(IvrTest, TheCallerHangsUpDuringThePrompt) {
  start_ivr(1);
  const auto result = astmrf_test::run_sipp(caller("ivr-hangup-during-prompt.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  const auto log = wait_ivr();
  EXPECT_EQ(field_of(log, "call_end", "result"), std::vector<std::string>{"caller_hangup"}) << log;
  EXPECT_TRUE(field_of(log, "media op=play what=readback", "media").empty()) << log;
  EXPECT_EQ(log.find("level=error"), std::string::npos) << log;
}

TEST_F(IvrTest, NoDigitInTimeGetsAGoodbye) {
  start_ivr(1, {}, 1000);
  const auto result = astmrf_test::run_sipp(caller(std::string(ENGINE_SIPP_DIR) + "/uac-invite-wait-bye.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;  // the IVR hung up
  const auto log = wait_ivr();
  EXPECT_EQ(field_of(log, "digits", "complete"), std::vector<std::string>{"timeout"}) << log;
  EXPECT_EQ(field_of(log, "media op=play what=readback", "media"), std::vector<std::string>{"\"sound:goodbye\""})
      << log;
  EXPECT_EQ(field_of(log, "call_end", "result"), std::vector<std::string>{"no_input"}) << log;
}

// Waits until the IVR's log shows `event` (a call reached Stasis: "event=connected").
bool wait_for_log(Process& ivr, const std::string& event) {
  for (int i = 0; i < 200; ++i) {
    if (ivr.output().find(event) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST_F(IvrTest, SigintHangsUpTheCallsInProgress) {
  start_ivr(0, {}, 30000);
  astmrf_test::SippProcess sipp(caller(std::string(ENGINE_SIPP_DIR) + "/uac-invite-wait-bye.xml"));
  ASSERT_TRUE(wait_for_log(*ivr, "event=connected")) << ivr->output();
  ::kill(ivr->pid(), SIGINT);
  const auto result = sipp.wait();
  EXPECT_EQ(result.exit_code, 0) << result.output;  // the caller got the IVR's BYE
  const auto log = wait_ivr(10s);
  EXPECT_EQ(field_of(log, "stopping", "calls_in_progress"), std::vector<std::string>{"1"}) << log;
  EXPECT_EQ(field_of(log, "stopping", "why"), std::vector<std::string>{"signal"}) << log;
  EXPECT_EQ(field_of(log, "call_end", "result"), std::vector<std::string>{"media_ended"}) << log;
}

// SIGTERM drains (issue 22): OPTIONS, a load balancer's probe, get 503 with Retry-After; the call
// in progress goes on to its normal end (digits read back, the IVR's BYE); then the IVR exits 0.
TEST_F(IvrTest, SigtermLetsTheCallInProgressFinishThenExits) {
  start_ivr(0);
  astmrf_test::SippProcess sipp(caller(dtmf_scenario("42#", 4000)));
  ASSERT_TRUE(wait_for_log(*ivr, "event=connected")) << ivr->output();
  ::kill(ivr->pid(), SIGTERM);
  ASSERT_TRUE(wait_for_log(*ivr, "event=draining")) << ivr->output();
  SippCall probe_call;
  probe_call.scenario = std::string(SRF_SIPP_DIR) + "/uac-options-503.xml";
  probe_call.remote = "127.0.0.1:" + std::to_string(port);
  const auto options = astmrf_test::run_sipp(probe_call);
  EXPECT_EQ(options.exit_code, 0) << options.output;
  const auto result = sipp.wait();
  EXPECT_EQ(result.exit_code, 0) << result.output;
  const auto log = wait_ivr(40s);
  EXPECT_EQ(field_of(log, "draining", "calls_in_progress"), std::vector<std::string>{"1"}) << log;
  EXPECT_EQ(field_of(log, "digits", "digits"), std::vector<std::string>{"42"}) << log;
  EXPECT_EQ(field_of(log, "call_end", "result"), std::vector<std::string>{"completed"}) << log;
  EXPECT_EQ(field_of(log, "stopping", "why"), std::vector<std::string>{"drained"}) << log;
  EXPECT_EQ(field_of(log, "stopping", "calls_in_progress"), std::vector<std::string>{"0"}) << log;
}

// The drain's deadline (--drain-timeout) passes with a call still up: it is hung up (the
// caller gets the IVR's BYE) and the IVR exits 0.
TEST_F(IvrTest, SigtermDrainDeadlineHangsUpWhatIsLeft) {
  start_ivr(0, {"--drain-timeout", "1"}, 30000);
  astmrf_test::SippProcess sipp(caller(std::string(ENGINE_SIPP_DIR) + "/uac-invite-wait-bye.xml"));
  ASSERT_TRUE(wait_for_log(*ivr, "event=connected")) << ivr->output();
  ::kill(ivr->pid(), SIGTERM);
  const auto result = sipp.wait();
  EXPECT_EQ(result.exit_code, 0) << result.output;
  const auto log = wait_ivr(15s);
  EXPECT_EQ(field_of(log, "draining", "timeout_s"), std::vector<std::string>{"1"}) << log;
  EXPECT_EQ(field_of(log, "stopping", "why"), std::vector<std::string>{"drain_timeout"}) << log;
  EXPECT_EQ(field_of(log, "stopping", "calls_in_progress"), std::vector<std::string>{"1"}) << log;
  EXPECT_EQ(field_of(log, "call_end", "result"), std::vector<std::string>{"media_ended"}) << log;
}

// --drain-refuses-calls: once draining, a new INVITE gets 503 with Retry-After (a balancer such as
// config/kamailio retries it on another instance) and never reaches the pool; the call in
// progress is unaffected (here hung up at the 1 s drain deadline).
TEST_F(IvrTest, DrainRefusesCallsAnswersNewInvites503) {
  start_ivr(0, {"--drain-timeout", "1", "--drain-refuses-calls"}, 30000);
  astmrf_test::SippProcess sipp(caller(std::string(ENGINE_SIPP_DIR) + "/uac-invite-wait-bye.xml"));
  ASSERT_TRUE(wait_for_log(*ivr, "event=connected")) << ivr->output();
  ::kill(ivr->pid(), SIGTERM);
  ASSERT_TRUE(wait_for_log(*ivr, "event=draining")) << ivr->output();
  const auto refused = astmrf_test::run_sipp(caller("invite-refused-draining.xml"));
  EXPECT_EQ(refused.exit_code, 0) << refused.output;
  const auto result = sipp.wait();
  EXPECT_EQ(result.exit_code, 0) << result.output;
  const auto log = wait_ivr(15s);
  EXPECT_EQ(field_of(log, "rejected", "why"), std::vector<std::string>{"draining"}) << log;
  EXPECT_EQ(field_of(log, "invite", "call_id").size(), 1u) << log;
  EXPECT_EQ(field_of(log, "stopping", "why"), std::vector<std::string>{"drain_timeout"}) << log;
}

// A second signal while draining stops at once: the call is hung up, the IVR exits 0.
TEST_F(IvrTest, ASecondSignalWhileDrainingStopsAtOnce) {
  start_ivr(0, {}, 30000);
  astmrf_test::SippProcess sipp(caller(std::string(ENGINE_SIPP_DIR) + "/uac-invite-wait-bye.xml"));
  ASSERT_TRUE(wait_for_log(*ivr, "event=connected")) << ivr->output();
  ::kill(ivr->pid(), SIGTERM);
  ASSERT_TRUE(wait_for_log(*ivr, "event=draining")) << ivr->output();
  ::kill(ivr->pid(), SIGINT);
  const auto result = sipp.wait();
  EXPECT_EQ(result.exit_code, 0) << result.output;
  const auto log = wait_ivr(10s);
  EXPECT_EQ(field_of(log, "stopping", "why"), std::vector<std::string>{"signal"}) << log;
  EXPECT_EQ(field_of(log, "call_end", "result"), std::vector<std::string>{"media_ended"}) << log;
}

TEST_F(IvrTest, CallsAreSpreadRoundRobinOverMediaServers) {
  const auto entry = "http://127.0.0.1:" + std::to_string(box.ari_port) + ",127.0.0.1:" + std::to_string(box.sip_port);
  start_ivr(2, {"--asterisk", entry, "--asterisk", entry});  // two Stasis apps on one Asterisk
  EXPECT_EQ(field_of(ivr->output(), "media_server_up", "app").size(), 2u) << ivr->output();
  for (int call = 0; call < 2; ++call) {
    const auto result = astmrf_test::run_sipp(caller("ivr-hangup-during-prompt.xml"));
    EXPECT_EQ(result.exit_code, 0) << result.output;
  }
  const auto log = wait_ivr();
  const auto used = field_of(log, "connected", "media_server");
  ASSERT_EQ(used.size(), 2u) << log;
  EXPECT_NE(used[0], used[1]) << log;
}

// A pool of two where the second Asterisk is not running when the IVR starts: the IVR starts
// anyway, calls go to the first, and once the second is up it takes its share. The first is
// named by host name (localhost), ARI and SIP.
TEST_F(IvrTest, AServerDownAtStartJoinsThePoolWhenItComesUp) {
  astmrf_test::SandboxInstance second(
      {.name = IVR2_SANDBOX_NAME, .sip_port = IVR2_SIP_PORT, .ari_port = IVR2_ARI_PORT, .rtp_ports = IVR2_RTP_PORTS});
  second.down();  // a leftover of an earlier run
  const auto first_entry =
      "http://localhost:" + std::to_string(box.ari_port) + ",localhost:" + std::to_string(box.sip_port);
  const auto second_entry =
      "http://127.0.0.1:" + std::to_string(IVR2_ARI_PORT) + ",127.0.0.1:" + std::to_string(IVR2_SIP_PORT);
  start_ivr(4, {"--asterisk", first_entry, "--asterisk", second_entry});
  const auto started = ivr->output();
  const auto first_app = field_of(started, "media_server_up", "app");
  ASSERT_EQ(first_app.size(), 1u) << started;
  const auto waiting = field_of(started, "media_server_not_reachable", "ari");
  EXPECT_EQ(waiting, std::vector<std::string>{"127.0.0.1:" + std::to_string(IVR2_ARI_PORT)}) << started;
  EXPECT_EQ(field_of(started, "ready", "up"), std::vector<std::string>{"1"}) << started;

  for (int call = 0; call < 2; ++call) {
    const auto result = astmrf_test::run_sipp(caller("ivr-hangup-during-prompt.xml"));
    EXPECT_EQ(result.exit_code, 0) << result.output;
  }
  EXPECT_EQ(field_of(ivr->output(), "connected", "media_server"),
            (std::vector<std::string>{first_app[0], first_app[0]}))
      << ivr->output();

  ASSERT_EQ(second.up(), "");
  std::vector<std::string> up;
  for (int i = 0; i < 200 && up.size() < 2; ++i) {
    up = field_of(ivr->output(), "media_server_up", "app");
    if (up.size() < 2) std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(up.size(), 2u) << "the second server did not join\n" << ivr->output();
  const auto second_app = up[1];

  for (int call = 0; call < 2; ++call) {
    const auto result = astmrf_test::run_sipp(caller("ivr-hangup-during-prompt.xml"));
    EXPECT_EQ(result.exit_code, 0) << result.output;
  }
  const auto log = wait_ivr();
  const auto used = field_of(log, "connected", "media_server");
  ASSERT_EQ(used.size(), 4u) << log;
  // Round robin over the two that are up: one of the last two calls went to the newcomer.
  EXPECT_EQ(std::count(used.begin() + 2, used.end(), second_app), 1) << log;
  EXPECT_EQ(field_of(log, "call_end", "result"), std::vector<std::string>(4, "caller_hangup")) << log;
  EXPECT_TRUE(field_of(log, "rejected", "status").empty()) << log;
  // Nothing left on the second Asterisk either (the fixture's is checked by TearDown).
  astmrf_test::AriProbe second_probe("127.0.0.1", IVR2_ARI_PORT, box.ari_user, box.ari_password);
  std::size_t left = 1;
  for (int i = 0; i < 100 && left != 0; ++i) {
    left = channels_of(second_probe, second_app);
    if (left != 0) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(left, 0u) << "channels of " << second_app << " left on the second Asterisk";
}

// Nothing listens on port 9 (discard): the backend cannot connect within its 5 s.
TEST_F(IvrTest, AnUnreachableDrachtioServerIsAClearErrorWithoutTheSecret) {
  auto result =
      astmrf_test::run({IVR_BINARY, "--drachtio", "127.0.0.1:9:cymru", "--ari-password", box.ari_password, "--ari-url",
                        "http://127.0.0.1:" + std::to_string(box.ari_port), "--log-level", "trace"},
                       20s);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("cannot use drachtio-server 127.0.0.1:9"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("cymru"), std::string::npos) << "the drachtio secret is in the log";
}

TEST_F(IvrTest, HelpListsTheOptions) {
  auto result = astmrf_test::run({IVR_BINARY, "--help"}, 10s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  for (const char* option :
       {"--listen", "--drachtio", "--ari-url", "--ari-user", "--ari-password", "--media-sip", "--asterisk",
        "--pool-policy", "--stats-interval", "--log-level", "--log-format", "--metrics"})
    EXPECT_NE(result.output.find(option), std::string::npos) << option << "\n" << result.output;
}

// A real Prometheus scrapes the IVR (--metrics) while sipp makes 20 calls; its HTTP API then
// has the right totals. Prometheus runs on loopback with a temporary configuration and data
// directory, both gone once it is stopped.
TEST_F(IvrTest, PrometheusScrapesTheCallsOfTheIvr) {
  const auto metrics_port = free_port();
  start_ivr(0, {"--metrics", "127.0.0.1:" + std::to_string(metrics_port)});
  const astmrf_test::AriProbe http("127.0.0.1", metrics_port, "-", "-");  // plain GETs; the header is ignored
  EXPECT_EQ(http.request("GET", "/healthz").status, 200u);
  auto ready = http.request("GET", "/readyz");
  EXPECT_EQ(ready.status, 200u) << ready.body;
  std::filesystem::path data;
  {
    astmrf_test::PrometheusServer prometheus(free_port(), {"127.0.0.1:" + std::to_string(metrics_port)});
    data = prometheus.data_dir();
    ASSERT_TRUE(prometheus.wait_for(
        "up{job=\"astmrf\"}", [](double v) { return v == 1; }, 30s))
        << prometheus.output();
    auto call = caller("ivr-hangup-during-prompt.xml");
    call.calls = 20;
    call.extra_args.insert(call.extra_args.end(), {"-r", "10", "-l", "20"});
    const auto result = astmrf_test::run_sipp(call);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    const auto total = [&](const std::string& q) { return prometheus.query(q); };
    EXPECT_TRUE(prometheus.wait_for(
        "sum(astmrf_mrf_caller_connects_total{outcome=\"answered\"})", [](double v) { return v == 20; }, 15s))
        << total("sum(astmrf_mrf_caller_connects_total{outcome=\"answered\"})");
    EXPECT_TRUE(prometheus.wait_for(
        "astmrf_mrf_caller_connect_seconds_count", [](double v) { return v == 20; }, 15s))
        << total("astmrf_mrf_caller_connect_seconds_count");
    EXPECT_TRUE(prometheus.wait_for(
        "sum(astmrf_srf_calls_total{direction=\"inbound\",outcome=\"answered\"})", [](double v) { return v == 20; },
        15s));
    EXPECT_TRUE(prometheus.wait_for(
        "sum(astmrf_mrf_endpoints_ended_total)", [](double v) { return v == 20; }, 15s));
    EXPECT_EQ(total("up{job=\"astmrf\"}"), 1);
    EXPECT_EQ(total("sum(astmrf_mrf_server_up)"), 1);
    EXPECT_EQ(total("sum(astmrf_mrf_endpoint_setups_total{outcome=\"up\"})"), 20);
    EXPECT_EQ(total("sum(astmrf_mrf_endpoint_setups_total{outcome!=\"up\"})"), 0);
    EXPECT_GE(total("sum(astmrf_sip_requests_received_total{method=\"INVITE\"})"), 20);
    EXPECT_GE(total("sum(astmrf_ari_requests_total{family=\"channels\"})"), 20);
    EXPECT_EQ(total("sum(astmrf_ari_websocket_up)"), 1);
    const auto p99 = total("histogram_quantile(0.99, sum by (le) (astmrf_mrf_caller_connect_seconds_bucket))");
    EXPECT_GT(p99, 0);
    EXPECT_LE(p99, 4);  // within setup_timeout
    prometheus.stop();
    EXPECT_FALSE(std::filesystem::exists(data)) << data;
  }
  ::kill(ivr->pid(), SIGTERM);
  wait_ivr(10s);
}

// One call at debug level, JSON lines: every library line (logger astmrf) about the call
// names it — the caller's Call-ID, or for the SIP lines of its Asterisk leg that leg's own
// Call-ID, which endpoint_up links to the caller's.
TEST_F(IvrTest, EveryLibraryLineAboutACallCarriesItsCallId) {
  start_ivr(1, {"--log-format", "json"});
  const auto result = astmrf_test::run_sipp(caller("ivr-hangup-during-prompt.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  const auto log = wait_ivr();
  std::vector<boost::json::object> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not a JSON line: " << line;
    ASSERT_TRUE(value.is_object()) << line;
    lines.push_back(value.as_object());
  }
  auto field = [](const boost::json::object& o, const char* key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  std::string call_id;
  std::string channel_id;
  std::string leg_call_id;
  for (const auto& o : lines) {
    if (field(o, "logger") == "ivr" && field(o, "event") == "invite") call_id = field(o, "call_id");
    if (field(o, "logger") == "astmrf" && field(o, "event") == "endpoint_up") {
      channel_id = field(o, "channel_id");
      leg_call_id = field(o, "asterisk_call_id");
      EXPECT_EQ(field(o, "call_id"), call_id);
      EXPECT_FALSE(field(o, "server").empty());
    }
  }
  ASSERT_FALSE(call_id.empty()) << log;
  ASSERT_FALSE(channel_id.empty()) << log;
  ASSERT_FALSE(leg_call_id.empty()) << log;
  std::set<std::string> events;
  std::size_t about_the_call = 0;
  for (const auto& o : lines) {
    if (field(o, "logger") != "astmrf") continue;
    const auto text = boost::json::serialize(o);
    const bool mentions_caller = text.find(call_id) != std::string::npos;
    const bool mentions_channel = text.find(channel_id) != std::string::npos;
    const bool mentions_leg = text.find(leg_call_id) != std::string::npos;
    if (!mentions_caller && !mentions_channel && !mentions_leg) continue;
    ++about_the_call;
    const auto id = field(o, "call_id");
    if (mentions_channel || mentions_caller) {
      EXPECT_EQ(id, call_id) << text;
    } else {
      EXPECT_EQ(id, leg_call_id) << text;
    }
    if (id == call_id) events.insert(field(o, "event"));
  }
  for (const char* event : {"endpoint_setup", "endpoint_up", "caller_connected", "call_answered", "endpoint_ended"})
    EXPECT_TRUE(events.count(event)) << event << " missing\n" << log;
  EXPECT_GE(about_the_call, 8u) << log;
}

// At trace level every SIP message and every ARI request and event is logged: still no
// password, no Basic credentials.
TEST_F(IvrTest, AtTraceLevelNoSecretReachesTheLog) {
  start_ivr(1, {"--log-level", "trace"});
  const auto result = astmrf_test::run_sipp(caller("ivr-hangup-during-prompt.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  const auto log = wait_ivr();
  EXPECT_NE(log.find("event=sip_in"), std::string::npos) << log;
  EXPECT_NE(log.find("event=ari_request"), std::string::npos) << log;
  EXPECT_NE(log.find("event=ari_event"), std::string::npos) << log;
  const auto basic = probe.basic_auth();  // "Basic <base64 of user:password>"
  EXPECT_EQ(log.find(basic.substr(basic.find(' ') + 1)), std::string::npos) << "Basic credentials in the log";
  EXPECT_EQ(log.find(box.ari_password), std::string::npos) << "the ARI password is in the log";
}

}  // namespace
