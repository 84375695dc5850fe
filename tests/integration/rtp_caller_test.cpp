// The media test infrastructure against the real Asterisk, without astmrf in the path:
// a sipp caller whose SDP points at an astmrf_test::RtpPeer calls dialplan extensions
// of the sandbox ([astmrf-media] in config/asterisk/extensions.conf) directly, and the
// peer hears Asterisk's prompt, sends digits that Asterisk reads and echoes back, and
// its call survives a hold and an unhold re-INVITE.
#include "astmrf_test/rtp_peer.hpp"
#include "astmrf_test/sandbox.hpp"
#include "astmrf_test/sipp.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using astmrf_test::RtpDirection;
using astmrf_test::RtpPeer;
using astmrf_test::SippCall;

SippCall rtp_call(const std::string& scenario, const std::string& extension, const RtpPeer& peer) {
  SippCall call;
  call.scenario = scenario;
  call.service = extension;
  call.keys["rtp_port"] = std::to_string(peer.port());
  call.keys["direction"] = std::string(astmrf_test::to_string(RtpDirection::sendrecv));
  return call;
}

TEST(RtpCaller, HearsThePromptThatTheDialplanPlays) {
  RtpPeer peer;
  auto call = rtp_call("rtp-caller-bye.xml", "media-play", peer);
  call.keys["hangup_after_ms"] = "3000";
  astmrf_test::SippProcess sipp(call);

  // Asterisk's answer names its RTP address: only its packets count.
  auto answer = sipp.wait_for_received_sdp(10s);
  ASSERT_TRUE(answer.has_value()) << sipp.wait(1s).output;
  peer.set_remote_from_sdp(*answer);

  // tt-monkeys is loud: 1 s of it is 50 PCMU packets with audio in them.
  EXPECT_TRUE(peer.wait_for_audio_packets(50, 10s)) << peer.audio_packets_received() << " audio packets";
  EXPECT_GE(peer.packets_received(astmrf_test::kPcmuPayloadType), 50u);
  EXPECT_EQ(peer.packets_received(astmrf_test::kTelephoneEventPayloadType), 0u);

  auto result = sipp.wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  // After the caller's BYE, Asterisk's media stops.
  EXPECT_TRUE(peer.wait_for_quiet(500ms, 5s)) << peer.packets_received() << " packets";
}

TEST(RtpCaller, DigitsReachAsteriskWhichSendsThemBack) {
  RtpPeer peer;
  auto call = rtp_call("rtp-caller-wait-bye.xml", "media-echo-digits", peer);
  astmrf_test::SippProcess sipp(call);

  // Asterisk's answer tells the peer where to send, whether or not Asterisk speaks first.
  auto answer = sipp.wait_for_received_sdp(10s);
  ASSERT_TRUE(answer.has_value()) << sipp.wait(1s).output;
  peer.set_remote_from_sdp(*answer);
  ASSERT_TRUE(peer.wait_for_packets(1, 10s)) << "no beep\n" << sipp.wait(1s).output;
  peer.wait_for_quiet(200ms, 3s);  // the beep is over: Read() listens
  peer.clear_received();
  peer.send_digits("4721");
  ASSERT_TRUE(peer.wait_until_sent(5s));

  // Read() took four digits; SendDTMF() sends them back as RFC 4733 events.
  EXPECT_TRUE(peer.wait_for_digits(4, 10s)) << peer.digit_string();
  EXPECT_EQ(peer.digit_string(), "4721");
  for (const auto& digit : peer.digits()) {
    EXPECT_TRUE(digit.ended) << digit.digit;
    EXPECT_GE(digit.duration, 80ms) << digit.digit;
  }
  auto result = sipp.wait(20s);  // Asterisk hangs up after the digits
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

// Asterisk itself (a dialplan Playback) answers the hold recvonly and stops sending while
// held, then resumes: the reference behaviour that issue 15 wants from a relayed hold. It
// does so only while the held caller sends no RTP of its own (measured: a caller that keeps
// sending PCMU during the hold keeps receiving the prompt), so this caller stays silent.
TEST(RtpCaller, HoldAndUnholdReInvitesAreAnswered) {
  RtpPeer peer;
  auto call = rtp_call("rtp-caller-hold.xml", "media-play", peer);
  call.keys["hold_after_ms"] = "1500";
  call.keys["hold_ms"] = "2500";
  call.keys["hangup_after_ms"] = "1500";
  astmrf_test::SippProcess sipp(call);

  auto answer = sipp.wait_for_received_sdp(10s);
  ASSERT_TRUE(answer.has_value()) << sipp.wait(1s).output;
  peer.set_remote_from_sdp(*answer);
  ASSERT_TRUE(peer.wait_for_audio_packets(25, 10s)) << peer.audio_packets_received() << " audio packets";
  // Held: no packet for a second (the hold lasts 2.5 s).
  EXPECT_TRUE(peer.wait_for_quiet(1000ms, 5s)) << peer.packets_received() << " packets, no pause";
  const auto held = peer.audio_packets_received();
  // Unheld: the prompt goes on.
  EXPECT_TRUE(peer.wait_for_audio_packets(held + 25, 5s)) << peer.audio_packets_received() << " audio packets";

  auto result = sipp.wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("a=recvonly"), std::string::npos) << "the hold's answer\n" << result.output;
}

}  // namespace
