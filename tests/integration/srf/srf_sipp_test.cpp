// Srf, the application's signaling API, against sipp through the embedded engine.
// Each async API form is used: callbacks, C++20 coroutines (use_awaitable) and
// futures (use_future). The suite talks to Srf only, so that it can run over any
// signaling backend.
#include "../engine/engine_harness.hpp"
#include "astmrf_test/sipp.hpp"

#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace srf = astmrf::srf;
using astmrf::sip::Transport;
using astmrf_test::EngineHarness;
using astmrf_test::EventLog;
using astmrf_test::SippCall;

const std::string kSdp =
    "v=0\r\no=astmrf 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

std::string describe(std::exception_ptr error) {
  if (!error) return "ok";
  try {
    std::rethrow_exception(error);
  } catch (const srf::SipFailure& failure) {
    return "SipFailure " + std::to_string(failure.status());
  } catch (const srf::RequestCancelled&) {
    return "RequestCancelled";
  } catch (const srf::CallCancelled&) {
    return "CallCancelled";
  } catch (const std::exception& other) {
    return std::string("error ") + other.what();
  }
}

class SrfTest : public testing::Test {
 protected:
  SrfTest() {
    harness.run([&] {
      app = std::make_unique<srf::Srf>(srf::make_engine_backend(harness.engine()));
      return 0;
    });
  }
  ~SrfTest() override {
    harness.run([&] {
      dialogs.clear();
      app.reset();
      return 0;
    });
  }

  SippCall caller(const std::string& scenario) {
    SippCall call;
    call.scenario = std::string(ENGINE_SIPP_DIR) + "/" + scenario;
    call.remote = harness.address(Transport::udp);
    return call;
  }
  std::unique_ptr<astmrf_test::SippProcess> callee(const std::string& scenario, std::uint16_t& port) {
    port = astmrf_test::free_port(Transport::udp);
    SippCall call;
    call.scenario = std::string(SRF_SIPP_DIR) + "/" + scenario;
    call.remote = harness.address(Transport::udp);
    call.extra_args = {"-p", std::to_string(port)};
    auto sipp = std::make_unique<astmrf_test::SippProcess>(call);
    EXPECT_TRUE(astmrf_test::wait_until_bound(Transport::udp, port));
    return sipp;
  }
  std::unique_ptr<astmrf_test::SippProcess> engine_callee(const std::string& scenario, std::uint16_t& port) {
    port = astmrf_test::free_port(Transport::udp);
    SippCall call;
    call.scenario = std::string(ENGINE_SIPP_DIR) + "/" + scenario;
    call.remote = harness.address(Transport::udp);
    call.extra_args = {"-p", std::to_string(port)};
    auto sipp = std::make_unique<astmrf_test::SippProcess>(call);
    EXPECT_TRUE(astmrf_test::wait_until_bound(Transport::udp, port));
    return sipp;
  }
  void keep(const std::shared_ptr<srf::Dialog>& dialog) { dialogs.push_back(dialog); }
  void watch(const std::shared_ptr<srf::Dialog>& dialog) {
    dialog->on_destroy([this](const srf::DestroyedInfo& info) {
      log.add("destroyed " + std::string(srf::to_string(info.who)) + " " +
              std::string(astmrf::sip::to_string(info.reason)));
    });
  }

  EventLog log;
  EngineHarness harness;
  std::unique_ptr<srf::Srf> app;
  std::vector<std::shared_ptr<srf::Dialog>> dialogs;  // touched on the engine thread only
};

// ------------------------------------------------------------------ UAS

