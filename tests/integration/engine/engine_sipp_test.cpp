// The embedded SIP engine against sipp, the real peer: the engine as UAS (sipp
// calls it) and as UAC (it calls sipp), over UDP and TCP.
#include "astmrf_test/sipp.hpp"
#include "engine_harness.hpp"

#include <astmrf/sip/engine/engine.hpp>

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using namespace std::chrono_literals;
using astmrf::sip::Dialog;
using astmrf::sip::DialogEndReason;
using astmrf::sip::IncomingRequest;
using astmrf::sip::Message;
using astmrf::sip::RequestSpec;
using astmrf::sip::ResponseSpec;
using astmrf::sip::Transport;
using astmrf_test::EngineHarness;
using astmrf_test::EventLog;
using astmrf_test::SippCall;

const std::string kSdp =
    "v=0\r\no=astmrf 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

std::string end_event(DialogEndReason reason) { return "end " + std::string(astmrf::sip::to_string(reason)); }

std::string transport_name(const testing::TestParamInfo<Transport>& info) {
  return info.param == Transport::udp ? "udp" : "tcp";
}

class EngineTest : public testing::TestWithParam<Transport> {
 protected:
  std::string sipp_transport() const { return GetParam() == Transport::udp ? "u1" : "t1"; }
  std::string uri_transport() const { return GetParam() == Transport::udp ? "udp" : "tcp"; }

  // sipp calling the engine.
  SippCall caller(const std::string& scenario) {
    SippCall call;
    call.scenario = std::string(ENGINE_SIPP_DIR) + "/" + scenario;
    call.remote = harness.address(GetParam());
    call.transport = sipp_transport();
    return call;
  }

  // sipp answering the engine, on a port of its own; started and ready.
  std::unique_ptr<astmrf_test::SippProcess> callee(const std::string& scenario, std::uint16_t& port) {
    port = astmrf_test::free_port(GetParam());
    SippCall call = caller(scenario);
    call.extra_args = {"-p", std::to_string(port)};
    auto sipp = std::make_unique<astmrf_test::SippProcess>(call);
    EXPECT_TRUE(astmrf_test::wait_until_bound(GetParam(), port)) << "sipp did not bind port " << port;
    return sipp;
  }

  // Records the life of a dialog in the log.
  void watch(const std::shared_ptr<Dialog>& dialog) {
    dialog->on_ack([this](const Message&) { log.add("ack"); });
    dialog->on_end([this](DialogEndReason reason) { log.add(end_event(reason)); });
  }

