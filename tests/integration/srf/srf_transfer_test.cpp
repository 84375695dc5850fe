// Transfer signaling through the embedded engine against sipp: REFER received
// (accept_refer, NOTIFY sipfrag), REFER sent (Dialog::async_refer) and INVITEs with
// Replaces (RFC 3891).
#include "../engine/engine_harness.hpp"
#include "astmrf_test/sipp.hpp"

#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/refer.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
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
    return "SipFailure " + std::to_string(failure.status()) + (failure.local() ? " local" : "");
  } catch (const srf::DialogGone&) {
    return "DialogGone";
  } catch (const boost::system::system_error& e) {
    if (e.code() == boost::asio::error::operation_aborted) return "aborted";
    return std::string("error ") + e.what();
  } catch (const std::exception& other) {
    return std::string("error ") + other.what();
  }
}

std::string uri_for(std::uint16_t port) { return "sip:sipp@127.0.0.1:" + std::to_string(port); }

class SrfTransfer : public testing::Test {
 protected:
  SrfTransfer() {
    harness.run([&] {
      app = std::make_unique<srf::Srf>(srf::make_engine_backend(harness.engine()));
      return 0;
    });
  }
  ~SrfTransfer() override {
    harness.run([&] {
      notifiers.clear();
      dialogs.clear();
      app.reset();
      return 0;
    });
  }

  SippCall caller(const std::string& scenario, std::map<std::string, std::string> keys = {}) {
    SippCall call;
    call.scenario = std::string(SRF_SIPP_DIR) + "/" + scenario;
    call.remote = harness.address(Transport::udp);
    call.keys = std::move(keys);
    return call;
  }
  std::unique_ptr<astmrf_test::SippProcess> callee(const std::string& dir, const std::string& scenario,
                                                   std::uint16_t& port, std::map<std::string, std::string> keys = {}) {
    port = astmrf_test::free_port(Transport::udp);
    SippCall call;
    call.scenario = dir + "/" + scenario;
    call.remote = harness.address(Transport::udp);
    call.extra_args = {"-p", std::to_string(port)};
    call.keys = std::move(keys);
    auto sipp = std::make_unique<astmrf_test::SippProcess>(call);
    EXPECT_TRUE(astmrf_test::wait_until_bound(Transport::udp, port));
    return sipp;
  }

  /// Answers every INVITE; each answered dialog's REFER is given to `on_refer`.
  void answer_and_take_refers(std::function<void(std::shared_ptr<srf::Dialog>, srf::Request, srf::Response)> on_refer) {
    app->invite([this, on_refer](srf::Request req, srf::Response res) {
      app->async_create_uas(req, res, srf::UasOptions{kSdp, {}},
                            [this, on_refer](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
                              log.add("uas " + describe(error));
                              if (!dialog) return;
                              std::weak_ptr<srf::Dialog> weak = dialog;
                              dialog->on("REFER", [weak, on_refer](srf::Request r, srf::Response s) {
                                if (auto d = weak.lock()) on_refer(d, r, s);
                              });
                              dialog->on_destroy([this](const srf::DestroyedInfo& info) {
                                log.add("destroyed " + std::string(srf::to_string(info.who)));
                              });
                              dialogs.push_back(dialog);
                            });
    });
  }

  EventLog log;
  EngineHarness harness;
  std::unique_ptr<srf::Srf> app;
  std::vector<std::shared_ptr<srf::Dialog>> dialogs;  // touched on the engine thread only
  std::vector<std::shared_ptr<srf::ReferNotifier>> notifiers;
};

// ------------------------------------------------------------------ REFER in

