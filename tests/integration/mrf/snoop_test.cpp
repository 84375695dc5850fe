// Snoop and supervision against the real Asterisk (issue 18): an agent and a caller are bridged;
// a supervisor listens (hears both tones), whispers (the agent hears the supervisor, the caller
// does not) and barges in (both hear the supervisor). A snoop ends with its target; dropping the
// Supervision leaves nothing on Asterisk. Every test ends with the leak check.
#include "media_objects_fixture.hpp"

#include <astmrf/mrf/bridge.hpp>
#include <astmrf/mrf/snoop.hpp>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace mrf = astmrf::mrf;

constexpr double kAgent = 600.0;
constexpr double kCaller = 1000.0;
constexpr double kSupervisor = 1800.0;

class SnoopTest : public astmrf_test::MediaObjectsFixture {};

TEST_F(SnoopTest, ListenWhisperAndBarge) {
  auto& agent = add_party();
  auto& caller = add_party();
  auto& supervisor = add_party();
  auto call = on_engine([&] { return agent.endpoint->async_bridge(caller.endpoint, {}, asio::use_future); }).get();
  auto supervision =
      on_engine([&] {
        return mrf::async_supervise(agent.endpoint, supervisor.endpoint, mrf::SuperviseMode::listen, asio::use_future);
      }).get();
  ASSERT_TRUE(supervision);
  EXPECT_EQ(on_engine([&] { return supervision->mode(); }), mrf::SuperviseMode::listen);
  EXPECT_EQ(on_engine([&] { return supervisor.endpoint->bridge(); }), supervision->bridge());
  EXPECT_EQ(snoop_channels(), 1u);

  // listen: the supervisor hears both sides; nobody hears the supervisor.
  auto heard = exchange({{&agent, kAgent}, {&caller, kCaller}}, {&supervisor});
  EXPECT_TRUE(heard[0][0].present()) << "supervisor heard the agent: " << heard[0][0];
  EXPECT_TRUE(heard[0][1].present()) << "supervisor heard the caller: " << heard[0][1];
  heard = exchange({{&supervisor, kSupervisor}}, {&agent, &caller});
  EXPECT_TRUE(heard[0][0].nothing()) << "listen: the agent heard the supervisor: " << heard[0][0];
  EXPECT_TRUE(heard[1][0].nothing()) << "listen: the caller heard the supervisor: " << heard[1][0];
  // The call itself goes on.
  heard = exchange({{&agent, kAgent}}, {&caller});
  EXPECT_TRUE(heard[0][0].tone()) << "the caller heard the agent: " << heard[0][0];

  // whisper: the agent hears the supervisor, the caller does not.
  on_engine([&] { return supervision->async_set_mode(mrf::SuperviseMode::whisper, asio::use_future); }).get();
  EXPECT_EQ(on_engine([&] { return supervision->mode(); }), mrf::SuperviseMode::whisper);
  heard = exchange({{&supervisor, kSupervisor}}, {&agent, &caller});
  EXPECT_TRUE(heard[0][0].tone()) << "whisper: the agent heard the supervisor: " << heard[0][0];
  EXPECT_TRUE(heard[1][0].nothing()) << "whisper: the caller heard the supervisor: " << heard[1][0];
  heard = exchange({{&agent, kAgent}, {&caller, kCaller}}, {&supervisor});
  EXPECT_TRUE(heard[0][0].present()) << "whisper: supervisor heard the agent: " << heard[0][0];
  EXPECT_TRUE(heard[0][1].present()) << "whisper: supervisor heard the caller: " << heard[0][1];

  // barge: both hear the supervisor.
  on_engine([&] { return supervision->async_set_mode(mrf::SuperviseMode::barge, asio::use_future); }).get();
  heard = exchange({{&supervisor, kSupervisor}}, {&agent, &caller});
  EXPECT_TRUE(heard[0][0].present()) << "barge: the agent heard the supervisor: " << heard[0][0];
  EXPECT_TRUE(heard[1][0].present()) << "barge: the caller heard the supervisor: " << heard[1][0];
  for (int i = 0; i < 100 && snoop_channels() != 1; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(snoop_channels(), 1u) << "the old snoops are hung up";

  // Dropping the supervision leaves the call and the supervisor up.
  on_engine([&] {
    supervision.reset();
    return 0;
  });
  // Asterisk detaches a snoop's audiohooks as its target's media flows (as on a real call).
  stream_silence(1s);
  for (int i = 0; i < 100 && (snoop_channels() != 0 || astmrf_test::bridges_on_asterisk(probe) != 1); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(snoop_channels(), 0u);
  EXPECT_EQ(astmrf_test::bridges_on_asterisk(probe), 1u);
  EXPECT_FALSE(on_engine([&] { return supervisor.endpoint->destroyed() || supervisor.endpoint->bridge(); }));

  // A new supervision ends with the agent's call; the supervisor stays up.
  supervision =
      on_engine([&] {
        return mrf::async_supervise(agent.endpoint, supervisor.endpoint, mrf::SuperviseMode::listen, asio::use_future);
      }).get();
  on_engine([&] {
    agent.endpoint->destroy();
    return 0;
  });
  EXPECT_TRUE(on_engine([&] { return supervision->ended(); }));
  EXPECT_FALSE(on_engine([&] { return supervisor.endpoint->destroyed(); }));
  finish(call, supervision);
}

TEST_F(SnoopTest, ASnoopEndsWithItsTargetAndCanBeBridged) {
  auto& agent = add_party();
  auto& listener = add_party();
  auto snoop =
      on_engine([&] { return agent.endpoint->async_snoop({.spy = mrf::SnoopDirection::in}, asio::use_future); }).get();
  ASSERT_TRUE(snoop);
  auto bridge = on_engine([&] { return server->async_create_bridge({}, asio::use_future); }).get();
  on_engine([&] { return bridge->async_add(snoop, {}, asio::use_future); }).get();
  on_engine([&] { return bridge->async_add(listener.endpoint, {}, asio::use_future); }).get();
  const auto heard = hear(agent, kAgent, listener);
  EXPECT_TRUE(heard.tone()) << "the listener heard the agent through the snoop: " << heard;
  // Spy and whisper none is refused before any I/O.
  auto refused = on_engine([&] {
    return agent.endpoint->async_snoop({.spy = mrf::SnoopDirection::none, .whisper = mrf::SnoopDirection::none},
                                       asio::use_future);
  });
  EXPECT_THROW(refused.get(), std::invalid_argument);

  on_engine([&] {
    agent.endpoint->destroy();
    return 0;
  });
  bool ended = false;
  for (int i = 0; i < 150 && !ended; ++i) {
    ended = on_engine([&] { return snoop->destroyed(); });
    if (!ended) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(ended) << "the snoop ends with its target";
  finish(snoop, bridge);
}

}  // namespace
