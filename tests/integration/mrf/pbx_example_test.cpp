// examples/pbx driven as a program against the Asterisk sandbox (issue 21): baresip registers with
// digest auth (a wrong password first: refused, nothing registered), a sipp caller (media on an
// RtpPeer) calls the registered user and is connected through Asterisk to baresip, whose aubridge
// sends back what it hears: the caller hears its own tone back through Asterisk. A caller to anyone
// else reaches the IVR (Asterisk's prompt). Ends with the leak check (no channel, no bridge).
#include "../engine/baresip_peer.hpp"
#include "../engine/engine_harness.hpp"
#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/process.hpp"
#include "astmrf_test/rtp_peer.hpp"
#include "astmrf_test/sandbox.hpp"
#include "astmrf_test/sipp.hpp"
#include "call_support.hpp"
#include "mrf_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;
using astmrf::sip::Transport;
using astmrf_test::RtpPeer;

// Waits until the process printed `text`.
bool wait_output(const astmrf_test::Process& process, const std::string& text, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (process.output().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

std::size_t channels_on_asterisk(const astmrf_test::AriProbe& probe) {
  auto result = probe.request("GET", "/ari/channels");
  return result.status == 200 ? result.json().as_array().size() : 0;
}

class PbxExample : public testing::Test {
 protected:
  ~PbxExample() override {
    bool clean = false;
    for (int i = 0; i < 250 && !clean; ++i) {
      clean = channels_on_asterisk(probe) == 0 && astmrf_test::bridges_on_asterisk(probe) == 0;
      if (!clean) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(clean) << channels_on_asterisk(probe) << " channels, " << astmrf_test::bridges_on_asterisk(probe)
                       << " bridges left on Asterisk";
  }

  // A sipp caller of `user` at the example, media on `peer`, hanging up after `ms`.
  astmrf_test::SippCall caller(const std::string& user, const RtpPeer& peer, int ms) const {
    astmrf_test::SippCall call;
    call.scenario = astmrf_test::sandbox().sipp_dir + "/rtp-caller-bye.xml";
    call.remote = "127.0.0.1:" + std::to_string(port);
    call.service = user;
    call.keys["rtp_port"] = std::to_string(peer.port());
    call.keys["direction"] = "sendrecv";
    call.keys["hangup_after_ms"] = std::to_string(ms);
    return call;
  }

  astmrf_test::AriProbe probe = astmrf_test::AriProbe::for_sandbox();
  const std::uint16_t port = astmrf_test::free_port(Transport::udp);
  astmrf_test::Process pbx{{"/usr/bin/env", "ARI_PASSWORD=" + astmrf_test::sandbox().ari_password,
                            "PBX_USERS=bob:bob-secret", "EXAMPLE_SIP_PORT=" + std::to_string(port), PBX_EXAMPLE,
                            astmrf_test::sandbox().ari_user, std::to_string(astmrf_test::sandbox().ari_port),
                            std::to_string(astmrf_test::sandbox().sip_port)}};
};

TEST_F(PbxExample, ARegisteredBaresipIsCalledThroughAsteriskAndOthersReachTheIvr) {
  ASSERT_TRUE(wait_output(pbx, "ready", 15s)) << pbx.output();
  const std::string aor = "sip:bob@127.0.0.1:" + std::to_string(port);
  {  // a wrong password: challenged, refused, nothing registered
    astmrf_test::BaresipPeer::Options options;
    options.account = "<" + aor + ";transport=udp>;auth_user=bob;auth_pass=wrong;regint=60";
    astmrf_test::BaresipPeer wrong(options);
    std::this_thread::sleep_for(1500ms);
  }
  EXPECT_EQ(pbx.output().find("registered " + aor), std::string::npos) << pbx.output();
  const std::string alice = "sip:alice@127.0.0.1:" + std::to_string(port);
  {  // bob's good credentials for alice's AOR: authenticated, then refused (403), nothing registered
    astmrf_test::BaresipPeer::Options options;
    options.account = "<" + alice + ";transport=udp>;auth_user=bob;auth_pass=bob-secret;regint=60";
    astmrf_test::BaresipPeer impostor(options);
    // baresip prints the refusal ("reg: sip:alice@...: 403 Not Allowed For This Address Of Record").
    const std::string refusal = "403 Not Allowed For This Address Of Record";
    for (int i = 0; i < 100 && impostor.output().find(refusal) == std::string::npos; ++i)
      std::this_thread::sleep_for(50ms);
    EXPECT_NE(impostor.output().find(refusal), std::string::npos) << impostor.output();
  }
  EXPECT_EQ(pbx.output().find("registered " + alice), std::string::npos) << pbx.output();

  astmrf_test::BaresipPeer::Options options;
  options.account = "<" + aor +
                    ";transport=udp>;auth_user=bob;auth_pass=bob-secret;regint=60;answermode=auto;"
                    "audio_codecs=PCMU";
  astmrf_test::BaresipPeer bob(options);
  ASSERT_TRUE(wait_output(pbx, "registered " + aor, 10s)) << pbx.output() << bob.output();

  RtpPeer caller_media;
  astmrf_test::SippProcess call(caller("bob", caller_media, 8000));
  auto answer = call.wait_for_received_sdp(10s);
  ASSERT_TRUE(answer.has_value()) << call.wait(1s).output << pbx.output();
  caller_media.set_remote_from_sdp(*answer);
  ASSERT_TRUE(wait_output(pbx, "connected sip:bob@", 15s)) << pbx.output() << bob.output();
  // The caller's tone goes through Asterisk to baresip, whose aubridge sends it back.
  caller_media.send_tone(1000, -10, 5s);
  EXPECT_GT(astmrf_test::wait_for_tone(caller_media, 1000, 5s), 0.5)
      << "level " << astmrf_test::level_dbm0(caller_media.received_samples());
  auto result = call.wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;

  // Anyone else: Asterisk answers and speaks (the IVR's prompt).
  RtpPeer other_media;
  astmrf_test::SippProcess other(caller("nobody", other_media, 3000));
  auto other_answer = other.wait_for_received_sdp(10s);
  ASSERT_TRUE(other_answer.has_value()) << other.wait(1s).output << pbx.output();
  other_media.set_remote_from_sdp(*other_answer);
  EXPECT_TRUE(other_media.wait_for_audio_packets(25, 5s)) << other_media.audio_packets_received();
  auto other_result = other.wait(20s);
  EXPECT_EQ(other_result.exit_code, 0) << other_result.output;
}

}  // namespace
