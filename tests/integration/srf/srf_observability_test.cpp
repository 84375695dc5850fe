// Srf's call metrics and log lines: two Srf applications in this process, each on its
// own embedded engine, call each other (A places the calls, B answers them).
#include "../engine/engine_harness.hpp"
#include "astmrf_test/observe.hpp"

#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/srf.hpp>
#include <astmrf/util/log.hpp>
#include <astmrf/util/metrics.hpp>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace {

using namespace std::chrono_literals;
namespace srf = astmrf::srf;
using astmrf::sip::Transport;
using astmrf::util::metrics::Registry;
using astmrf_test::EngineHarness;
using astmrf_test::EventLog;

const std::string kSdp =
    "v=0\r\no=astmrf 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

std::string describe(std::exception_ptr error) {
  if (!error) return "ok";
  try {
    std::rethrow_exception(error);
  } catch (const srf::SipFailure& failure) {
    return "SipFailure " + std::to_string(failure.status());
  } catch (const srf::CallCancelled&) {
    return "CallCancelled";
  } catch (const std::exception& other) {
    return std::string("error ") + other.what();
  }
}

std::uint64_t calls(Registry& registry, const std::string& direction, const std::string& outcome) {
  return registry.counter("astmrf_srf_calls_total", "", {"direction", "outcome"}).with({direction, outcome})->value();
}
double dialogs(Registry& registry, const std::string& direction) {
  return registry.gauge("astmrf_srf_dialogs", "", {"direction"}).with({direction})->value();
}

astmrf::sip::EngineConfig engine_config(const std::shared_ptr<spdlog::logger>& logger) {
  auto config = EngineHarness::test_config();
  config.logger = logger;
  return config;
}

class SrfObservability : public testing::Test {
 protected:
  explicit SrfObservability(std::shared_ptr<spdlog::logger> logger = nullptr)
      : a(engine_config(logger)), b(engine_config(logger)) {
    a.run([&] {
      caller = std::make_unique<srf::Srf>(srf::make_engine_backend(a.engine()), srf::SrfOptions{metrics_a, logger});
      return 0;
    });
    b.run([&] {
      callee = std::make_unique<srf::Srf>(srf::make_engine_backend(b.engine()), srf::SrfOptions{metrics_b, logger});
      // The user part of the Request-URI says what to do.
      callee->invite([this](srf::Request req, srf::Response res) {
        auto uri = std::string(req.uri());
        if (uri.starts_with("sip:busy@")) {
          res.send(486);
          return;
        }
        if (uri.starts_with("sip:throw@")) throw std::runtime_error("a bug in the handler");
        if (uri.starts_with("sip:ring@")) {
          res.send(180);
          return;  // the caller gives up
        }
        if (uri.starts_with("sip:auth@")) {
          auto authorization = std::string(req.header("Authorization"));
          if (authorization.empty()) {
            res.send(401,
                     srf::ResponseOptions{
                         {}, {{"WWW-Authenticate", "Digest realm=\"test\", nonce=\"n0nce\", algorithm=MD5"}}, {}, {}});
            return;
          }
          std::lock_guard lock(mutex);
          authorizations.push_back(authorization);
        }
        callee->async_create_uas(req, res, srf::UasOptions{kSdp, {}},
                                 [this](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
                                   log.add("uas " + describe(error));
                                   if (dialog) {
                                     dialog->on_destroy([this](const srf::DestroyedInfo&) { log.add("uas ended"); });
                                     up = dialog;
                                   }
                                 });
      });
      return 0;
    });
  }
  ~SrfObservability() override {
    b.run([&] {
      up.reset();
      callee.reset();
      return 0;
    });
    a.run([&] {
      caller.reset();
      return 0;
    });
  }

  // A calls `user` at B; answered calls are hung up by A at once.
  void call(const std::string& user, srf::UacOptions options = {}) {
    a.run([&] {
      options.local_sdp = kSdp;
      caller->async_create_uac(
          "sip:" + user + "@" + b.address(Transport::udp), options,
          [this, user](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
            log.add("uac " + user + " " + describe(error));
            if (dialog) {
              log.add("outbound dialogs " + std::to_string(static_cast<int>(dialogs(*metrics_a, "outbound"))));
              dialog->destroy();
            }
          });
      return 0;
    });
  }

  std::shared_ptr<Registry> metrics_a = std::make_shared<Registry>();
  std::shared_ptr<Registry> metrics_b = std::make_shared<Registry>();
  EventLog log;
  std::mutex mutex;
  std::vector<std::string> authorizations;
  EngineHarness a;
  EngineHarness b;
  std::unique_ptr<srf::Srf> caller;
  std::unique_ptr<srf::Srf> callee;
  std::shared_ptr<srf::Dialog> up;  // B's last answered dialog
};

