// Srf draining (issue 22): OPTIONS (a load balancer's probe) answered 503 with Retry-After
// while calls in progress finish, and async_wait_idle telling when the last one ended.
// Against sipp through the embedded engine.
#include "astmrf_test/sipp.hpp"
#include "srf_fixture.hpp"

#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace srf = astmrf::srf;
using astmrf::sip::Transport;
using astmrf_test::EventLog;
using astmrf_test::SippCall;

const std::string& kSdp = astmrf_test::kSrfTestSdp;

std::string describe(std::exception_ptr error) {
  if (!error) return "ok";
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    return e.code() == asio::error::operation_aborted ? "aborted" : e.what();
  } catch (const std::exception& e) {
    return e.what();
  }
}

class SrfDrainTest : public astmrf_test::SrfFixture {
 protected:
  ~SrfDrainTest() override {
    harness.run([&] {
      dialog.reset();
      return 0;
    });
  }

  void expect_options(int status) {
    auto result = astmrf_test::run_sipp(status == 200 ? sipp(ENGINE_SIPP_DIR, "uac-options.xml")
                                                      : sipp(SRF_SIPP_DIR, "uac-options-503.xml"));
    EXPECT_EQ(result.exit_code, 0) << result.output;
  }
  std::size_t calls_in_progress() {
    return harness.run([&] { return app->calls_in_progress(); });
  }

  std::shared_ptr<srf::Dialog> dialog;  // touched on the engine thread only
};

TEST_F(SrfDrainTest, OptionsGet503WithRetryAfterWhileDrainingAnd200Otherwise) {
  expect_options(200);
  harness.run([&] {
    app->set_draining(true, 15s);
    return 0;
  });
  EXPECT_TRUE(harness.run([&] { return app->draining(); }));
  expect_options(503);
  harness.run([&] {
    app->set_draining(false);
    return 0;
  });
  expect_options(200);
}

TEST_F(SrfDrainTest, DrainingOverridesTheApplicationsOptionsHandler) {
  harness.run([&] {
    app->options([&](srf::Request, srf::Response res) {
      log.add("handler");
      res.send(200);
    });
    app->set_draining(true);
    return 0;
  });
  expect_options(503);
  EXPECT_TRUE(log.events().empty()) << log.joined();
}

TEST_F(SrfDrainTest, WaitIdleCompletesAtOnceWithoutCallsAndCanBeCancelled) {
  asio::cancellation_signal signal;
  harness.run([&] {
    app->async_wait_idle([&](std::exception_ptr error) { log.add("idle " + describe(error)); });
    return 0;
  });
  EXPECT_TRUE(log.wait_for("idle ok")) << log.joined();
  // With a call in progress (answered, waiting for the app's BYE) the wait is pending; cancelled, it ends.
  harness.run([&] {
    app->invite([&](srf::Request req, srf::Response res) {
      app->async_create_uas(req, res, srf::UasOptions{kSdp, {}},
                            [&](std::exception_ptr error, std::shared_ptr<srf::Dialog> d) {
                              log.add("uas " + describe(error));
                              dialog = std::move(d);
                            });
    });
    return 0;
  });
  astmrf_test::SippProcess caller(sipp(ENGINE_SIPP_DIR, "uac-invite-wait-bye.xml"));
  ASSERT_TRUE(log.wait_for("uas ok")) << log.joined();
  EXPECT_EQ(calls_in_progress(), 1U);
  harness.run([&] {
    app->async_wait_idle(asio::bind_cancellation_slot(
        signal.slot(), [&](std::exception_ptr error) { log.add("wait " + describe(error)); }));
    signal.emit(asio::cancellation_type::terminal);
    return 0;
  });
  EXPECT_TRUE(log.wait_for("wait aborted")) << log.joined();
  harness.run([&] {
    dialog->destroy();
    return 0;
  });
  auto result = caller.wait();
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(calls_in_progress(), 0U);
}

// The sequence: a call is up, the instance drains (its probe gets 503), the call goes on
// and ends normally, and only then does async_wait_idle complete. An INVITE that arrives while
// draining is served (set_draining documents why).
TEST_F(SrfDrainTest, ACallInProgressFinishesAndIdleFollowsItsBye) {
  std::vector<std::shared_ptr<srf::Dialog>> calls;  // engine thread only
  harness.run([&] {
    app->invite([&](srf::Request req, srf::Response res) {
      app->async_create_uas(req, res, srf::UasOptions{kSdp, {}},
                            [&](std::exception_ptr error, std::shared_ptr<srf::Dialog> d) {
                              log.add("uas " + describe(error));
                              if (!d) return;
                              const auto n = std::to_string(calls.size());
                              d->on_destroy([&, n](const srf::DestroyedInfo&) { log.add("call " + n + " ended"); });
                              calls.push_back(std::move(d));
                            });
    });
    return 0;
  });
  astmrf_test::SippProcess caller(sipp(ENGINE_SIPP_DIR, "uac-invite-wait-bye.xml"));
  ASSERT_TRUE(log.wait_for("uas ok")) << log.joined();
  harness.run([&] {
    app->set_draining(true);
    app->async_wait_idle([&](std::exception_ptr error) { log.add("idle " + describe(error)); });
    return 0;
  });
  expect_options(503);
  EXPECT_EQ(calls_in_progress(), 1U);

  // A new INVITE while draining is still answered (the balancer's probe may not have noticed yet).
  auto second = astmrf_test::run_sipp(sipp(ENGINE_SIPP_DIR, "uac-invite-bye.xml"));
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_TRUE(log.wait_for("call 1 ended")) << log.joined();
  EXPECT_EQ(calls_in_progress(), 1U);
  EXPECT_EQ(log.joined().find("idle"), std::string::npos) << log.joined();

  harness.run([&] {
    calls.front()->destroy();  // the call in progress ends normally (BYE, 200)
    return 0;
  });
  auto result = caller.wait();
  EXPECT_EQ(result.exit_code, 0) << result.output;
  ASSERT_TRUE(log.wait_for("idle ok")) << log.joined();
  auto events = log.events();
  auto ended = std::find(events.begin(), events.end(), "call 0 ended");
  auto idle = std::find(events.begin(), events.end(), "idle ok");
  EXPECT_LT(ended, idle) << log.joined();  // the notification follows the BYE
  EXPECT_EQ(calls_in_progress(), 0U);
  harness.run([&] {
    calls.clear();
    return 0;
  });
}

}  // namespace
