// Transfers on the real Asterisk (issue 18). A sipp caller A (media on an RtpPeer) is connected
// and talks with agent B (sipp UAS, RtpPeer) through mrf::async_call_agent. Blind transfer: A
// REFERs to C (another sipp UAS): 202, NOTIFY 100 then NOTIFY 200 (sipfrag) reach A, B and C hear
// each other, and A's leg ends while B stays up; a busy target is NOTIFYed and A and B go on.
// Replaces: D's INVITE replacing A's dialog takes A's place (D and B hear each other, A gets BYE).
// Every test ends with the leak check.
#include "call_support.hpp"

#include <astmrf/mrf/transfer.hpp>

namespace {

using namespace std::chrono_literals;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
using astmrf::sip::Transport;
using astmrf_test::describe_agent;
using astmrf_test::RtpPeer;
using astmrf_test::SippProcess;
using astmrf_test::wait_for_tone;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The sipfrag status line of each NOTIFY sipp received, in order (a line of its own that starts
// with "SIP/2.0 ", which only the body has: the request line ends with it, Via has it mid-line).
std::vector<std::string> notify_statuses(const std::string& trace) {
  std::vector<std::string> statuses;
  for (auto at = trace.find("NOTIFY sip:"); at != std::string::npos; at = trace.find("NOTIFY sip:", at + 1)) {
    const auto end = trace.find("-----------", at);
    const auto frag = trace.find("\nSIP/2.0 ", at);
    if (frag == std::string::npos || (end != std::string::npos && frag > end)) continue;
    statuses.push_back(trace.substr(frag + 1, trace.find_first_of("\r\n", frag + 1) - frag - 1));
  }
  return statuses;
}

class TransferTest : public astmrf_test::CallFixture {
 protected:
  ~TransferTest() override {
    harness.run([&] {
      transferred = {};
      replacing = {};
      return 0;
    });
  }

  // Every caller is connected and its agent at `port` called; `then` runs once they talk.
  void connect_to_agent(std::uint16_t port, std::function<void(const mrf::ConnectedCaller&)> then) {
    mrf::AgentCallOptions options;
    options.ringback = mrf::Ringback::none;
    on_caller([&, port, options, then](const mrf::ConnectedCaller& connected) {
      mrf::async_call_agent(connected.endpoint, agent_uri(port), options,
                            [&, connected, then](std::exception_ptr error, mrf::AgentCall made) {
                              log.add("agent " + describe_agent(error));
                              if (error) return;
                              keep(made);
                              call = made;
                              then(connected);
                            });
    });
  }

  void busy_target(const std::string& embedded, const std::string& expected_header);
  void replace_leg(bool agent_leg);

  mrf::AgentCall transferred;      // engine thread only
  mrf::ConnectedCaller replacing;  // engine thread only
};

TEST_F(TransferTest, BlindTransferByReferConnectsTheTargetWithTheOtherSideAndEndsTheReferrer) {
  RtpPeer a_media;
  RtpPeer b_media;
  RtpPeer c_media;
  const auto b_port = astmrf_test::free_port(Transport::udp);
  SippProcess b(agent_party("agent-answer.xml", b_port, &b_media, 0ms));
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, b_port));
  const auto c_port = astmrf_test::free_port(Transport::udp);
  SippProcess c(agent_party("agent-answer.xml", c_port, &c_media, 1000ms));
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, c_port));

  connect_to_agent(b_port, [&](const mrf::ConnectedCaller& connected) {
    connected.dialog->on("REFER", [&, connected](srf::Request req, srf::Response res) {
      log.add("refer");
      mrf::async_blind_transfer(connected, req, res, call.agent, {},
                                [&](std::exception_ptr error, mrf::AgentCall made) {
                                  log.add("transfer " + describe_agent(error));
                                  if (error) return;
                                  keep(made);
                                  transferred = made;
                                });
    });
  });
  auto scenario = caller_party(MRF_SIPP_DIR "/rtp-caller-refer.xml", a_media);
  scenario.keys["refer_after_ms"] = "2500";
  scenario.keys["refer_to"] = agent_uri(c_port);
  SippProcess a(scenario);

  ASSERT_TRUE(log.wait_for("agent ok", 15s)) << log.joined();
  auto b_offer = b.wait_for_received_sdp(5s);
  ASSERT_TRUE(b_offer.has_value());
  b_media.set_remote_from_sdp(*b_offer);

  ASSERT_TRUE(log.wait_for("transfer ok", 20s)) << log.joined();
  // The referrer saw 202, NOTIFY 100 then NOTIFY 200, then its leg ended (BYE).
  auto a_result = a.wait(10s);
  EXPECT_EQ(a_result.exit_code, 0) << a_result.output;
  const auto statuses = notify_statuses(a_result.output);
  ASSERT_EQ(statuses.size(), 2u) << a_result.output;
  EXPECT_TRUE(has(statuses[0], "SIP/2.0 100")) << statuses[0];
  EXPECT_TRUE(has(statuses[1], "SIP/2.0 200")) << statuses[1];
  EXPECT_TRUE(has(a_result.output, "message/sipfrag")) << a_result.output;

  // B (still up: the referrer's end did not end it) and C hear each other.
  auto c_offer = c.wait_for_received_sdp(5s);
  ASSERT_TRUE(c_offer.has_value());
  c_media.set_remote_from_sdp(*c_offer);
  b_media.send_tone(1000, -10, 6s);
  c_media.send_tone(1400, -10, 6s);
  EXPECT_GT(wait_for_tone(c_media, 1000, 4s), 0.5) << "C does not hear B";
  EXPECT_GT(wait_for_tone(b_media, 1400, 4s), 0.5) << "B does not hear C";
  EXPECT_TRUE(harness.run([&] { return call.agent && !call.agent->destroyed(); }));

  // C's end ends B (end together): both get BYE.
  harness.run([&] {
    transferred.agent->destroy();
    return 0;
  });
  auto c_result = c.wait(10s);
  EXPECT_EQ(c_result.exit_code, 0) << c_result.output;
  auto b_result = b.wait(10s);
  EXPECT_EQ(b_result.exit_code, 0) << b_result.output;
}

