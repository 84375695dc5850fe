// The RTP peer over loopback: two peers talk to each other, so what one sends the
// other must count, decode and time as a caller's media end would.
#include "astmrf_test/rtp_peer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace {

using namespace std::chrono_literals;
using astmrf_test::level_dbm0;
using astmrf_test::RtpDirection;
using astmrf_test::RtpPeer;
using astmrf_test::tone_share;

void connect(RtpPeer& a, RtpPeer& b) {
  a.set_remote("127.0.0.1", b.port());
  b.set_remote("127.0.0.1", a.port());
}

TEST(G711, UlawRoundTripStaysWithinOneQuantisationStep) {
  EXPECT_EQ(astmrf_test::linear_to_ulaw(0), 0xFF);
  EXPECT_EQ(astmrf_test::ulaw_to_linear(0xFF), 0);
  EXPECT_EQ(astmrf_test::ulaw_to_linear(0x80), 32124);  // full scale, positive
  EXPECT_EQ(astmrf_test::ulaw_to_linear(0x00), -32124);
  for (int sample = -32768; sample <= 32767; sample += 7) {
    const auto code = astmrf_test::linear_to_ulaw(static_cast<std::int16_t>(sample));
    const int decoded = astmrf_test::ulaw_to_linear(code);
    const int clipped = std::clamp(sample, -32124, 32124);
    // A segment's step is 8 << exponent on the 16-bit scale: half of it at most, plus the clip.
    const int step = 8 << ((static_cast<std::uint8_t>(~code) >> 4) & 7);
    EXPECT_LE(std::abs(decoded - clipped), step / 2 + 4) << sample;
    // Decoded values are fixed points (0x7F, "minus zero", decodes to 0 and encodes to 0xFF).
    EXPECT_EQ(astmrf_test::ulaw_to_linear(astmrf_test::linear_to_ulaw(static_cast<std::int16_t>(decoded))), decoded)
        << sample;
  }
}

TEST(Sdp, OwnOfferParsesBackWithPortDirectionAndTelephoneEvent) {
  RtpPeer peer;
  const auto offer = peer.sdp(RtpDirection::sendonly);
  auto audio = astmrf_test::parse_sdp_audio(offer);
  ASSERT_TRUE(audio.has_value()) << offer;
  EXPECT_EQ(audio->address, "127.0.0.1");
  EXPECT_EQ(audio->port, peer.port());
  EXPECT_EQ(audio->payload_types, (std::vector<std::uint8_t>{0, 101}));
  EXPECT_EQ(audio->direction, RtpDirection::sendonly);
  EXPECT_EQ(audio->telephone_event, 101);
  // A new version of the session each time (a re-INVITE's offer).
  EXPECT_NE(offer.find(" 1 IN IP4"), std::string::npos) << offer;
  EXPECT_NE(peer.sdp().find(" 2 IN IP4"), std::string::npos);
}

TEST(Sdp, FarEndAnswerGivesMediaLevelAddressAndDirection) {
  const std::string answer =
      "v=0\r\no=- 1 2 IN IP4 10.0.0.9\r\ns=Asterisk\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\na=sendrecv\r\n"
      "m=audio 32510 RTP/AVP 0 96\r\nc=IN IP4 127.0.0.3\r\na=rtpmap:0 PCMU/8000\r\n"
      "a=rtpmap:96 telephone-event/8000\r\na=recvonly\r\nm=video 0 RTP/AVP 31\r\na=inactive\r\n";
  auto audio = astmrf_test::parse_sdp_audio(answer);
  ASSERT_TRUE(audio.has_value());
  EXPECT_EQ(audio->address, "127.0.0.3");
  EXPECT_EQ(audio->port, 32510);
  EXPECT_EQ(audio->direction, RtpDirection::recvonly);
  EXPECT_EQ(audio->telephone_event, 96);
  EXPECT_FALSE(astmrf_test::parse_sdp_audio("v=0\r\nc=IN IP4 127.0.0.1\r\nm=video 4000 RTP/AVP 31\r\n"));
  EXPECT_FALSE(astmrf_test::parse_sdp_audio("v=0\nm=audio 4000 RTP/AVP 0\n")) << "no connection address";

  RtpPeer peer;
  EXPECT_THROW(peer.set_remote_from_sdp("v=0\r\n"), std::invalid_argument);
  EXPECT_THROW(peer.set_remote_from_sdp("c=IN IP4 127.0.0.1\r\nm=audio 0 RTP/AVP 0\r\n"), std::invalid_argument);
}

