// mrf::async_call_agent against the real Asterisk (issue 18): a sipp caller (media on an RtpPeer)
// is connected, then an agent (sipp UAS, media on another RtpPeer) is called for it. Busy and no
// answer fail typed (no answer: the CANCEL reaches sipp), the caller hears ringback while the agent
// rings, an answered agent and the caller hear each other's tones, and either side's BYE ends
// both. Every test ends with the leak check (channels, bridges, objects).
#include "call_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
using astmrf::sip::Transport;
using astmrf_test::describe_agent;
using astmrf_test::RtpPeer;
using astmrf_test::SippProcess;
using astmrf_test::wait_for_tone;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class AgentCallTest : public astmrf_test::CallFixture {
 protected:
  // Every caller is connected, then the agent at `port` is called with `options`.
  void call_agent_for_callers(std::uint16_t port, mrf::AgentCallOptions options) {
    on_caller([&, port, options](const mrf::ConnectedCaller& connected) {
      mrf::async_call_agent(connected.endpoint, agent_uri(port), options,
                            [&](std::exception_ptr error, mrf::AgentCall made) {
                              log.add("agent " + describe_agent(error));
                              if (error) return;
                              keep(made);
                              call = made;
                            });
    });
  }
};

TEST_F(AgentCallTest, BusyAgentFailsTypedAndLeavesNothing) {
  RtpPeer caller_media;
  const auto port = astmrf_test::free_port(Transport::udp);
  SippProcess agent(agent_party("agent-busy.xml", port, nullptr, 0ms));
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, port));
  call_agent_for_callers(port, {});
  SippProcess caller(caller_party("rtp-caller-wait-bye.xml", caller_media));

  EXPECT_TRUE(log.wait_for("agent AgentCallFailed busy 486", 15s)) << log.joined();
  auto agent_result = agent.wait(10s);
  EXPECT_EQ(agent_result.exit_code, 0) << agent_result.output;
  // The caller is still up (its endpoint back in Stasis): the application ends it.
  EXPECT_TRUE(harness.run([&] { return legs.endpoint && !legs.endpoint->destroyed(); }));
  hang_up_all();
  auto caller_result = caller.wait(10s);
  EXPECT_EQ(caller_result.exit_code, 0) << caller_result.output;
}

TEST_F(AgentCallTest, NoAnswerCancelsTheAgentAfterTheCallerHeardRingback) {
  RtpPeer caller_media;
  const auto port = astmrf_test::free_port(Transport::udp);
  SippProcess agent(agent_party("agent-ring.xml", port, nullptr, 0ms));
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, port));
  mrf::AgentCallOptions options;
  options.uac.timeout = 4s;
  call_agent_for_callers(port, options);
  SippProcess caller(caller_party("rtp-caller-wait-bye.xml", caller_media));

  auto answer = caller.wait_for_received_sdp(10s);
  ASSERT_TRUE(answer.has_value()) << caller.wait(1s).output;
  caller_media.set_remote_from_sdp(*answer);
  // Ringback (the US ring tone: 440 + 480 Hz) while the agent rings.
  ASSERT_TRUE(caller_media.wait_for_audio_packets(25, 4s)) << caller_media.audio_packets_received();
  const auto samples = caller_media.received_samples();
  const double ring = astmrf_test::tone_share(samples, 440) + astmrf_test::tone_share(samples, 480);
  EXPECT_GT(ring, 0.6) << "level " << astmrf_test::level_dbm0(samples);

  EXPECT_TRUE(log.wait_for("agent AgentCallFailed no_answer 408", 15s)) << log.joined();
  auto agent_result = agent.wait(10s);
  EXPECT_EQ(agent_result.exit_code, 0) << agent_result.output;
  EXPECT_TRUE(has(agent_result.output, "CANCEL sip:agent@")) << agent_result.output;
  // The ringback stopped with the failure.
  EXPECT_TRUE(caller_media.wait_for_quiet(1500ms, 6s)) << caller_media.packets_received();
  hang_up_all();
  auto caller_result = caller.wait(10s);
  EXPECT_EQ(caller_result.exit_code, 0) << caller_result.output;
}

TEST_F(AgentCallTest, AnsweredAgentAndCallerHearEachOtherAndTheCallersByeEndsBoth) {
  RtpPeer caller_media;
  RtpPeer agent_media;
  const auto port = astmrf_test::free_port(Transport::udp);
  SippProcess agent(agent_party("agent-answer.xml", port, &agent_media, 1500ms));
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, port));
  call_agent_for_callers(port, {});
  auto scenario = caller_party("rtp-caller-bye.xml", caller_media);
  scenario.keys["hangup_after_ms"] = "9000";
  SippProcess caller(scenario);

  auto answer = caller.wait_for_received_sdp(10s);
  ASSERT_TRUE(answer.has_value()) << caller.wait(1s).output;
  caller_media.set_remote_from_sdp(*answer);
  ASSERT_TRUE(log.wait_for("agent ok", 15s)) << log.joined();
  auto offer = agent.wait_for_received_sdp(5s);
  ASSERT_TRUE(offer.has_value());
  EXPECT_TRUE(has(*offer, "a=sendrecv")) << *offer;
  agent_media.set_remote_from_sdp(*offer);

  caller_media.send_tone(600, -10, 6s);
  agent_media.send_tone(1000, -10, 6s);
  EXPECT_GT(wait_for_tone(agent_media, 600, 4s), 0.5) << "the agent does not hear the caller";
  EXPECT_GT(wait_for_tone(caller_media, 1000, 4s), 0.5) << "the caller does not hear the agent";
  // The caller hangs up: the agent gets BYE.
  auto caller_result = caller.wait(15s);
  EXPECT_EQ(caller_result.exit_code, 0) << caller_result.output;
  auto agent_result = agent.wait(10s);
  EXPECT_EQ(agent_result.exit_code, 0) << agent_result.output;
  EXPECT_TRUE(has(agent_result.output, "BYE sip:agent@")) << agent_result.output;
}