TEST_F(SrfTest, UasAnswersWithACallbackAndTheCallerHangsUp) {
  harness.run([&] {
    app->invite([&](srf::Request req, srf::Response res) {
      app->async_create_uas(
          req, res, srf::UasOptions{kSdp, {}}, [&](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
            log.add("uas " + describe(error));
            if (!dialog) return;
            log.add(dialog->remote_sdp().find("m=audio") != std::string::npos ? "remote sdp" : "no sdp");
            watch(dialog);
            keep(dialog);
          });
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-bye.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("uas ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("remote sdp")) << log.joined();
  EXPECT_TRUE(log.wait_for("destroyed remote remote_bye")) << log.joined();
}

TEST_F(SrfTest, UasAnswersInACoroutineAndTheAppHangsUp) {
  harness.run([&] {
    app->invite([&](srf::Request req, srf::Response res) {
      asio::co_spawn(
          app->get_executor(),
          [&, req, res]() -> asio::awaitable<void> {
            // g++ 12 destroys temporaries of a co_await full-expression twice
            // (a compiler bug): pass named objects, not temporaries.
            srf::UasOptions options{kSdp, {}};
            auto dialog = co_await app->async_create_uas(req, res, options, asio::use_awaitable);
            log.add("answered");
            watch(dialog);
            dialog->destroy();
            dialog->destroy();  // idempotent
            auto info = co_await dialog->async_wait_destroyed(asio::use_awaitable);
            log.add("awaited " + std::string(srf::to_string(info.who)));
          },
          asio::detached);
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-wait-bye.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("destroyed local local_bye")) << log.joined();
  EXPECT_TRUE(log.wait_for("awaited local")) << log.joined();
}

TEST_F(SrfTest, UasRejects) {
  harness.run([&] {
    app->invite([](srf::Request, srf::Response res) {
      res.send(486, srf::ResponseOptions{{}, {{"X-Reason", "busy"}}, {}, {}});
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-reject.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(SrfTest, CallerCancelsWhileTheAppIsStillWorking) {
  harness.run([&] {
    app->invite([&](srf::Request req, srf::Response res) {
      res.send(180);
      req.async_wait_cancelled([&, req, res](std::exception_ptr, bool cancelled) mutable {
        log.add(cancelled ? "saw cancel" : "not cancelled");
        // The app's late answer fails cleanly instead of reaching the caller.
        app->async_create_uas(
            req, res, srf::UasOptions{kSdp, {}},
            [&](std::exception_ptr error, std::shared_ptr<srf::Dialog>) { log.add("late uas " + describe(error)); });
      });
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-cancel.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("saw cancel")) << log.joined();
  EXPECT_TRUE(log.wait_for("late uas RequestCancelled")) << log.joined();
}

TEST_F(SrfTest, InfoAndReinviteInTheDialog) {
  harness.run([&] {
    app->invite([&](srf::Request req, srf::Response res) {
      app->async_create_uas(
          req, res, srf::UasOptions{kSdp, {}}, [&](std::exception_ptr, std::shared_ptr<srf::Dialog> dialog) {
            if (!dialog) return;
            dialog->on("INFO", [&](srf::Request info, srf::Response info_res) {
              log.add("info " + std::string(info.method()));
              info_res.send(200);
            });
            // re-INVITE: default auto-answer with the current local SDP.
            std::weak_ptr<srf::Dialog> weak = dialog;
            dialog->on_destroy([&, weak](const srf::DestroyedInfo&) {
              if (auto d = weak.lock()) {
                log.add(d->remote_sdp().find("a=sendonly") != std::string::npos ? "held" : "not held");
              }
            });
            keep(dialog);
          });
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-reinvite-info.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("info INFO")) << log.joined();
  EXPECT_TRUE(log.wait_for("held")) << log.joined();
}

TEST_F(SrfTest, AHandlerThatThrowsGives500) {
  harness.run([&] {
    app->invite([](srf::Request, srf::Response) { throw std::runtime_error("bug in the application"); });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-500.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(SrfTest, UnhandledMethodsGetADefaultAnswer) {
  // No OPTIONS handler: the default answers 200 with Allow.
  auto result = astmrf_test::run_sipp(caller("uac-options.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

// ------------------------------------------------------------------ UAC

std::string uri_for(std::uint16_t port) { return "sip:sipp@127.0.0.1:" + std::to_string(port); }

TEST_F(SrfTest, UacSucceedsWithAFutureAndTheAppHangsUp) {
  std::uint16_t port = 0;
  auto sipp = engine_callee("uas-answer.xml", port);
  auto future = harness.run([&] {
    srf::UacOptions options;
    options.local_sdp = kSdp;
    options.on_provisional = [&](const astmrf::sip::Message& response) {
      log.add("provisional " + std::to_string(response.status()));
    };
    return app->async_create_uac(uri_for(port), options, asio::use_future);
  });
  auto dialog = future.get();
  ASSERT_TRUE(dialog);
  EXPECT_TRUE(log.wait_for("provisional 180", 1s)) << log.joined();
  EXPECT_TRUE(log.wait_for("provisional 183", 1s)) << log.joined();
  harness.run([&] {
    EXPECT_NE(dialog->remote_sdp().find("m=audio"), std::string::npos);
    watch(dialog);
    dialog->destroy();
    dialog.reset();
    return 0;
  });
  EXPECT_TRUE(log.wait_for("destroyed local local_bye")) << log.joined();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(SrfTest, UacFailureCarriesTheStatus) {
  std::uint16_t port = 0;
  auto sipp = engine_callee("uas-reject-486.xml", port);
  harness.run([&] {
    app->async_create_uac(uri_for(port), srf::UacOptions{kSdp, {}, {}, {}, {}, {}, {}, 0ms, {}},
                          [&](std::exception_ptr error, std::shared_ptr<srf::Dialog>) { log.add(describe(error)); });
    return 0;
  });
  EXPECT_TRUE(log.wait_for("SipFailure 486")) << log.joined();
  EXPECT_EQ(sipp->wait(20s).exit_code, 0);
}

TEST_F(SrfTest, UacAnswersADigestChallenge) {
  std::uint16_t port = 0;
  auto sipp = callee("uas-digest.xml", port);
  harness.run([&] {
    srf::UacOptions options;
    options.local_sdp = kSdp;
    options.auth = srf::DigestCredentials{"alice", "secret"};
    app->async_create_uac(uri_for(port), options, [&](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
      log.add("uac " + describe(error));
      if (dialog) dialog->destroy();
    });
    return 0;
  });
  EXPECT_TRUE(log.wait_for("uac ok")) << log.joined();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(SrfTest, UacCancelledThroughItsTokenCompletesWithOperationAbortedAndSendsCancel) {
  std::uint16_t port = 0;
  auto sipp = engine_callee("uas-no-answer.xml", port);
  auto signal = std::make_shared<boost::asio::cancellation_signal>();
  harness.run([&] {
    srf::UacOptions options;
    options.local_sdp = kSdp;
    options.on_provisional = [signal](const astmrf::sip::Message&) {
      signal->emit(boost::asio::cancellation_type::terminal);
    };
    app->async_create_uac(
        uri_for(port), options,
        boost::asio::bind_cancellation_slot(
            signal->slot(), [&, signal](std::exception_ptr error, std::shared_ptr<srf::Dialog>) {
              try {
                if (error) std::rethrow_exception(error);
                log.add("uac ok");
              } catch (const boost::system::system_error& e) {
                log.add(e.code() == boost::asio::error::operation_aborted ? "uac aborted" : describe(error));
              } catch (...) {
                log.add(describe(error));
              }
            }));
    return 0;
  });
  EXPECT_TRUE(log.wait_for("uac aborted")) << log.joined();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;  // sipp got the CANCEL, then sent 487
  EXPECT_EQ(log.events().size(), 1u) << log.joined();
}

TEST_F(SrfTest, UacIsCancelledWhenNobodyAnswersInTime) {
  std::uint16_t port = 0;
  auto sipp = engine_callee("uas-no-answer.xml", port);
  harness.run([&] {
    srf::UacOptions options;
    options.local_sdp = kSdp;
    options.timeout = 300ms;
    app->async_create_uac(uri_for(port), options,
                          [&](std::exception_ptr error, std::shared_ptr<srf::Dialog>) { log.add(describe(error)); });
    return 0;
  });
  EXPECT_TRUE(log.wait_for("CallCancelled")) << log.joined();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(SrfTest, UacLateOfferPutsTheAnswerInTheAck) {
  std::uint16_t port = 0;
  auto sipp = callee("uas-late-offer.xml", port);
  harness.run([&] {
    srf::UacOptions options;  // no local SDP: late offer
    options.answer_late_offer = [](const std::string& offer) {
      return offer.find("m=audio") != std::string::npos ? kSdp : std::string{};
    };
    app->async_create_uac(uri_for(port), options, [&](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
      log.add("uac " + describe(error));
      if (dialog) {
        log.add(dialog->local_sdp() == kSdp ? "answered offer" : "no answer");
        dialog->destroy();
      }
    });
    return 0;
  });
  EXPECT_TRUE(log.wait_for("answered offer")) << log.joined();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(SrfTest, UacHoldsAndUnholdsWithReinvites) {
  std::uint16_t port = 0;
  auto sipp = callee("uas-hold-unhold.xml", port);
  harness.run([&] {
    srf::UacOptions options;
    options.local_sdp = kSdp;
    asio::co_spawn(
        app->get_executor(),
        [&, options]() -> asio::awaitable<void> {
          auto dialog = co_await app->async_create_uac(uri_for(port), options, asio::use_awaitable);
          co_await dialog->async_hold(asio::use_awaitable);
          log.add(dialog->local_sdp().find("a=sendonly") != std::string::npos ? "on hold" : "hold lost");
          co_await dialog->async_unhold(asio::use_awaitable);
          log.add(dialog->local_sdp().find("a=sendrecv") != std::string::npos ? "off hold" : "unhold lost");
          dialog->destroy();
        },
        [&](std::exception_ptr error) {
          if (error) log.add(describe(error));
        });
    return 0;
  });
  EXPECT_TRUE(log.wait_for("on hold")) << log.joined();
  EXPECT_TRUE(log.wait_for("off hold")) << log.joined();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

}  // namespace

// ------------------------------------------------------------------ B2BUA

class B2buaTest : public SrfTest {
 protected:
  // sipp A calls the app, which bridges it to sipp B on `port`.
  void bridge_to(std::uint16_t port) {
    harness.run([&, port] {
      app->invite([&, port](srf::Request req, srf::Response res) {
        srf::B2buaOptions options;
        app->async_create_b2bua(req, res, uri_for(port), options, [&](std::exception_ptr error, srf::B2buaLegs legs) {
          log.add("b2bua " + describe(error));
          if (legs.uas) {
            watch(legs.uas);
            keep(legs.uas);
            keep(legs.uac);
          }
        });
      });
      return 0;
    });
  }
  SippCall a_leg(const std::string& dir, const std::string& scenario) {
    SippCall call = caller(scenario);
    call.scenario = dir + "/" + scenario;
    return call;
  }
};

TEST_F(B2buaTest, RelaysProvisionalsAndTheCallersByeEndsTheOtherLeg) {
  std::uint16_t port = 0;
  auto b = engine_callee("uas-answer.xml", port);
  bridge_to(port);
  auto a = astmrf_test::run_sipp(a_leg(SRF_SIPP_DIR, "uac-b2bua.xml"));
  EXPECT_EQ(a.exit_code, 0) << a.output;
  auto result = b->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("b2bua ok")) << log.joined();
}

TEST_F(B2buaTest, TheCalleesByeEndsTheCaller) {
  std::uint16_t port = 0;
  auto b = engine_callee("uas-200-retransmit.xml", port);
  bridge_to(port);
  auto a = astmrf_test::run_sipp(a_leg(ENGINE_SIPP_DIR, "uac-invite-wait-bye.xml"));
  EXPECT_EQ(a.exit_code, 0) << a.output;
  auto result = b->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("destroyed local local_bye")) << log.joined();
}

TEST_F(B2buaTest, TheCallersCancelCancelsTheOtherLeg) {
  std::uint16_t port = 0;
  auto b = engine_callee("uas-no-answer.xml", port);
  bridge_to(port);
  auto a = astmrf_test::run_sipp(a_leg(ENGINE_SIPP_DIR, "uac-invite-cancel.xml"));
  EXPECT_EQ(a.exit_code, 0) << a.output;
  auto result = b->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("b2bua RequestCancelled")) << log.joined();
}

TEST_F(B2buaTest, CancelledThroughItsTokenCancelsBAndAnswersTheCaller487) {
  std::uint16_t port = 0;
  auto b = engine_callee("uas-no-answer.xml", port);  // rings, then expects our CANCEL
  auto signal = std::make_shared<boost::asio::cancellation_signal>();
  harness.run([&, port] {
    app->invite([&, port, signal](srf::Request req, srf::Response res) {
      srf::B2buaOptions options;
      options.uac.on_provisional = [signal](const astmrf::sip::Message&) {
        signal->emit(boost::asio::cancellation_type::terminal);
      };
      app->async_create_b2bua(
          req, res, uri_for(port), options,
          boost::asio::bind_cancellation_slot(signal->slot(), [&, signal](std::exception_ptr error, srf::B2buaLegs) {
            try {
              if (error) std::rethrow_exception(error);
              log.add("b2bua ok");
            } catch (const boost::system::system_error& e) {
              log.add(e.code() == boost::asio::error::operation_aborted ? "b2bua aborted" : describe(error));
            } catch (...) {
              log.add(describe(error));
            }
          }));
    });
    return 0;
  });
  auto a = astmrf_test::run_sipp(a_leg(SRF_SIPP_DIR, "uac-invite-ring-487.xml"));
  EXPECT_EQ(a.exit_code, 0) << a.output;  // the caller got 487
  auto result = b->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;  // B got CANCEL
  EXPECT_TRUE(log.wait_for("b2bua aborted")) << log.joined();
  EXPECT_EQ(log.events().size(), 1u) << log.joined();
}

TEST_F(B2buaTest, TheCalleesRejectionReachesTheCaller) {
  std::uint16_t port = 0;
  auto b = engine_callee("uas-reject-486.xml", port);
  bridge_to(port);
  auto a = astmrf_test::run_sipp(a_leg(ENGINE_SIPP_DIR, "uac-invite-reject.xml"));
  EXPECT_EQ(a.exit_code, 0) << a.output;
  EXPECT_EQ(b->wait(20s).exit_code, 0);
  EXPECT_TRUE(log.wait_for("b2bua SipFailure 486")) << log.joined();
}
