// The connected call mid-call (issue 15): sipp caller → astmrf → the Asterisk sandbox.
// Re-offers cross the pair both ways (hold really stops Asterisk's media), INFO DTMF
// becomes the endpoint's DTMF event, Endpoint::async_modify re-offers to Asterisk, an
// Asterisk rejection is relayed as is; and a dialplan that answers before Stasis() works
// (its own sandbox instance). Every test ends with the leak check.
#include "../engine/engine_harness.hpp"
#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/process.hpp"
#include "astmrf_test/rtp_peer.hpp"
#include "astmrf_test/sandbox.hpp"
#include "astmrf_test/sipp.hpp"
#include "mrf_support.hpp"

#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/sip/sdp.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
namespace ari = astmrf::ari;
namespace sdp = astmrf::sip::sdp;
using astmrf::sip::Transport;
using astmrf_test::describe;
using astmrf_test::SippCall;

// `text` with every media direction set to `direction` and the origin version bumped.
std::string redirected(const std::string& text, sdp::Direction direction) {
  auto parsed = sdp::parse(text);
  if (!parsed) return {};
  for (auto& media : parsed->media) media.set_direction(direction);
  parsed->origin.session_version = std::to_string(std::stoull(parsed->origin.session_version) + 1);
  return parsed->to_string();
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The 200 OK to the request with `cseq` (e.g. "2 INVITE") in a sipp message trace.
std::string ok_for(const std::string& trace, const std::string& cseq) {
  for (auto at = trace.find("SIP/2.0 200 OK"); at != std::string::npos; at = trace.find("SIP/2.0 200 OK", at + 1)) {
    const auto end = trace.find("-----------", at);
    auto block = trace.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (has(block, "CSeq: " + cseq)) return block;
  }
  return {};
}

class Midcall : public astmrf_test::MrfFixture {
 protected:
  Midcall() { server = connect(astmrf_test::sandbox_options(sandbox_ari_port(), sandbox_sip_port())); }

  ~Midcall() override {
    expect_nothing_left(server, probe);
    harness.run([&] {
      held.clear();
      server.reset();
      return 0;
    });
  }

  static std::uint16_t sandbox_ari_port() { return astmrf_test::sandbox().ari_port; }
  static std::uint16_t sandbox_sip_port() { return astmrf_test::sandbox().sip_port; }

  SippCall caller(const std::string& scenario) {
    SippCall call;
    call.scenario = scenario.find('/') == std::string::npos ? std::string(MRF_SIPP_DIR) + "/" + scenario : scenario;
    call.remote = harness.address(Transport::udp);
    call.service = "engine";
    return call;
  }

  // The application: every caller is connected to `ms`; the legs are kept in `legs`.
  void connect_callers(const std::shared_ptr<mrf::MediaServer>& ms, mrf::ConnectCallerOptions options = {},
                       std::function<void(const mrf::ConnectedCaller&)> then = {}) {
    harness.run([&, ms, options, then] {
      app->invite([&, ms, options, then](srf::Request req, srf::Response res) {
        ms->async_connect_caller(req, res, options, [&, then](std::exception_ptr error, mrf::ConnectedCaller call) {
          log.add("connect_caller " + describe(error));
          if (!call.endpoint) return;
          held.push_back(call.endpoint);
          held.push_back(call.dialog);
          legs = call;
          if (then) then(call);
        });
      });
      return 0;
    });
  }

  void drop_legs() {
    harness.run([&] {
      legs = {};
      held.clear();
      return 0;
    });
  }

  // Asterisk sends no RTP while a channel idles in Stasis: a prompt makes it speak.
  void play_monkeys(const std::shared_ptr<mrf::Endpoint>& endpoint) {
    server->ari().channels().async_play_with_id(
        ari::channels::PlayWithId{
            endpoint->channel_id(), server->ari().make_id("pb"), {"sound:tt-monkeys"}, {}, {}, {}},
        [&](std::exception_ptr error, auto) { log.add("play " + describe(error)); });
  }

  void hold_is_relayed(const std::string& scenario, const std::string& held_answer);
  void asterisk_reoffer_is_relayed(const std::string& method, const std::string& scenario);

  astmrf_test::AriProbe probe = astmrf_test::AriProbe::for_sandbox();
  std::shared_ptr<mrf::MediaServer> server;
  mrf::ConnectedCaller legs;  // engine thread only
};

// The caller holds (`scenario`: a sendonly or inactive re-offer) and unholds: Asterisk's
// answers (`held_answer`, then sendrecv) reach the caller, and its media really stops between.
void Midcall::hold_is_relayed(const std::string& scenario, const std::string& held_answer) {
  astmrf_test::RtpPeer peer;  // the caller's media: silent throughout (see rtp_caller_test)
  connect_callers(server, {}, [&](const mrf::ConnectedCaller& call) { play_monkeys(call.endpoint); });
  auto call = caller(scenario);
  call.keys["rtp_port"] = std::to_string(peer.port());
  call.keys["hold_after_ms"] = "1500";
  call.keys["hold_ms"] = "2500";
  call.keys["hangup_after_ms"] = "1500";
  astmrf_test::SippProcess sipp(call);

  auto answer = sipp.wait_for_received_sdp(10s);
  ASSERT_TRUE(answer.has_value()) << sipp.wait(1s).output;
  peer.set_remote_from_sdp(*answer);
  ASSERT_TRUE(peer.wait_for_audio_packets(25, 10s)) << peer.audio_packets_received() << " audio packets\n"
                                                    << log.joined();
  // Held: Asterisk stops sending (a second of quiet within the 2.5 s hold).
  EXPECT_TRUE(peer.wait_for_quiet(1000ms, 5s)) << peer.packets_received() << " packets, no pause";
  const auto during_hold = peer.audio_packets_received();
  // Unheld: the prompt goes on.
  EXPECT_TRUE(peer.wait_for_audio_packets(during_hold + 25, 5s)) << peer.audio_packets_received() << " audio packets";

  auto result = sipp.wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  // The hold's answer came from Asterisk; the unhold's is sendrecv.
  EXPECT_TRUE(has(ok_for(result.output, "2 INVITE"), held_answer)) << result.output;
  EXPECT_TRUE(has(ok_for(result.output, "3 INVITE"), "a=sendrecv")) << result.output;
  // Both dialogs recorded what was exchanged last (the unhold).
  auto [caller_local, caller_remote, endpoint_local, endpoint_remote] = harness.run([&] {
    return std::array<std::string, 4>{legs.dialog->local_sdp(), legs.dialog->remote_sdp(),
                                      legs.endpoint->dialog()->local_sdp(), legs.endpoint->dialog()->remote_sdp()};
  });
  EXPECT_TRUE(has(caller_remote, "o=caller 1 3")) << caller_remote;
  EXPECT_TRUE(has(endpoint_local, "o=caller 1 3")) << endpoint_local;
  EXPECT_EQ(caller_local, endpoint_remote);
  EXPECT_TRUE(has(caller_local, "a=sendrecv")) << caller_local;
  EXPECT_TRUE(log.wait_for("play ok")) << log.joined();
  drop_legs();
}

TEST_F(Midcall, HoldIsRelayedToAsteriskWhichStopsSendingUntilUnhold) {
  hold_is_relayed(astmrf_test::sandbox().sipp_dir + "/rtp-caller-hold.xml", "a=recvonly");
}
TEST_F(Midcall, InactiveHoldIsAnsweredInactiveAndAsteriskStopsSending) {
  hold_is_relayed("rtp-caller-hold-inactive.xml", "a=inactive");
}

TEST_F(Midcall, InfoDtmfBecomesTheEndpointsDtmfEventAndOtherInfoGets415) {
  auto dtmf = std::make_shared<std::optional<mrf::Subscription>>();
  connect_callers(server, {}, [&, dtmf](const mrf::ConnectedCaller& call) {
    *dtmf = call.endpoint->on_dtmf([&](const mrf::DtmfEvent& event) {
      log.add(std::string("dtmf ") + event.digit +
              (event.source == mrf::DtmfSource::sip_info ? " sip_info " : " rtp ") +
              std::to_string(event.duration.count()));
    });
  });
  auto result = astmrf_test::run_sipp(caller("uac-info-dtmf.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("dtmf 5 sip_info 160")) << log.joined();
  EXPECT_TRUE(log.wait_for("dtmf # sip_info 0")) << log.joined();
  EXPECT_EQ(log.joined().find("dtmf X"), std::string::npos) << log.joined();  // the malformed one: 400
  EXPECT_TRUE(has(result.output, "SIP/2.0 415")) << result.output;
  EXPECT_TRUE(has(result.output, "Accept: application/dtmf-relay")) << result.output;
  harness.run([&] {
    dtmf->reset();
    return 0;
  });
  drop_legs();
}

TEST_F(Midcall, OtherInfoGoesToTheApplicationsOnInfo) {
  mrf::ConnectCallerOptions options;
  options.on_info = [&](srf::Request req, srf::Response res) {
    log.add("on_info " + std::string(req.header("Content-Type")) + " " + std::string(req.body()));
    res.send(200);
  };
  connect_callers(server, options);
  auto result = astmrf_test::run_sipp(caller("uac-info-dtmf.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("on_info text/plain hello\r\n") || log.wait_for("on_info text/plain hello\n", 1s))
      << log.joined();
  EXPECT_FALSE(has(result.output, "SIP/2.0 415")) << result.output;
  drop_legs();
}

TEST_F(Midcall, AsteriskRejectingTheCallersCodecIsRelayedAs488) {
  std::string asterisk_sdp;
  connect_callers(server, {}, [&](const mrf::ConnectedCaller& call) { asterisk_sdp = call.dialog->local_sdp(); });
  auto result = astmrf_test::run_sipp(caller("uac-reinvite-488.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  // The rejected offer changed neither leg.
  auto [caller_local, caller_remote, endpoint_local] = harness.run([&] {
    return std::array<std::string, 3>{legs.dialog->local_sdp(), legs.dialog->remote_sdp(),
                                      legs.endpoint->dialog()->local_sdp()};
  });
  EXPECT_EQ(caller_local, asterisk_sdp);
  EXPECT_TRUE(has(caller_remote, "PCMU")) << caller_remote;
  EXPECT_TRUE(has(endpoint_local, "PCMU")) << endpoint_local;
  drop_legs();
}

TEST_F(Midcall, TheCallersCodecChangeReachesAsterisk) {
  connect_callers(server);
  auto result = astmrf_test::run_sipp(caller("uac-reinvite-pcma.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  auto [caller_local, endpoint_remote] = harness.run([&] {
    return std::array<std::string, 2>{legs.dialog->local_sdp(), legs.endpoint->dialog()->remote_sdp()};
  });
  EXPECT_TRUE(has(caller_local, "m=audio")) << caller_local;
  EXPECT_EQ(caller_local, endpoint_remote);  // Asterisk's answer, as the caller got it
  EXPECT_TRUE(has(caller_local, "PCMA/8000")) << caller_local;
  EXPECT_FALSE(has(caller_local, "PCMU/8000")) << caller_local;
  drop_legs();
}

TEST_F(Midcall, ACancelledModifyCompletesWithOperationAbortedAndStillTakesEffect) {
  auto cancel = std::make_shared<asio::cancellation_signal>();
  connect_callers(server, {}, [&, cancel](const mrf::ConnectedCaller& call) {
    auto endpoint = call.endpoint;
    auto offer = redirected(endpoint->remote_sdp(), sdp::Direction::sendonly);
    endpoint->async_modify(
        offer, asio::bind_cancellation_slot(cancel->slot(), [&](std::exception_ptr error, std::string) {
          log.add(astmrf::detail::is_operation_aborted(error) ? "modify aborted" : "modify " + describe(error));
        }));
    cancel->emit(asio::cancellation_type::terminal);
  });
  astmrf_test::SippProcess sipp(caller(std::string(ENGINE_SIPP_DIR) + "/uac-invite-wait-bye.xml"));
  EXPECT_TRUE(log.wait_for("modify aborted")) << log.joined();
  // The re-INVITE ran its course: Asterisk's recvonly answer is recorded all the same.
  std::string asterisk_sdp;
  for (int i = 0; i < 100 && !has(asterisk_sdp, "a=recvonly"); ++i) {
    std::this_thread::sleep_for(50ms);
    asterisk_sdp = harness.run([&] { return legs.endpoint ? legs.endpoint->local_sdp() : std::string{}; });
  }
  EXPECT_TRUE(has(asterisk_sdp, "a=recvonly")) << asterisk_sdp;
  harness.run([&] {
    if (legs.endpoint) legs.endpoint->destroy();  // the caller gets BYE
    return 0;
  });
  auto result = sipp.wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  drop_legs();
}

// An offerless re-INVITE from the caller is answered with our current SDP as the offer (no
// change toward Asterisk); the caller's answer comes in its ACK and becomes its remote SDP.
TEST_F(Midcall, AnOfferlessReInviteGetsTheCurrentSdpAsOffer) {
  std::string asterisk_sdp;
  connect_callers(server, {}, [&](const mrf::ConnectedCaller& call) { asterisk_sdp = call.dialog->local_sdp(); });
  auto result = astmrf_test::run_sipp(caller("uac-reinvite-offerless.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  auto [caller_local, caller_remote] = harness.run([&] {
    return std::array<std::string, 2>{legs.dialog->local_sdp(), legs.dialog->remote_sdp()};
  });
  EXPECT_EQ(caller_local, asterisk_sdp);
  EXPECT_TRUE(has(caller_remote, "o=sipp 1 2")) << caller_remote;
  drop_legs();
}

TEST_F(Midcall, ModifyReOffersToAsteriskAndFailsWithCallEndedAfterTheEnd) {
  connect_callers(server, {}, [&](const mrf::ConnectedCaller& call) {
    auto endpoint = call.endpoint;
    endpoint->async_modify(
        redirected(endpoint->remote_sdp(), sdp::Direction::sendonly),
        [&, endpoint](std::exception_ptr hold_error, std::string hold_answer) {
          log.add("hold " + describe(hold_error) + (has(hold_answer, "a=recvonly") ? " recvonly" : " ?"));
          log.add(std::string("recorded ") + (endpoint->local_sdp() == hold_answer ? "yes" : "no"));
          endpoint->async_modify(
              redirected(endpoint->remote_sdp(), sdp::Direction::sendrecv),
              [&, endpoint](std::exception_ptr unhold_error, std::string unhold_answer) {
                log.add("unhold " + describe(unhold_error) + (has(unhold_answer, "a=sendrecv") ? " sendrecv" : " ?"));
                endpoint->destroy();  // the caller gets BYE
                endpoint->async_modify(endpoint->remote_sdp(), [&](std::exception_ptr error, std::string) {
                  try {
                    if (error) std::rethrow_exception(error);
                    log.add("after end ok");
                  } catch (const mrf::CallEnded&) {
                    log.add("after end CallEnded");
                  } catch (...) {
                    log.add("after end " + describe(error));
                  }
                });
              });
        });
  });
  auto result = astmrf_test::run_sipp(caller(std::string(ENGINE_SIPP_DIR) + "/uac-invite-wait-bye.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("hold ok recvonly")) << log.joined();
  EXPECT_TRUE(log.wait_for("recorded yes")) << log.joined();
  EXPECT_TRUE(log.wait_for("unhold ok sendrecv")) << log.joined();
  EXPECT_TRUE(log.wait_for("after end CallEnded")) << log.joined();
  drop_legs();
}

// Asterisk's re-offer (`method`: invite or update) reaches the caller as a re-INVITE and
// the caller's answer goes back.
void Midcall::asterisk_reoffer_is_relayed(const std::string& method, const std::string& scenario) {
  // PJSIP_SEND_SESSION_REFRESH makes Asterisk re-INVITE the endpoint dialog with a new offer.
  connect_callers(server, {}, [&, method](const mrf::ConnectedCaller& call) {
    server->ari().channels().async_set_channel_var(
        ari::channels::SetChannelVar{call.endpoint->channel_id(), "PJSIP_SEND_SESSION_REFRESH()", method, {}},
        [&](std::exception_ptr error, auto...) { log.add("refresh " + describe(error)); });
  });
  astmrf_test::SippProcess sipp(caller(scenario));
  EXPECT_TRUE(log.wait_for("refresh ok")) << log.joined();
  // The caller's answer (its SDP version 2) reached both dialogs.
  std::string caller_remote;
  for (int i = 0; i < 100 && !has(caller_remote, "o=sipp 1 2"); ++i) {
    std::this_thread::sleep_for(50ms);
    caller_remote = harness.run([&] { return legs.dialog ? legs.dialog->remote_sdp() : std::string{}; });
  }
  EXPECT_TRUE(has(caller_remote, "o=sipp 1 2")) << caller_remote << "\n" << sipp.trace();
  auto endpoint_local = harness.run([&] {
    auto local = legs.endpoint ? legs.endpoint->dialog()->local_sdp() : std::string{};
    if (legs.endpoint) legs.endpoint->destroy();  // the caller gets BYE
    return local;
  });
  EXPECT_TRUE(has(endpoint_local, "o=sipp 1 2")) << endpoint_local;
  auto result = sipp.wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  drop_legs();
}

TEST_F(Midcall, AsterisksReInviteIsRelayedToTheCaller) {
  asterisk_reoffer_is_relayed("invite", "uac-accept-reinvite.xml");
}
TEST_F(Midcall, AsterisksUpdateIsRelayedToTheCallerAsReInvite) {
  asterisk_reoffer_is_relayed("update", "uac-accept-reinvite.xml");
}
// The caller's own offers while Asterisk's is crossing the pair get 491 (its UPDATE from the
// relay, its re-INVITE from its dialog), and Asterisk's offer is still answered.
TEST_F(Midcall, GlareAcrossThePairGets491AndThePendingOfferIsStillAnswered) {
  asterisk_reoffer_is_relayed("invite", "uac-glare.xml");
}

// The caller hangs up while Asterisk's re-offer waits for its answer: Asterisk's re-INVITE is
// answered (500) rather than left pending, and both legs end.
TEST_F(Midcall, ACallerHangingUpMidRelayLeavesNothingPending) {
  connect_callers(server, {}, [&](const mrf::ConnectedCaller& call) {
    call.endpoint->on_destroy([&](mrf::EndpointEnd end) { log.add("endpoint " + std::string(mrf::to_string(end))); });
    server->ari().channels().async_set_channel_var(
        ari::channels::SetChannelVar{call.endpoint->channel_id(), "PJSIP_SEND_SESSION_REFRESH()", "invite", {}},
        [&](std::exception_ptr error, auto...) { log.add("refresh " + describe(error)); });
  });
  auto result = astmrf_test::run_sipp(caller("uac-bye-during-reinvite.xml"));
  // The application's side too: whether Asterisk took the refresh, and how each leg ended.
  EXPECT_EQ(result.exit_code, 0) << result.output << "\n" << log.joined();
  EXPECT_TRUE(log.wait_for("refresh ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("endpoint destroyed")) << log.joined();
  drop_legs();
}

TEST_F(Midcall, AStandaloneEndpointAnswersAsterisksReOfferItself) {
  // Our session only sends (say, an announcement leg): Asterisk's re-offer must get an answer
  // that still only sends, in the same SDP session.
  astmrf_test::RtpPeer peer;
  mrf::EndpointOptions options;
  options.remote_sdp = peer.sdp(astmrf_test::RtpDirection::sendonly);
  auto endpoint = harness.run([&] { return server->async_create_endpoint(options, asio::use_future); }).get();
  ASSERT_TRUE(endpoint);
  const auto first_asterisk_sdp = harness.run([&] { return endpoint->local_sdp(); });
  harness.run([&] {
    server->ari().channels().async_set_channel_var(
        ari::channels::SetChannelVar{endpoint->channel_id(), "PJSIP_SEND_SESSION_REFRESH()", "invite", {}},
        [&](std::exception_ptr error, auto...) { log.add("refresh " + describe(error)); });
    return 0;
  });
  EXPECT_TRUE(log.wait_for("refresh ok")) << log.joined();
  // Asterisk's new offer is the dialog's remote SDP once our answer went out.
  std::string asterisk_sdp;
  for (int i = 0; i < 100 && (asterisk_sdp.empty() || asterisk_sdp == first_asterisk_sdp); ++i) {
    std::this_thread::sleep_for(50ms);
    asterisk_sdp = harness.run([&] { return endpoint->local_sdp(); });
  }
  EXPECT_NE(asterisk_sdp, first_asterisk_sdp);
  auto ours = harness.run([&] { return endpoint->remote_sdp(); });
  auto parsed = sdp::parse(ours);
  ASSERT_TRUE(parsed) << ours;
  ASSERT_EQ(parsed->media.size(), 1u) << ours;
  EXPECT_EQ(parsed->media[0].direction(parsed->direction()), sdp::Direction::sendonly) << ours;
  auto original = sdp::parse(options.remote_sdp);
  ASSERT_TRUE(original);
  EXPECT_EQ(parsed->origin.session_id, original->origin.session_id) << ours;
  harness.run([&] {
    endpoint->destroy();
    endpoint.reset();
    return 0;
  });
}

// ------------------------------------------------------------------ answer-first dialplan

// Its own Asterisk instance whose dialplan runs Answer() before Stasis(): the 200 OK to the
// application's INVITE precedes the StasisStart (the channel is Up when it enters Stasis).
class MidcallAnswerFirst : public astmrf_test::MrfFixture {
 protected:
  static std::vector<std::string> up_args() {
    const auto& box = astmrf_test::sandbox();
    return {box.tool,         "up",
            "--name",         ASTMRF_AF_SANDBOX_NAME,
            "--sip-port",     std::to_string(ASTMRF_AF_SIP_PORT),
            "--ari-port",     std::to_string(ASTMRF_AF_ARI_PORT),
            "--rtp-ports",    ASTMRF_AF_RTP_PORTS,
            "--ari-user",     box.ari_user,
            "--ari-password", box.ari_password,
            "--dialplan",     "answer-first"};
  }
  static void SetUpTestSuite() {
    auto r = astmrf_test::run(up_args(), 180s);
    if (r.exit_code != 0) setup_error = "sandbox up: " + r.output;
  }
  static void TearDownTestSuite() {
    astmrf_test::run({astmrf_test::sandbox().tool, "down", "--name", ASTMRF_AF_SANDBOX_NAME}, 60s);
  }
  // A failed suite setup would only skip the tests, which ctest counts as passed.
  void SetUp() override {
    if (!setup_error.empty()) FAIL() << setup_error;
  }
  static inline std::string setup_error;
};

TEST_F(MidcallAnswerFirst, EndpointAndCallerWorkWhenTheDialplanAnswersFirst) {
  const auto& box = astmrf_test::sandbox();
  astmrf_test::AriProbe probe("127.0.0.1", ASTMRF_AF_ARI_PORT, box.ari_user, box.ari_password);
  auto server = connect(astmrf_test::sandbox_options(ASTMRF_AF_ARI_PORT, ASTMRF_AF_SIP_PORT));
  // The state of each channel as it enters Stasis, and whether our dialog with Asterisk
  // (made by its 200 OK) was up by then.
  auto stasis = harness.run([&] {
    return std::make_shared<ari::Subscription>(
        server->ari().on_event(ari::EventType::stasis_start, [&](const ari::Event& event) {
          log.add("stasis_start " + std::string(event.json().at("channel").at("state").as_string()));
        }));
  });

  auto endpoint = harness.run([&] { return server->async_create_endpoint({}, asio::use_future); }).get();
  ASSERT_TRUE(endpoint);
  EXPECT_TRUE(log.wait_for("stasis_start Up")) << log.joined();
  EXPECT_FALSE(has(log.joined(), "stasis_start Ring")) << log.joined();
  EXPECT_TRUE(has(endpoint->local_sdp(), "m=audio")) << endpoint->local_sdp();
  harness.run([&] {
    endpoint->destroy();
    endpoint.reset();
    return 0;
  });

  // A caller connected through it: answered, played to, then hung up by the application.
  harness.run([&] {
    app->invite([&](srf::Request req, srf::Response res) {
      server->async_connect_caller(req, res, {}, [&](std::exception_ptr error, mrf::ConnectedCaller call) {
        log.add("connect_caller " + describe(error));
        auto leg = call.endpoint;
        if (!leg) return;
        // Its media works: a short prompt plays to its end, then BYE to both legs.
        leg->async_play("sound:beep", [&, leg](std::exception_ptr play_error, mrf::PlayResult played) {
          log.add("play " + (play_error ? describe(play_error) : std::string(mrf::to_string(played.end))));
          leg->destroy();
        });
      });
    });
    return 0;
  });
  SippCall call;
  call.scenario = std::string(ENGINE_SIPP_DIR) + "/uac-invite-wait-bye.xml";
  call.remote = harness.address(Transport::udp);
  auto result = astmrf_test::run_sipp(call);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("connect_caller ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("play finished")) << log.joined();
  const auto events = log.events();
  EXPECT_EQ(std::count(events.begin(), events.end(), "stasis_start Up"), 2) << log.joined();
  harness.run([&] {
    stasis.reset();
    return 0;
  });
  expect_nothing_left(server, probe);
}

}  // namespace
