// scripts/gen-tone-pcap writes what record and talk-detection tests make sipp send: N s of
// a PCMU tone, then M s of PCMU silence, 20 ms apart. Decoded with the RTP peer's G.711.
#include "astmrf_test/process.hpp"
#include "astmrf_test/rtp_peer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using astmrf_test::level_dbm0;
using astmrf_test::tone_share;

struct PcapPacket {
  std::uint32_t time_us = 0;
  std::uint8_t payload_type = 0;
  std::vector<std::int16_t> samples;
};

std::uint32_t le32(const std::vector<std::uint8_t>& data, std::size_t at) {
  return data[at] | std::uint32_t(data[at + 1]) << 8 | std::uint32_t(data[at + 2]) << 16 |
         std::uint32_t(data[at + 3]) << 24;
}

// Ethernet (14) + IPv4 (20) + UDP (8) + RTP (12) framing, as scripts/gen-dtmf-pcap writes it.
std::vector<PcapPacket> read_pcap(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<PcapPacket> packets;
  if (data.size() < 24 || le32(data, 0) != 0xA1B2C3D4 || le32(data, 20) != 1) return packets;
  for (std::size_t at = 24; at + 16 <= data.size();) {
    const std::uint32_t length = le32(data, at + 8);
    const std::size_t frame = at + 16;
    if (frame + length > data.size() || length < 54) break;
    PcapPacket packet;
    packet.time_us = le32(data, at) * 1000000u + le32(data, at + 4);
    packet.payload_type = data[frame + 43] & 0x7F;
    for (std::size_t i = frame + 54; i < frame + length; ++i)
      packet.samples.push_back(astmrf_test::ulaw_to_linear(data[i]));
    packets.push_back(std::move(packet));
    at = frame + length;
  }
  return packets;
}

TEST(GenTonePcap, WritesTheToneThenSilenceAt20msPace) {
  char path[] = "/tmp/astmrf-tone-pcap-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto result = astmrf_test::run({GEN_TONE_PYTHON, GEN_TONE_PCAP, path, "--tone-s", "1.5", "--silence-s", "0.5",
                                  "--frequency", "800", "--level", "-12"},
                                 30s);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto packets = read_pcap(path);
  std::remove(path);

  ASSERT_EQ(packets.size(), 75u + 25u);
  std::vector<std::int16_t> tone;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    EXPECT_EQ(packets[i].payload_type, astmrf_test::kPcmuPayloadType);
    ASSERT_EQ(packets[i].samples.size(), 160u);
    EXPECT_EQ(packets[i].time_us, i * 20000u);
    if (i < 75)
      tone.insert(tone.end(), packets[i].samples.begin(), packets[i].samples.end());
    else
      EXPECT_TRUE(std::isinf(level_dbm0(packets[i].samples))) << "packet " << i << " is silence";
  }
  EXPECT_GT(tone_share(tone, 800), 0.9);
  EXPECT_NEAR(level_dbm0(tone), -12.0, 0.5);

  auto bad = astmrf_test::run({GEN_TONE_PYTHON, GEN_TONE_PCAP, "/tmp/unused.pcap", "--frequency", "5000"}, 30s);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--frequency"), std::string::npos) << bad.output;
}

}  // namespace