  void expect_no_dialogs() {
    bool idle = false;
    for (int i = 0; i < 100 && !idle; ++i) {
      idle = harness.run([&] { return harness.engine().stats().dialogs == 0; });
      if (!idle) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(idle) << "dialogs left in the engine";
  }

  EventLog log;  // declared first: outlives the engine and its handlers
  EngineHarness harness;
};

// ------------------------------------------------------------------ engine as UAS

TEST_P(EngineTest, AnswersAndTheCallerHangsUp) {
  harness.run([&] {
    harness.engine().on_request([&](const std::shared_ptr<IncomingRequest>& request) {
      log.add("request " + std::string(request->message().method()));
      watch(request->respond(ResponseSpec{200, {}, {}, "application/sdp", kSdp}));
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-bye.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for(end_event(DialogEndReason::remote_bye))) << log.joined();
  EXPECT_TRUE(log.wait_for("ack")) << log.joined();
  expect_no_dialogs();
}

TEST_P(EngineTest, RejectsWith486) {
  harness.run([&] {
    harness.engine().on_request([](const std::shared_ptr<IncomingRequest>& request) {
      request->respond(ResponseSpec{486, {}, {{"X-Why", "test"}}, {}, {}});
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-reject.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  expect_no_dialogs();
}

TEST_P(EngineTest, CallerCancelsBeforeTheAnswer) {
  harness.run([&] {
    harness.engine().on_request([&](const std::shared_ptr<IncomingRequest>& request) {
      request->respond(ResponseSpec{180, {}, {}, {}, {}});
      std::weak_ptr<IncomingRequest> weak = request;
      request->on_cancel([&, weak] {
        auto r = weak.lock();
        log.add(r && r->cancelled() ? "cancelled" : "cancel without state");
        // An answer that comes too late is not sent.
        if (r)
          log.add(r->respond(ResponseSpec{200, {}, {}, "application/sdp", kSdp}) ? "late 200 sent"
                                                                                 : "late 200 dropped");
      });
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-cancel.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("cancelled")) << log.joined();
  EXPECT_TRUE(log.wait_for("late 200 dropped")) << log.joined();
  expect_no_dialogs();
}

TEST_P(EngineTest, EngineHangsUpAfterTheAck) {
  harness.run([&] {
    harness.engine().on_request([&](const std::shared_ptr<IncomingRequest>& request) {
      auto dialog = request->respond(ResponseSpec{200, {}, {}, "application/sdp", kSdp});
      dialog->on_ack([&, weak = std::weak_ptr<Dialog>(dialog)](const Message&) {
        log.add("ack");
        if (auto d = weak.lock()) d->bye();
      });
      dialog->on_end([&](DialogEndReason reason) { log.add(end_event(reason)); });
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-wait-bye.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for(end_event(DialogEndReason::local_bye))) << log.joined();
  expect_no_dialogs();
}

TEST_P(EngineTest, InfoAndReinviteInsideTheDialog) {
  harness.run([&] {
    harness.engine().on_request([&](const std::shared_ptr<IncomingRequest>& request) {
      auto dialog = request->respond(ResponseSpec{200, {}, {}, "application/sdp", kSdp});
      watch(dialog);
      dialog->on_request([&](const std::shared_ptr<IncomingRequest>& in_dialog) {
        log.add("in-dialog " + std::string(in_dialog->message().method()));
        if (in_dialog->message().method() == "INVITE") {
          in_dialog->respond(ResponseSpec{200, {}, {}, "application/sdp", kSdp});
        } else {
          in_dialog->respond(ResponseSpec{200, {}, {}, {}, {}});
        }
      });
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-reinvite-info.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("in-dialog INFO")) << log.joined();
  EXPECT_TRUE(log.wait_for("in-dialog INVITE")) << log.joined();
  EXPECT_TRUE(log.wait_for(end_event(DialogEndReason::remote_bye))) << log.joined();
  expect_no_dialogs();
}

TEST_P(EngineTest, OptionsOutsideADialog) {
  harness.run([&] {
    harness.engine().on_request([](const std::shared_ptr<IncomingRequest>& request) {
      request->respond(ResponseSpec{200, {}, {{"Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"}}, {}, {}});
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-options.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_P(EngineTest, MissingAckEndsTheCallWithBye) {
  harness.run([&] {
    harness.engine().on_request([&](const std::shared_ptr<IncomingRequest>& request) {
      watch(request->respond(ResponseSpec{200, {}, {}, "application/sdp", kSdp}));
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-no-ack.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for(end_event(DialogEndReason::no_ack))) << log.joined();
  expect_no_dialogs();
}

TEST_P(EngineTest, AHandlerThatThrowsGives500) {
  harness.run([&] {
    harness.engine().on_request(
        [](const std::shared_ptr<IncomingRequest>&) { throw std::runtime_error("application bug"); });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-500.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

// ------------------------------------------------------------------ engine as UAC

std::shared_ptr<astmrf::sip::ClientRequest> invite(
    EngineHarness& harness, EventLog& log, const std::string& uri,
    std::function<void(const Message&, const std::shared_ptr<Dialog>&)> extra = {}) {
  return harness.run([&] {
    RequestSpec spec;
    spec.uri = uri;
    spec.content_type = "application/sdp";
    spec.body = kSdp;
    return harness.engine().send_request(spec,
                                         [&log, extra](const Message& response, const std::shared_ptr<Dialog>& dialog) {
                                           log.add("status " + std::to_string(response.status()));
                                           if (extra) extra(response, dialog);
                                         });
  });
}

TEST_P(EngineTest, UacFollowsProvisionalsAndAcksThe200) {
  std::uint16_t port = 0;
  auto sipp = callee("uas-answer.xml", port);
  std::shared_ptr<Dialog> dialog;
  invite(harness, log, "sip:sipp@127.0.0.1:" + std::to_string(port) + ";transport=" + uri_transport(),
         [&](const Message&, const std::shared_ptr<Dialog>& d) {
           if (d) {
             dialog = d;
             d->on_end([&](DialogEndReason reason) { log.add(end_event(reason)); });
           }
         });
  ASSERT_TRUE(log.wait_for("status 200")) << log.joined();
  for (auto status : {"status 100", "status 180", "status 183"}) EXPECT_TRUE(log.wait_for(status, 1s)) << status;
  std::this_thread::sleep_for(100ms);  // let sipp see the ACK
  harness.run([&] {
    dialog->bye();
    return 0;
  });
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for(end_event(DialogEndReason::local_bye))) << log.joined();
  harness.run([&] {
    dialog.reset();
    return 0;
  });
  expect_no_dialogs();
}

TEST_P(EngineTest, UacRejectionsAreAcked) {
  for (const std::string code : {"486", "503"}) {
    std::uint16_t port = 0;
    auto sipp = callee("uas-reject-" + code + ".xml", port);
    invite(harness, log, "sip:sipp@127.0.0.1:" + std::to_string(port) + ";transport=" + uri_transport());
    EXPECT_TRUE(log.wait_for("status " + code)) << log.joined();
    auto result = sipp->wait(20s);
    EXPECT_EQ(result.exit_code, 0) << result.output;
  }
  expect_no_dialogs();
}

TEST_P(EngineTest, UacCancelsACallNobodyAnswers) {
  std::uint16_t port = 0;
  auto sipp = callee("uas-no-answer.xml", port);
  std::shared_ptr<astmrf::sip::ClientRequest> call;
  call = invite(harness, log, "sip:sipp@127.0.0.1:" + std::to_string(port) + ";transport=" + uri_transport());
  ASSERT_TRUE(log.wait_for("status 180")) << log.joined();
  harness.run([&] {
    call->cancel();
    return 0;
  });
  EXPECT_TRUE(log.wait_for("status 487")) << log.joined();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  harness.run([&] {
    call.reset();
    return 0;
  });
  expect_no_dialogs();
}

TEST_P(EngineTest, UacAcksEveryRetransmitted200AndSeesTheCalleeHangUp) {
  std::uint16_t port = 0;
  auto sipp = callee("uas-200-retransmit.xml", port);
  invite(harness, log, "sip:sipp@127.0.0.1:" + std::to_string(port) + ";transport=" + uri_transport(),
         [&](const Message&, const std::shared_ptr<Dialog>& d) {
           if (d) d->on_end([&](DialogEndReason reason) { log.add(end_event(reason)); });
         });
  EXPECT_TRUE(log.wait_for(end_event(DialogEndReason::remote_bye))) << log.joined();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  expect_no_dialogs();
}

// ------------------------------------------------------------------ RFC 3262 (100rel, PRACK)

TEST_P(EngineTest, ReliableProvisionalWithSdpIsPrackedBeforeThe200) {
  harness.run([&] {
    harness.engine().on_request([&](const std::shared_ptr<IncomingRequest>& request) {
      log.add(request->supports_100rel() ? "supports 100rel" : "no 100rel");
      request->on_prack([&](const Message&) { log.add("prack"); });
      request->respond(ResponseSpec{183, {}, {{"Require", "100rel"}}, "application/sdp", kSdp});
      // Held by the engine until the PRACK (the 183 carried SDP): the dialog comes at once.
      watch(request->respond(ResponseSpec{200, {}, {}, "application/sdp", kSdp}));
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-prack.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("prack")) << log.joined();
  EXPECT_TRUE(log.wait_for(end_event(DialogEndReason::remote_bye))) << log.joined();
  EXPECT_TRUE(log.wait_for("supports 100rel", 1s)) << log.joined();
  expect_no_dialogs();
}

TEST_P(EngineTest, ReliableProvisionalNeverPrackedFailsTheInvite) {
  harness.run([&] {
    harness.engine().on_request([&](const std::shared_ptr<IncomingRequest>& request) {
      // The caller requires 100rel: this 180 goes reliably all the same.
      request->respond(ResponseSpec{180, {}, {}, {}, {}});
      log.add("180 sent");
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-invite-no-prack.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("180 sent", 1s)) << log.joined();
  expect_no_dialogs();
}

TEST_P(EngineTest, UacPracksAReliableProvisionalOnce) {
  std::uint16_t port = 0;
  auto sipp = callee("uas-reliable-180.xml", port);
  std::shared_ptr<Dialog> dialog;
  auto request = harness.run([&] {
    RequestSpec spec;
    spec.uri = "sip:sipp@127.0.0.1:" + std::to_string(port) + ";transport=" + uri_transport();
    spec.content_type = "application/sdp";
    spec.body = kSdp;
    astmrf::sip::InviteOptions options;
    options.supported_100rel = true;
    return harness.engine().send_request(
        spec,
        [&](const Message& response, const std::shared_ptr<Dialog>& d) {
          log.add("status " + std::to_string(response.status()));
          if (d) {
            dialog = d;
            d->on_end([&](DialogEndReason reason) { log.add(end_event(reason)); });
          }
        },
        options);
  });
  if (!log.wait_for("status 200")) {
    auto failed = sipp->wait(20s);
    FAIL() << log.joined() << failed.output;
  }
  EXPECT_TRUE(harness.run([&] { return request->early_dialog() != nullptr; }));
  std::this_thread::sleep_for(100ms);  // let sipp see the ACK
  harness.run([&] {
    dialog->bye();
    return 0;
  });
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  auto events = log.events();
  EXPECT_EQ(std::count(events.begin(), events.end(), "status 180"), 1)
      << log.joined();  // the retransmission is not passed up
  harness.run([&] {
    dialog.reset();
    request.reset();
    return 0;
  });
  expect_no_dialogs();
}

TEST_P(EngineTest, ASecondReliableProvisionalWaitsForThePrackOfTheFirst) {
  harness.run([&] {
    harness.engine().on_request([&](const std::shared_ptr<IncomingRequest>& request) {
      std::weak_ptr<IncomingRequest> weak = request;
      auto pracks = std::make_shared<int>(0);
      request->on_prack([this, weak, pracks](const Message&) {
        log.add("prack " + std::to_string(++*pracks));
        auto r = weak.lock();
        if (r && *pracks == 2) watch(r->respond(ResponseSpec{200, {}, {}, "application/sdp", kSdp}));
      });
      request->respond(ResponseSpec{180, {}, {{"Require", "100rel"}}, {}, {}});
      request->respond(ResponseSpec{183, {}, {{"Require", "100rel"}}, "application/sdp", kSdp});  // queued
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-two-reliable.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("prack 2")) << log.joined();
  EXPECT_TRUE(log.wait_for(end_event(DialogEndReason::remote_bye))) << log.joined();
  expect_no_dialogs();
}

// ------------------------------------------------------------------ RFC 3311 (UPDATE in early dialogs)

// kSdp with another o= version: the peer's scenario checks which one it got.
std::string sdp_version(int version) {
  std::string sdp = kSdp;
  sdp.replace(sdp.find("1 1 IN"), 6, "1 " + std::to_string(version) + " IN");
  return sdp;
}

// Answers an UPDATE with offer `version`-1 with `version`, then sends its own offer `version`+1.
void update_both_ways(const std::shared_ptr<Dialog>& early, EventLog& log, std::function<void()> then) {
  std::weak_ptr<Dialog> weak = early;
  early->on_request([&log, weak, then](const std::shared_ptr<IncomingRequest>& update) {
    log.add("early " + std::string(update->message().method()));
    update->respond(ResponseSpec{200, {}, {}, "application/sdp", sdp_version(2)});
    auto dialog = weak.lock();
    if (!dialog) return;
    RequestSpec spec;
    spec.method = "UPDATE";
    spec.content_type = "application/sdp";
    spec.body = sdp_version(3);
    dialog->request(spec, [&log, then](const Message& response, const std::shared_ptr<Dialog>&) {
      log.add("update answered " + std::to_string(response.status()));
      if (then) then();
    });
  });
}

TEST_P(EngineTest, EarlyUpdateBothWaysAsUas) {
  harness.run([&] {
    harness.engine().on_request([&](const std::shared_ptr<IncomingRequest>& request) {
      request->respond(ResponseSpec{183, {}, {{"Require", "100rel"}}, "application/sdp", kSdp});
      auto early = request->early_dialog();
      log.add(early && early->early() ? "early dialog" : "no early dialog");
      if (!early) return;
      std::weak_ptr<IncomingRequest> weak = request;
      update_both_ways(early, log, [this, weak] {
        if (auto r = weak.lock()) watch(r->respond(ResponseSpec{200, {}, {}, "application/sdp", sdp_version(4)}));
      });
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-early-update.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("early dialog", 1s)) << log.joined();
  EXPECT_TRUE(log.wait_for("early UPDATE", 1s)) << log.joined();
  EXPECT_TRUE(log.wait_for("update answered 200", 1s)) << log.joined();
  EXPECT_TRUE(log.wait_for(end_event(DialogEndReason::remote_bye))) << log.joined();
  expect_no_dialogs();
}

TEST_P(EngineTest, EarlyUpdateBothWaysAsUac) {
  std::uint16_t port = 0;
  auto sipp = callee("uas-early-update.xml", port);
  std::shared_ptr<Dialog> dialog;
  std::shared_ptr<astmrf::sip::ClientRequest> request;
  harness.run([&] {
    RequestSpec spec;
    spec.uri = "sip:sipp@127.0.0.1:" + std::to_string(port) + ";transport=" + uri_transport();
    spec.content_type = "application/sdp";
    spec.body = kSdp;
    astmrf::sip::InviteOptions options;
    options.supported_100rel = true;
    request = harness.engine().send_request(
        spec,
        [&](const Message& response, const std::shared_ptr<Dialog>& d) {
          log.add("status " + std::to_string(response.status()));
          if (response.status() == 183 && request && request->early_dialog()) {
            update_both_ways(request->early_dialog(), log, {});
          }
          if (d) {
            dialog = d;
            d->on_end([&](DialogEndReason reason) { log.add(end_event(reason)); });
          }
        },
        options);
    return 0;
  });
  if (!log.wait_for("status 200")) {
    auto failed = sipp->wait(20s);
    FAIL() << log.joined() << failed.output;
  }
  EXPECT_TRUE(log.wait_for("early UPDATE", 1s)) << log.joined();
  EXPECT_TRUE(log.wait_for("update answered 200", 1s)) << log.joined();
  std::this_thread::sleep_for(100ms);  // let sipp see the ACK
  harness.run([&] {
    dialog->bye();
    return 0;
  });
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  harness.run([&] {
    dialog.reset();
    request.reset();
    return 0;
  });
  expect_no_dialogs();
}

INSTANTIATE_TEST_SUITE_P(Transports, EngineTest, testing::Values(Transport::udp, Transport::tcp), transport_name);

}  // namespace
