// The far end's SDP out of a sipp message trace (-trace_msg), for an RtpPeer that stands
// for sipp's caller.
#include "astmrf_test/rtp_peer.hpp"
#include "astmrf_test/sipp.hpp"

#include <gtest/gtest.h>

namespace {

std::string block(const std::string& direction_line, const std::string& message) {
  return "----------------------------------------------- 2026-12-06 00:49:28.701674\n" + direction_line + "\n\n" +
         message + "\n";
}

const std::string kOffer =
    "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 52866 RTP/AVP 0 101\r\na=sendrecv\r\n";
const std::string kAnswer =
    "v=0\r\no=- 1 3 IN IP4 127.0.0.1\r\ns=Asterisk\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 32644 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n";

TEST(SippTrace, LastReceivedSdpSkipsSentMessagesAndBodilessOnes) {
  const std::string trace =
      block("UDP message sent (575 bytes):", "INVITE sip:x@127.0.0.1 SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n" + kOffer) +
      block("UDP message received [288] bytes :", "SIP/2.0 100 Trying\r\nCSeq: 1 INVITE\r\n\r\n") +
      block("UDP message received [750] bytes :", "SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n" + kAnswer) +
      block("UDP message sent (300 bytes):", "ACK sip:127.0.0.1 SIP/2.0\r\nCSeq: 1 ACK\r\n\r\n");
  auto sdp = astmrf_test::last_received_sdp(trace);
  ASSERT_TRUE(sdp.has_value());
  EXPECT_EQ(*sdp, kAnswer);
  auto audio = astmrf_test::parse_sdp_audio(*sdp);
  ASSERT_TRUE(audio.has_value());
  EXPECT_EQ(audio->port, 32644);
  EXPECT_EQ(audio->direction, astmrf_test::RtpDirection::recvonly);

  EXPECT_FALSE(astmrf_test::last_received_sdp(""));
  EXPECT_FALSE(
      astmrf_test::last_received_sdp(block("UDP message sent (575 bytes):", "INVITE x SIP/2.0\r\n\r\n" + kOffer)));
}

}  // namespace