TEST_F(SrfTransfer, ReferAcceptedWithNotify100ThenFinal200) {
  harness.run([&] {
    answer_and_take_refers([this](std::shared_ptr<srf::Dialog> dialog, srf::Request req, srf::Response res) {
      auto notifier = srf::accept_refer(dialog, req, res);
      if (!notifier) return log.add("refer refused");
      log.add("refer to " + notifier->refer_to().uri);
      if (notifier->refer_to().replaces) {
        const auto& r = *notifier->refer_to().replaces;
        log.add("replaces " + r.call_id + " " + r.to_tag + " " + r.from_tag);
      }
      log.add(notifier->referred_by().find("sip:sipp@") != std::string::npos ? "referred by sipp" : "no referred-by");
      notifier->async_notify(200, "", [this, notifier](std::exception_ptr error) {
        log.add("final notify " + describe(error) + (notifier->finished() ? " finished" : ""));
      });
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(
      caller("uac-refer.xml", {{"refer_to", "<sip:carol@example.com?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>"}}));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("uas ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("refer to sip:carol@example.com")) << log.joined();
  EXPECT_TRUE(log.wait_for("replaces abc@h 1 2")) << log.joined();
  EXPECT_TRUE(log.wait_for("referred by sipp")) << log.joined();
  EXPECT_TRUE(log.wait_for("final notify ok finished")) << log.joined();
  EXPECT_TRUE(log.wait_for("destroyed remote")) << log.joined();
  EXPECT_EQ(result.output.find("SIP/2.0 503 Service Unavailable"), std::string::npos) << result.output;
}

// A second REFER in the dialog: its NOTIFYs carry Event: refer;id=<its CSeq> (the first one's do not).
TEST_F(SrfTransfer, SecondReferInADialogIsNotifiedWithAnId) {
  harness.run([&] {
    answer_and_take_refers([this](std::shared_ptr<srf::Dialog> dialog, srf::Request req, srf::Response res) {
      auto notifier = srf::accept_refer(dialog, req, res);
      if (!notifier) return log.add("refused");
      notifier->async_notify(
          200, "OK", [this, notifier](std::exception_ptr error) { log.add("final notify " + describe(error)); });
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-refer-twice.xml", {{"refer_to", "<sip:carol@example.com>"}}));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("destroyed remote")) << log.joined();
  EXPECT_EQ(log.events().size(), 4U) << log.joined();  // uas ok, two final NOTIFYs, the end
}

// The application lets go of the notifier without a final NOTIFY: the referrer still gets one (503).
TEST_F(SrfTransfer, DroppedNotifierSendsA503) {
  harness.run([&] {
    answer_and_take_refers([this](std::shared_ptr<srf::Dialog> dialog, srf::Request req, srf::Response res) {
      auto notifier = srf::accept_refer(dialog, req, res);
      log.add(notifier ? "accepted" : "refused");
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-refer.xml", {{"refer_to", "<sip:carol@example.com>"}}));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("accepted")) << log.joined();
  EXPECT_NE(result.output.find("SIP/2.0 503 Service Unavailable"), std::string::npos) << result.output;
}

TEST_F(SrfTransfer, ReferWithoutAUsableReferToGets400) {
  harness.run([&] {
    answer_and_take_refers([this](std::shared_ptr<srf::Dialog> dialog, srf::Request req, srf::Response res) {
      auto notifier = srf::accept_refer(dialog, req, res);
      log.add(notifier ? "accepted" : "refused");
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-refer-bad.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("refused")) << log.joined();
}

// ------------------------------------------------------------------ REFER out

TEST_F(SrfTransfer, ReferOutReportsProgressAndTheFinalStatusEvenWhenANotifyOvertakesThe202) {
  std::uint16_t port = 0;
  auto sipp = callee(SRF_SIPP_DIR, "uas-refer.xml", port, {{"final", "200 OK"}});
  harness.run([&] {
    app->async_create_uac(
        uri_for(port), srf::UacOptions{kSdp, {}, {}, {}, {}, {}, {}, 0ms, {}},
        [this](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
          log.add("uac " + describe(error));
          if (!dialog) return;
          dialogs.push_back(dialog);
          srf::ReferOptions options;
          options.referred_by = "sip:alice@example.com";
          options.on_progress = [this](int status, const std::string& reason) {
            log.add("progress " + std::to_string(status) + " " + reason);
          };
          std::weak_ptr<srf::Dialog> weak = dialog;
          dialog->async_refer(
              "sip:carol@example.com", options, [this, weak](std::exception_ptr e, srf::ReferOutcome outcome) {
                log.add("refer " + describe(e) + " " + std::to_string(outcome.status) + " " + outcome.reason);
                if (auto d = weak.lock()) d->destroy();
              });
        });
    return 0;
  });
  EXPECT_TRUE(log.wait_for("uac ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("refer ok 200 OK")) << log.joined();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  auto events = log.events();
  std::vector<std::string> progress;
  for (const auto& e : events) {
    if (e.starts_with("progress")) progress.push_back(e);
  }
  EXPECT_EQ(progress, (std::vector<std::string>{"progress 100 Trying", "progress 200 OK"})) << log.joined();
}

TEST_F(SrfTransfer, ReferOutRefusedFailsWithTheStatus) {
  std::uint16_t port = 0;
  auto sipp = callee(SRF_SIPP_DIR, "uas-refer-reject.xml", port);
  harness.run([&] {
    app->async_create_uac(uri_for(port), srf::UacOptions{kSdp, {}, {}, {}, {}, {}, {}, 0ms, {}},
                          [this](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
                            log.add("uac " + describe(error));
                            if (!dialog) return;
                            dialogs.push_back(dialog);
                            std::weak_ptr<srf::Dialog> weak = dialog;
                            dialog->async_refer("<sip:carol@example.com>", srf::ReferOptions{},
                                                [this, weak](std::exception_ptr e, srf::ReferOutcome) {
                                                  log.add("refer " + describe(e));
                                                  if (auto d = weak.lock()) d->destroy();
                                                });
                          });
    return 0;
  });
  EXPECT_TRUE(log.wait_for("refer SipFailure 403")) << log.joined();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(SrfTransfer, ReferOutCancelledCompletesWithOperationAborted) {
  std::uint16_t port = 0;
  // sipp sends its NOTIFYs later; the application has stopped waiting and they are still answered 200.
  auto sipp = callee(SRF_SIPP_DIR, "uas-refer.xml", port, {{"final", "486 Busy Here"}});
  auto signal = std::make_shared<boost::asio::cancellation_signal>();
  harness.run([&] {
    app->async_create_uac(uri_for(port), srf::UacOptions{kSdp, {}, {}, {}, {}, {}, {}, 0ms, {}},
                          [this, signal](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
                            log.add("uac " + describe(error));
                            if (!dialog) return;
                            dialogs.push_back(dialog);
                            srf::ReferOptions options;
                            options.referred_by = "<sip:alice@example.com>";
                            std::weak_ptr<srf::Dialog> weak = dialog;
                            dialog->async_refer(
                                "sip:carol@example.com", options,
                                boost::asio::bind_cancellation_slot(
                                    signal->slot(), [this, weak](std::exception_ptr e, srf::ReferOutcome) {
                                      log.add("refer " + describe(e));
                                    }));
                            signal->emit(boost::asio::cancellation_type::terminal);
                          });
    return 0;
  });
  EXPECT_TRUE(log.wait_for("refer aborted")) << log.joined();
  // sipp's NOTIFYs and the 202 still run their course; then the application hangs up.
  std::this_thread::sleep_for(500ms);
  harness.run([&] {
    for (auto& d : dialogs) d->destroy();
    return 0;
  });
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

// ------------------------------------------------------------------ Replaces

class SrfReplaces : public SrfTransfer {
 protected:
  /// A call the application placed to a sipp that waits for BYE; its dialog is `held`.
  void hold_a_call(std::unique_ptr<astmrf_test::SippProcess>& sipp) {
    std::uint16_t port = 0;
    sipp = callee(ENGINE_SIPP_DIR, "uas-answer.xml", port);
    auto dialog = harness.run([&] {
      return app->async_create_uac(uri_for(port), srf::UacOptions{kSdp, {}, {}, {}, {}, {}, {}, 0ms, {}},
                                   boost::asio::use_future);
    });
    held = dialog.get();
    harness.run([&] {
      held->on_destroy([this](const srf::DestroyedInfo& info) {
        log.add("held destroyed " + std::string(srf::to_string(info.who)));
      });
      return 0;
    });
  }
  std::string replaces_of(const std::shared_ptr<srf::Dialog>& d, const std::string& extra = "") {
    return harness.run(
        [&] { return d->call_id() + ";to-tag=" + d->local_tag() + ";from-tag=" + d->remote_tag() + extra; });
  }
  void end_held() {
    harness.run([&] {
      if (held) held->destroy();
      held.reset();
      return 0;
    });
  }

  std::shared_ptr<srf::Dialog> held;
};

TEST_F(SrfReplaces, NoMatchingDialogGets481AndIsNoNewCall) {
  harness.run([&] {
    app->invite([this](srf::Request, srf::Response res) {
      log.add("invite handler");
      res.send(500);
    });
    app->replaces([this](srf::Request, srf::Response res) {
      log.add("replaces handler");
      res.send(500);
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-replaces.xml", {{"replaces", "nosuch@h;to-tag=a;from-tag=b"}}));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("SIP/2.0 481"), std::string::npos) << result.output;
  EXPECT_TRUE(log.events().empty()) << log.joined();
}

TEST_F(SrfReplaces, MatchWithoutAHandlerGets420) {
  std::unique_ptr<astmrf_test::SippProcess> b;
  hold_a_call(b);
  harness.run([&] {
    app->invite([this](srf::Request, srf::Response res) {
      log.add("invite handler");
      res.send(500);
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-replaces.xml", {{"replaces", replaces_of(held)}}));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("SIP/2.0 420 Bad Extension"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("Unsupported: replaces"), std::string::npos) << result.output;
  EXPECT_TRUE(log.events().empty()) << log.joined();
  end_held();
  EXPECT_EQ(b->wait(20s).exit_code, 0);
}

TEST_F(SrfReplaces, EarlyOnlyAgainstAConfirmedDialogGets486) {
  std::unique_ptr<astmrf_test::SippProcess> b;
  hold_a_call(b);
  harness.run([&] {
    app->replaces([this](srf::Request, srf::Response res) {
      log.add("replaces handler");
      res.send(500);
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-replaces.xml", {{"replaces", replaces_of(held, ";early-only")}}));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("SIP/2.0 486"), std::string::npos) << result.output;
  EXPECT_TRUE(log.events().empty()) << log.joined();
  end_held();
  EXPECT_EQ(b->wait(20s).exit_code, 0);
}

TEST_F(SrfReplaces, MatchGoesToTheReplacesHandlerWithTheReplacedDialog) {
  std::unique_ptr<astmrf_test::SippProcess> b;
  hold_a_call(b);
  harness.run([&] {
    app->invite([this](srf::Request, srf::Response res) {
      log.add("invite handler");
      res.send(500);
    });
    app->replaces([this](srf::Request req, srf::Response res) {
      auto replaced = req.replaced_dialog();
      log.add(replaced && replaced == held ? "replaces the held dialog" : "replaces something else");
      app->async_create_uas(req, res, srf::UasOptions{kSdp, {}},
                            [this, replaced](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
                              log.add("replacing call " + describe(error));
                              if (dialog) dialogs.push_back(dialog);
                              if (replaced) replaced->destroy();  // the replaced call ends
                            });
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-replaces.xml", {{"replaces", replaces_of(held)}}));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("replaces the held dialog")) << log.joined();
  EXPECT_TRUE(log.wait_for("replacing call ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("held destroyed local")) << log.joined();
  EXPECT_EQ(b->wait(20s).exit_code, 0);
  for (const auto& e : log.events()) EXPECT_NE(e, "invite handler");
  harness.run([&] {
    held.reset();
    return 0;
  });
}

TEST_F(SrfReplaces, OptionsAdvertiseReferNotifyAndReplaces) {
  harness.run([&] {
    app->replaces([](srf::Request, srf::Response res) { res.send(500); });
    return 0;
  });
  SippCall call;
  call.scenario = std::string(ENGINE_SIPP_DIR) + "/uac-options.xml";
  call.remote = harness.address(Transport::udp);
  auto result = astmrf_test::run_sipp(call);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("Supported: replaces"), std::string::npos) << result.output;
}

}  // namespace