TEST(RtpPeer, ToneArrivesAsPcmuAtItsFrequencyAndLevelAtA20msPace) {
  RtpPeer caller;
  RtpPeer far_end;
  caller.set_remote_from_sdp(far_end.sdp());
  far_end.set_remote_from_sdp(caller.sdp());
  EXPECT_EQ(caller.remote(), "127.0.0.1:" + std::to_string(far_end.port()));

  const auto start = RtpPeer::Clock::now();
  caller.send_tone(1000, -10, 1000ms);
  ASSERT_TRUE(caller.wait_until_sent(5s));
  ASSERT_TRUE(far_end.wait_for_packets(50, 2s)) << far_end.packets_received();
  const auto elapsed = RtpPeer::Clock::now() - start;
  EXPECT_GE(elapsed, 900ms) << "50 frames of 20 ms are paced, not burst";
  EXPECT_EQ(caller.packets_sent(), 50u);
  EXPECT_EQ(far_end.packets_received(), 50u);
  EXPECT_EQ(far_end.packets_received(astmrf_test::kPcmuPayloadType), 50u);
  EXPECT_EQ(far_end.audio_packets_received(), 50u);
  EXPECT_EQ(far_end.digit_string(), "");

  const auto samples = far_end.received_samples();
  ASSERT_EQ(samples.size(), 50u * 160u);
  EXPECT_GT(tone_share(samples, 1000), 0.9);
  EXPECT_LT(tone_share(samples, 700), 0.01);
  EXPECT_NEAR(level_dbm0(samples), -10.0, 0.5);
}

TEST(RtpPeer, DigitsAreDecodedOncePerEventWithTheirDuration) {
  RtpPeer caller;
  RtpPeer far_end;
  connect(caller, far_end);
  caller.send_digits("1234#*", 160ms, 100ms);
  ASSERT_TRUE(far_end.wait_for_digits(6, 10s)) << far_end.digit_string();
  ASSERT_TRUE(caller.wait_until_sent(2s));
  ASSERT_TRUE(far_end.wait_for_packets(caller.packets_sent(), 1s));  // the last silence frame is on its way
  EXPECT_EQ(far_end.digit_string(), "1234#*");
  for (const auto& digit : far_end.digits()) {
    EXPECT_TRUE(digit.ended);
    EXPECT_EQ(digit.duration, 160ms) << digit.digit;
  }
  // 8 event frames per digit, the last one sent three times; 5 frames of silence after each.
  EXPECT_EQ(far_end.packets_received(astmrf_test::kTelephoneEventPayloadType), 6u * (8u + 2u));
  EXPECT_EQ(far_end.packets_received(astmrf_test::kPcmuPayloadType), 6u * 5u);
  EXPECT_EQ(far_end.audio_packets_received(), 0u) << "PCMU silence is not audio";
  EXPECT_THROW(caller.send_digits("12x"), std::invalid_argument);
}

TEST(RtpPeer, RepeatedDigitsAreTwoEvents) {
  RtpPeer caller;
  RtpPeer far_end;
  connect(caller, far_end);
  caller.send_digits("55", 60ms, 0ms);  // back to back: only the timestamp tells them apart
  ASSERT_TRUE(far_end.wait_for_digits(2, 5s)) << far_end.digit_string();
  EXPECT_EQ(far_end.digit_string(), "55");
}

TEST(RtpPeer, AnswersTheFirstSenderWhenNoFarEndIsSet) {
  RtpPeer caller;
  RtpPeer far_end;  // no remote: it learns it from the first packet
  caller.set_remote("127.0.0.1", far_end.port());
  far_end.send_digits("9");  // queued until a far end is known
  caller.send_silence(40ms);
  ASSERT_TRUE(caller.wait_for_digits(1, 5s));
  EXPECT_EQ(caller.digit_string(), "9");
  EXPECT_EQ(far_end.remote(), "127.0.0.1:" + std::to_string(caller.port()));
}

TEST(RtpPeer, PacketsFromAnotherSourceAreOnlyStray) {
  RtpPeer caller;
  RtpPeer far_end;
  RtpPeer stranger;
  connect(caller, far_end);
  stranger.set_remote("127.0.0.1", caller.port());
  stranger.send_digits("7");
  ASSERT_TRUE(stranger.wait_until_sent(5s));
  far_end.send_digits("1");
  ASSERT_TRUE(caller.wait_for_digits(1, 5s));
  ASSERT_TRUE(far_end.wait_until_sent(5s));
  EXPECT_EQ(caller.digit_string(), "1");
  EXPECT_EQ(caller.stray_packets_received(), stranger.packets_sent());
  EXPECT_EQ(caller.remote(), "127.0.0.1:" + std::to_string(far_end.port()));
}

TEST(RtpPeer, SilenceIsNoPacketsAfterTheSenderStops) {
  RtpPeer caller;
  RtpPeer far_end;
  connect(caller, far_end);
  EXPECT_TRUE(far_end.wait_for_quiet(100ms, 1s)) << "nothing sent yet";
  caller.send_tone(440, -20, 2000ms);
  ASSERT_TRUE(far_end.wait_for_packets(5, 2s));
  EXPECT_FALSE(far_end.wait_for_quiet(200ms, 500ms)) << "packets keep coming while the tone plays";
  caller.stop_sending();
  ASSERT_TRUE(caller.wait_until_sent(1s));
  const auto count = far_end.packets_received();
  EXPECT_TRUE(far_end.wait_for_quiet(200ms, 2s));
  EXPECT_LE(far_end.packets_received(), count + 1);
  EXPECT_LT(far_end.packets_received(), 100u);
  ASSERT_TRUE(far_end.last_packet_time().has_value());
  EXPECT_GE(RtpPeer::Clock::now() - *far_end.last_packet_time(), 200ms);

  far_end.clear_received();
  EXPECT_EQ(far_end.packets_received(), 0u);
  EXPECT_FALSE(far_end.last_packet_time().has_value());
}

}  // namespace