TEST_F(SrfObservability, CountsCallsByDirectionAndOutcome) {
  call("answer");
  ASSERT_TRUE(log.wait_for("uac answer ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("outbound dialogs 1")) << log.joined();
  ASSERT_TRUE(log.wait_for("uas ended")) << log.joined();

  call("busy");
  ASSERT_TRUE(log.wait_for("uac busy SipFailure 486")) << log.joined();

  srf::UacOptions ring;
  ring.timeout = 300ms;
  call("ring", ring);
  ASSERT_TRUE(log.wait_for("uac ring CallCancelled")) << log.joined();

  call("throw");
  ASSERT_TRUE(log.wait_for("uac throw SipFailure 500")) << log.joined();
  EXPECT_EQ(calls(*metrics_b, "inbound", "failed"), 1u);  // the handler threw: Srf answered 500
  EXPECT_EQ(calls(*metrics_b, "inbound", "rejected_5xx"), 0u);
  EXPECT_EQ(calls(*metrics_a, "outbound", "rejected_5xx"), 1u);

  EXPECT_EQ(calls(*metrics_a, "outbound", "answered"), 1u);
  EXPECT_EQ(calls(*metrics_a, "outbound", "rejected_4xx"), 1u);
  EXPECT_EQ(calls(*metrics_a, "outbound", "cancelled"), 1u);
  EXPECT_EQ(calls(*metrics_a, "outbound", "failed"), 0u);
  EXPECT_EQ(calls(*metrics_a, "inbound", "answered"), 0u);
  // B saw the CANCEL (it comes before the 487 that completed A's call).
  EXPECT_EQ(calls(*metrics_b, "inbound", "answered"), 1u);
  EXPECT_EQ(calls(*metrics_b, "inbound", "rejected_4xx"), 1u);
  EXPECT_EQ(calls(*metrics_b, "inbound", "cancelled"), 1u);
  EXPECT_EQ(calls(*metrics_b, "outbound", "answered"), 0u);
  EXPECT_EQ(dialogs(*metrics_a, "outbound"), 0);
  EXPECT_EQ(dialogs(*metrics_b, "inbound"), 0);
  EXPECT_NE(metrics_b->expose().find("astmrf_srf_calls_total{direction=\"inbound\",outcome=\"answered\"} 1"),
            std::string::npos)
      << metrics_b->expose();
}

// Engines and Srfs at trace level: every SIP message is logged, credentials never.
class SrfTraceLogging : public SrfObservability {
 protected:
  SrfTraceLogging() : SrfObservability(make_logger()) {}
  static std::shared_ptr<spdlog::logger> make_logger() {
    capture = std::make_unique<astmrf_test::LogCapture>(spdlog::level::trace);
    return capture->logger();
  }
  static inline std::unique_ptr<astmrf_test::LogCapture> capture;
};

TEST_F(SrfTraceLogging, NeverLogsPasswordsOrAuthorizationValues) {
  srf::UacOptions plain;
  plain.headers = {{"Authorization", "Digest username=\"u\", realm=\"r\", response=\"SECRETVALUE\""}};
  call("answer", plain);
  ASSERT_TRUE(log.wait_for("uac answer ok")) << log.joined();
  ASSERT_TRUE(log.wait_for("uas ended")) << log.joined();

  srf::UacOptions auth;
  auth.auth = srf::DigestCredentials{"alice", "PASSWORD123"};
  call("auth", auth);
  ASSERT_TRUE(log.wait_for("uac auth ok")) << log.joined();
  std::this_thread::sleep_for(200ms);  // the BYE and its 200

  std::string digest;  // the response= value A computed
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(authorizations.size(), 1u);
    auto at = authorizations[0].find("response=\"");
    ASSERT_NE(at, std::string::npos) << authorizations[0];
    digest = authorizations[0].substr(at + 10, authorizations[0].find('"', at + 10) - at - 10);
  }
  ASSERT_FALSE(digest.empty());
  bool redacted = false;
  bool answered = false;
  bool dialog_ended = false;
  std::size_t sip_lines = 0;
  for (const auto& line : capture->lines()) {
    EXPECT_EQ(line.find("SECRETVALUE"), std::string::npos) << line;
    EXPECT_EQ(line.find("PASSWORD123"), std::string::npos) << line;
    EXPECT_EQ(line.find(digest), std::string::npos) << line;
    if (line.find("<redacted>") != std::string::npos) redacted = true;
    auto fields = astmrf::util::parse_fields(line);
    ASSERT_GE(fields.size(), 2u) << line;
    EXPECT_EQ(fields[0].first, "event") << line;
    if (fields[0].second.starts_with("call_") || fields[0].second == "dialog_ended") {
      EXPECT_EQ(fields[1].first, "call_id") << line;
    }
    if (fields[0].second == "call_answered") answered = true;
    if (fields[0].second == "dialog_ended") dialog_ended = true;
    if (fields[0].second == "sip_in" || fields[0].second == "sip_out") ++sip_lines;
  }
  EXPECT_TRUE(redacted);
  EXPECT_TRUE(answered);
  EXPECT_TRUE(dialog_ended);
  EXPECT_GE(sip_lines, 20u);
}

}  // namespace