// A REFERs to a busy C (with `embedded`, the Refer-To's headers: "?Replaces=..."): C's INVITE
// carries the Referred-By (and what was embedded), A is NOTIFYed 486, and A and B go on talking.
void TransferTest::busy_target(const std::string& embedded, const std::string& expected_header) {
  RtpPeer a_media;
  RtpPeer b_media;
  const auto b_port = astmrf_test::free_port(Transport::udp);
  SippProcess b(agent_party("agent-answer.xml", b_port, &b_media, 0ms));
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, b_port));
  const auto c_port = astmrf_test::free_port(Transport::udp);
  SippProcess c(agent_party("agent-busy.xml", c_port, nullptr, 0ms));
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, c_port));

  connect_to_agent(b_port, [&](const mrf::ConnectedCaller& connected) {
    connected.dialog->on("REFER", [&, connected](srf::Request req, srf::Response res) {
      mrf::async_blind_transfer(connected, req, res, call.agent, {}, [&](std::exception_ptr error, mrf::AgentCall) {
        log.add("transfer " + describe_agent(error));
      });
    });
  });
  auto scenario = caller_party(MRF_SIPP_DIR "/rtp-caller-refer.xml", a_media);
  scenario.keys["refer_after_ms"] = "1500";
  scenario.keys["refer_to"] = agent_uri(c_port) + embedded;
  SippProcess a(scenario);

  ASSERT_TRUE(log.wait_for("transfer AgentCallFailed busy 486", 20s)) << log.joined();
  auto c_result = c.wait(10s);
  EXPECT_EQ(c_result.exit_code, 0) << c_result.output;
  EXPECT_TRUE(has(c_result.output, "Referred-By: <sip:caller@127.0.0.1>")) << c_result.output;
  if (!expected_header.empty()) {
    EXPECT_TRUE(has(c_result.output, expected_header)) << c_result.output;
  }
  // A and B still talk.
  auto a_answer = a.wait_for_received_sdp(5s);
  auto b_offer = b.wait_for_received_sdp(5s);
  ASSERT_TRUE(a_answer && b_offer);
  a_media.set_remote_from_sdp(*a_answer);
  b_media.set_remote_from_sdp(*b_offer);
  a_media.send_tone(600, -10, 4s);
  EXPECT_GT(wait_for_tone(b_media, 600, 3s), 0.5) << "B no longer hears A";

  // The application ends the call: A gets BYE (its scenario ends there), B too.
  hang_up_all();
  auto a_result = a.wait(10s);
  EXPECT_EQ(a_result.exit_code, 0) << a_result.output;
  const auto statuses = notify_statuses(a_result.output);
  ASSERT_EQ(statuses.size(), 2u) << a_result.output;
  EXPECT_TRUE(has(statuses[1], "SIP/2.0 486")) << statuses[1];
  auto b_result = b.wait(10s);
  EXPECT_EQ(b_result.exit_code, 0) << b_result.output;
}