TEST_F(AgentCallTest, TheAgentsByeEndsTheCaller) {
  RtpPeer caller_media;
  RtpPeer agent_media;
  const auto port = astmrf_test::free_port(Transport::udp);
  SippProcess agent(agent_party("agent-answer-bye.xml", port, &agent_media, 3000ms));
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, port));
  mrf::AgentCallOptions options;
  options.ringback = mrf::Ringback::music_on_hold;
  call_agent_for_callers(port, options);
  SippProcess caller(caller_party("rtp-caller-wait-bye.xml", caller_media));

  ASSERT_TRUE(log.wait_for("agent ok", 15s)) << log.joined();
  auto agent_result = agent.wait(15s);
  EXPECT_EQ(agent_result.exit_code, 0) << agent_result.output;
  auto caller_result = caller.wait(10s);  // it waits for our BYE
  EXPECT_EQ(caller_result.exit_code, 0) << caller_result.output;
}

TEST_F(AgentCallTest, TheCallerHangingUpWhileTheAgentRingsCancelsIt) {
  RtpPeer caller_media;
  const auto port = astmrf_test::free_port(Transport::udp);
  SippProcess agent(agent_party("agent-ring.xml", port, nullptr, 0ms));
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, port));
  call_agent_for_callers(port, {});
  auto scenario = caller_party("rtp-caller-bye.xml", caller_media);
  scenario.keys["hangup_after_ms"] = "2000";
  SippProcess caller(scenario);

  EXPECT_TRUE(log.wait_for("agent AgentCallFailed caller_gone 487", 15s)) << log.joined();
  auto agent_result = agent.wait(10s);
  EXPECT_EQ(agent_result.exit_code, 0) << agent_result.output;
  EXPECT_TRUE(has(agent_result.output, "CANCEL sip:agent@")) << agent_result.output;
  auto caller_result = caller.wait(10s);
  EXPECT_EQ(caller_result.exit_code, 0) << caller_result.output;
}

TEST_F(AgentCallTest, CancellingTheCallCancelsTheInvite) {
  RtpPeer caller_media;
  const auto port = astmrf_test::free_port(Transport::udp);
  SippProcess agent(agent_party("agent-ring.xml", port, nullptr, 0ms));
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, port));
  auto cancel = std::make_shared<asio::cancellation_signal>();
  on_caller([&, port, cancel](const mrf::ConnectedCaller& connected) {
    mrf::async_call_agent(connected.endpoint, agent_uri(port), {},
                          asio::bind_cancellation_slot(cancel->slot(), [&](std::exception_ptr error, mrf::AgentCall) {
                            log.add("agent " + describe_agent(error));
                          }));
    log.add("ringing");
  });
  SippProcess caller(caller_party("rtp-caller-wait-bye.xml", caller_media));
  ASSERT_TRUE(log.wait_for("ringing", 10s)) << log.joined();
  std::this_thread::sleep_for(2s);  // the agent rings
  harness.run([&] {
    cancel->emit(asio::cancellation_type::terminal);
    return 0;
  });
  EXPECT_TRUE(log.wait_for("agent operation_aborted", 5s)) << log.joined();
  auto agent_result = agent.wait(10s);
  EXPECT_EQ(agent_result.exit_code, 0) << agent_result.output;
  EXPECT_TRUE(has(agent_result.output, "CANCEL sip:agent@")) << agent_result.output;
  hang_up_all();
  auto caller_result = caller.wait(10s);
  EXPECT_EQ(caller_result.exit_code, 0) << caller_result.output;
}

TEST_F(AgentCallTest, ANullOrEndedCallerFailsAtOnceWithoutAnInvite) {
  auto outcome = [&](std::shared_ptr<mrf::Endpoint> caller) {
    auto future =
        harness.run([&] { return mrf::async_call_agent(caller, "sip:agent@127.0.0.1:9", {}, asio::use_future); });
    try {
      future.get();
      return std::string("ok");
    } catch (const std::invalid_argument&) {
      return std::string("invalid_argument");
    } catch (const mrf::CallEnded&) {
      return std::string("CallEnded");
    } catch (const std::exception& e) {
      return std::string("error ") + e.what();
    }
  };
  EXPECT_EQ(outcome(nullptr), "invalid_argument");
  RtpPeer peer;
  mrf::EndpointOptions options;
  options.remote_sdp = peer.sdp();
  auto ended = harness.run([&] { return server->async_create_endpoint(options, asio::use_future); }).get();
  harness.run([&] {
    ended->destroy();
    return 0;
  });
  EXPECT_EQ(outcome(ended), "CallEnded");
  harness.run([&] {
    ended.reset();
    return 0;
  });
}

}  // namespace
