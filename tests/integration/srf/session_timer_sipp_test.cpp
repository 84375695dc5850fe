// Session timers (RFC 4028) of Srf against sipp in both roles, through the embedded engine.
// The intervals are a few seconds (a test-only Min-SE below RFC 4028's 90 s).
#include "astmrf_test/sipp.hpp"
#include "srf_fixture.hpp"

#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/srf.hpp>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
namespace srf = astmrf::srf;
using astmrf::sip::Transport;
using astmrf_test::EventLog;
using astmrf_test::SippCall;

const std::string& kSdp = astmrf_test::kSrfTestSdp;

std::string describe(const std::exception_ptr& error) {
  if (!error) return "ok";
  try {
    std::rethrow_exception(error);
  } catch (const srf::SipFailure& failure) {
    return "SipFailure " + std::to_string(failure.status());
  } catch (const std::exception& other) {
    return std::string("error ") + other.what();
  }
}

srf::SessionTimerOptions short_timers(srf::SessionTimerOptions::Refresher refresher) {
  srf::SessionTimerOptions options;
  options.interval = 4s;
  options.min_se = 2s;
  options.refresher = refresher;
  return options;
}

class SessionTimerTest : public astmrf_test::SrfFixture {
 protected:
  SippCall caller(const std::string& scenario) { return sipp(SRF_SIPP_DIR, scenario); }
  void watch(const std::shared_ptr<srf::Dialog>& dialog) {
    dialog->on_destroy([this](const srf::DestroyedInfo& info) {
      log.add("destroyed " + std::string(srf::to_string(info.who)) + " " +
              std::string(astmrf::sip::to_string(info.reason)));
    });
    dialogs.push_back(dialog);
  }
  // Answers every INVITE with session timers.
  void answer(srf::SessionTimerOptions timers) {
    harness.run([&, timers] {
      app->invite([&, timers](srf::Request req, srf::Response res) {
        srf::UasOptions options{kSdp, {}, timers};
        app->async_create_uas(req, res, options, [&](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
          log.add("uas " + describe(error));
          if (dialog) watch(dialog);
        });
      });
      return 0;
    });
  }
};

TEST_F(SessionTimerTest, UasKeepsACallTheCallerRefreshes) {
  answer(short_timers(srf::SessionTimerOptions::Refresher::none));
  auto result = astmrf_test::run_sipp(caller("uac-timer-refresh.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("uas ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("destroyed remote remote_bye")) << log.joined();
}

TEST_F(SessionTimerTest, UasEndsACallWhoseRefreshNeverComes) {
  answer(short_timers(srf::SessionTimerOptions::Refresher::none));
  auto result = astmrf_test::run_sipp(caller("uac-timer-silent.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("uas ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("destroyed system session_timer")) << log.joined();
}

TEST_F(SessionTimerTest, UasRefusesTooSmallAnIntervalWith422) {
  answer(short_timers(srf::SessionTimerOptions::Refresher::none));
  auto result = astmrf_test::run_sipp(caller("uac-timer-too-small.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("uas SipFailure 422")) << log.joined();
}

TEST_F(SessionTimerTest, UasRefreshesByReInviteWhenItIsTheRefresher) {
  answer(short_timers(srf::SessionTimerOptions::Refresher::uas));
  auto result = astmrf_test::run_sipp(caller("uac-timer-uas-refreshes.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("uas ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("destroyed remote remote_bye")) << log.joined();
}

TEST_F(SessionTimerTest, UacRetriesA422AndRefreshesByUpdate) {
  const auto port = astmrf_test::free_port(Transport::udp);
  SippCall call;
  call.scenario = std::string(SRF_SIPP_DIR) + "/uas-timer-422.xml";
  call.remote = harness.address(Transport::udp);
  call.extra_args = {"-p", std::to_string(port)};
  astmrf_test::SippProcess sipp(call);
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, port));
  harness.run([&] {
    srf::UacOptions options;
    options.local_sdp = kSdp;
    options.session_timer = short_timers(srf::SessionTimerOptions::Refresher::uac);
    options.session_timer->interval = 2s;  // the 422 raises it to 3
    app->async_create_uac("sip:callee@127.0.0.1:" + std::to_string(port), options,
                          [&](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
                            log.add("uac " + describe(error));
                            if (dialog) watch(dialog);
                          });
    return 0;
  });
  auto result = sipp.wait();
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("uac ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("destroyed remote remote_bye")) << log.joined();
}

}  // namespace