TEST_F(TransferTest, BlindTransferToABusyTargetNotifiesTheFailureAndKeepsTheCall) { busy_target("", ""); }
TEST_F(TransferTest, AReferWithReplacesPassesItToTheTarget) {
  busy_target("?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2", "Replaces: abc@h;to-tag=1;from-tag=2");
}

// D's INVITE replaces one leg of a call between caller A and agent B (A's leg, or with
// `agent_leg` B's): D takes its place (D and the other party hear each other), the replaced party
// gets BYE, and D's end ends the other party (the end-together tie went to D).
void TransferTest::replace_leg(bool agent_leg) {
  RtpPeer a_media;
  RtpPeer b_media;
  RtpPeer d_media;
  const auto b_port = astmrf_test::free_port(Transport::udp);
  SippProcess b(agent_party("agent-answer.xml", b_port, &b_media, 0ms));
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, b_port));
  connect_to_agent(b_port, [](const mrf::ConnectedCaller&) {});
  harness.run([&] {
    app->replaces([&](srf::Request req, srf::Response res) {
      server->async_replace_caller(req, res, {}, [&](std::exception_ptr error, mrf::ConnectedCaller connected) {
        log.add("replace " + astmrf_test::describe(error));
        if (error) return;
        held.push_back(connected.endpoint);
        held.push_back(connected.dialog);
        replacing = connected;
      });
    });
    return 0;
  });
  SippProcess a(caller_party("rtp-caller-wait-bye.xml", a_media));
  ASSERT_TRUE(log.wait_for("agent ok", 15s)) << log.joined();

  // D replaces the leg (to-tag: our tag, from-tag: the replaced party's).
  const auto replaces = harness.run([&] {
    const auto& d = agent_leg ? call.agent_dialog : legs.dialog;
    return d->call_id() + ";to-tag=" + d->local_tag() + ";from-tag=" + d->remote_tag();
  });
  auto scenario = caller_party(MRF_SIPP_DIR "/rtp-caller-replaces.xml", d_media);
  scenario.keys["replaces"] = replaces;
  SippProcess d(scenario);
  ASSERT_TRUE(log.wait_for("replace ok", 15s)) << log.joined();
  auto& replaced = agent_leg ? b : a;
  auto replaced_result = replaced.wait(10s);  // the replaced party got BYE
  EXPECT_EQ(replaced_result.exit_code, 0) << replaced_result.output;

  auto& other = agent_leg ? a : b;
  auto& other_media = agent_leg ? a_media : b_media;
  auto d_answer = d.wait_for_received_sdp(5s);
  auto other_sdp = other.wait_for_received_sdp(5s);
  ASSERT_TRUE(d_answer && other_sdp);
  d_media.set_remote_from_sdp(*d_answer);
  other_media.set_remote_from_sdp(*other_sdp);
  d_media.send_tone(1800, -10, 6s);
  other_media.send_tone(1000, -10, 6s);
  EXPECT_GT(wait_for_tone(other_media, 1800, 4s), 0.5) << "the other party does not hear D";
  EXPECT_GT(wait_for_tone(d_media, 1000, 4s), 0.5) << "D does not hear the other party";

  // D's end ends the other party: both get BYE.
  harness.run([&] {
    replacing.endpoint->destroy();
    return 0;
  });
  auto d_result = d.wait(10s);
  EXPECT_EQ(d_result.exit_code, 0) << d_result.output;
  auto other_result = other.wait(10s);
  EXPECT_EQ(other_result.exit_code, 0) << other_result.output;
}

TEST_F(TransferTest, AReplacingInviteTakesOverTheCallersLeg) { replace_leg(false); }
TEST_F(TransferTest, AReplacingInviteTakesOverTheAgentsLeg) { replace_leg(true); }

}  // namespace
