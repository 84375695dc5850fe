// Bridges against the real Asterisk (issue 18): two endpoints bridged hear each other (A's
// tone decoded on B's socket), not after unbridge; a move between bridges keeps audio flowing;
// dropping the handle removes the bridge from Asterisk; destroy_when_empty. Every test ends
// with the leak check (no channel, no bridge of ours on Asterisk, nothing alive).
#include "media_objects_fixture.hpp"

#include <astmrf/mrf/bridge.hpp>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
using astmrf_test::Party;

constexpr double kA = 600.0;
constexpr double kB = 1000.0;

class BridgeTest : public astmrf_test::MediaObjectsFixture {
 protected:
  std::size_t bridges_on_asterisk() { return astmrf_test::bridges_on_asterisk(probe); }
};

TEST_F(BridgeTest, TwoPartiesBridgedHearEachOtherUntilUnbridged) {
  auto& a = add_party();
  auto& b = add_party();
  auto bridge = on_engine([&] { return a.endpoint->async_bridge(b.endpoint, {}, asio::use_future); }).get();
  ASSERT_TRUE(bridge);
  EXPECT_EQ(on_engine([&] { return a.endpoint->bridge(); }), bridge);
  EXPECT_EQ(on_engine([&] { return b.endpoint->bridge(); }), bridge);
  EXPECT_EQ(on_engine([&] { return bridge->channel_ids().size(); }), 2u);
  EXPECT_EQ(on_engine([&] { return server->bridges(); }), 1u);
  EXPECT_EQ(bridges_on_asterisk(), 1u);

  const auto heard = exchange({{&a, kA}, {&b, kB}}, {&b, &a});
  EXPECT_TRUE(heard[0][0].tone()) << "B heard A: " << heard[0][0];
  EXPECT_TRUE(heard[1][1].tone()) << "A heard B: " << heard[1][1];

  on_engine([&] { return a.endpoint->async_unbridge(asio::use_future); }).get();
  EXPECT_FALSE(on_engine([&] { return a.endpoint->bridge(); }));
  EXPECT_FALSE(on_engine([&] { return a.endpoint->destroyed(); })) << "unbridge keeps the call up";
  const auto after = hear(a, kA, b);
  EXPECT_TRUE(after.nothing()) << "B still hears A after unbridge: " << after;
  // B is alone in it; unbridging A is a no-op the second time.
  on_engine([&] { return a.endpoint->async_unbridge(asio::use_future); }).get();
  EXPECT_EQ(on_engine([&] { return bridge->channel_ids().size(); }), 1u);
  finish(bridge);
}

TEST_F(BridgeTest, AMoveToAnotherBridgeKeepsAudioFlowingAndTheEmptiedBridgeEnds) {
  auto& a = add_party();
  auto& b = add_party();
  auto first = on_engine([&] { return a.endpoint->async_bridge(b.endpoint, {}, asio::use_future); }).get();
  auto second = on_engine([&] { return server->async_create_bridge({.name = "second"}, asio::use_future); }).get();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(bridges_on_asterisk(), 2u);

  // A moves (no removeChannel: addChannel on the new bridge), then B follows.
  on_engine([&] { return second->async_add(a.endpoint, {}, asio::use_future); }).get();
  EXPECT_EQ(on_engine([&] { return a.endpoint->bridge(); }), second);
  on_engine([&] { return second->async_add(b.endpoint, {}, asio::use_future); }).get();
  EXPECT_EQ(on_engine([&] { return b.endpoint->bridge(); }), second);

  // The first one is empty now: destroyed (destroy_when_empty), on Asterisk too.
  auto end = on_engine([&] { return first->async_wait_destroyed(asio::use_future); });
  ASSERT_EQ(end.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(end.get(), mrf::BridgeEnd::empty);
  for (int i = 0; i < 100 && bridges_on_asterisk() != 1; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(bridges_on_asterisk(), 1u);

  const auto heard = exchange({{&a, kA}, {&b, kB}}, {&b, &a});
  EXPECT_TRUE(heard[0][0].tone()) << "B heard A: " << heard[0][0];
  EXPECT_TRUE(heard[1][1].tone()) << "A heard B: " << heard[1][1];
  EXPECT_EQ(on_engine([&] { return second->channel_ids().size(); }), 2u);
  finish(first, second);
}

TEST_F(BridgeTest, DroppingTheHandleRemovesTheBridgeFromAsterisk) {
  auto& a = add_party();
  auto& b = add_party();
  auto bridge = on_engine([&] { return a.endpoint->async_bridge(b.endpoint, {}, asio::use_future); }).get();
  ASSERT_TRUE(bridge);
  EXPECT_EQ(bridges_on_asterisk(), 1u);
  std::weak_ptr<mrf::Bridge> weak = bridge;
  on_engine([&] {
    bridge.reset();
    return 0;
  });
  EXPECT_TRUE(on_engine([&] { return weak.expired(); }));
  for (int i = 0; i < 100 && bridges_on_asterisk() != 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(bridges_on_asterisk(), 0u);
  EXPECT_EQ(on_engine([&] { return server->bridges(); }), 0u);
  // The members stay up, and no longer hear each other.
  EXPECT_FALSE(on_engine([&] { return a.endpoint->destroyed() || b.endpoint->destroyed(); }));
  EXPECT_FALSE(on_engine([&] { return a.endpoint->bridge(); }));
  const auto after = hear(a, kA, b);
  EXPECT_TRUE(after.nothing()) << after;
  finish();
}

// A bridge made through ARI outlives the Stasis application on Asterisk: disconnect() deletes the
// bridges still held (one with members, one empty) before it closes the connection.
TEST_F(BridgeTest, DisconnectDeletesTheBridgesStillHeld) {
  auto& a = add_party();
  auto& b = add_party();
  auto bridged = on_engine([&] { return a.endpoint->async_bridge(b.endpoint, {}, asio::use_future); }).get();
  auto empty = on_engine([&] { return server->async_create_bridge({.name = "empty"}, asio::use_future); }).get();
  ASSERT_TRUE(bridged && empty);
  EXPECT_EQ(bridges_on_asterisk(), 2u);
  on_engine([&] {
    server->disconnect();
    return 0;
  });
  EXPECT_EQ(on_engine([&] { return bridged->end_reason(); }), mrf::BridgeEnd::destroyed);
  EXPECT_EQ(on_engine([&] { return empty->end_reason(); }), mrf::BridgeEnd::destroyed);
  EXPECT_TRUE(on_engine([&] { return a.endpoint->destroyed() && b.endpoint->destroyed(); }));
  for (int i = 0; i < 100 && bridges_on_asterisk() != 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(bridges_on_asterisk(), 0u);
  finish(bridged, empty);
}

TEST_F(BridgeTest, AMemberEndingEmptiesTheBridgeAndMemberEventsAreTold) {
  auto& a = add_party();
  auto& b = add_party();
  // dtmf_events keeps the media in Asterisk's core (no native RTP bridge), where the mute applies.
  auto bridge = on_engine([&] { return server->async_create_bridge({.dtmf_events = true}, asio::use_future); }).get();
  std::vector<std::pair<bool, std::string>> events;  // engine thread only
  auto subscription = on_engine([&] {
    return std::make_shared<mrf::Subscription>(bridge->on_member(
        [&events](const mrf::BridgeMemberEvent& event) { events.emplace_back(event.joined, event.channel_id); }));
  });
  on_engine([&] { return bridge->async_add(a.endpoint, {}, asio::use_future); }).get();
  on_engine([&] { return bridge->async_add(b.endpoint, {.mute = true}, asio::use_future); }).get();
  // B is muted in the bridge: A does not hear it.
  const auto muted = hear(b, kB, a);
  EXPECT_TRUE(muted.nothing()) << muted;
  const std::string a_id = on_engine([&] { return a.endpoint->channel_id(); });
  const std::string b_id = on_engine([&] { return b.endpoint->channel_id(); });
  auto end = on_engine([&] { return bridge->async_wait_destroyed(asio::use_future); });
  on_engine([&] {
    a.endpoint->destroy();
    b.endpoint->destroy();
    return 0;
  });
  ASSERT_EQ(end.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(end.get(), mrf::BridgeEnd::empty);
  const auto seen = on_engine([&] { return events; });
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0], std::make_pair(true, a_id));
  EXPECT_EQ(seen[1], std::make_pair(true, b_id));
  EXPECT_FALSE(seen[2].first);
  EXPECT_FALSE(seen[3].first);
  EXPECT_TRUE(on_engine([&] { return bridge->destroyed() && bridge->channel_ids().empty(); }));
  on_engine([&] {
    subscription.reset();
    return 0;
  });
  finish(bridge);
}

TEST_F(BridgeTest, PlayToEveryMemberAndRecordTheMix) {
  auto& a = add_party();
  auto& b = add_party();
  auto bridge = on_engine([&] { return a.endpoint->async_bridge(b.endpoint, {}, asio::use_future); }).get();
  a.peer->clear_received();
  b.peer->clear_received();
  const auto played =
      on_engine([&] { return bridge->async_play({"sound:beep"}, mrf::PlayOptions{}, asio::use_future); }).get();
  EXPECT_EQ(played.end, mrf::PlayEnd::finished) << mrf::to_string(played.end);
  EXPECT_FALSE(played.playback_id.empty());
  std::this_thread::sleep_for(200ms);
  EXPECT_GT(a.peer->audio_packets_received(), 5u) << "A heard the beep";
  EXPECT_GT(b.peer->audio_packets_received(), 5u) << "B heard the beep";
  const auto failed = on_engine([&] {
                        return bridge->async_play({"sound:no-such-sound-astmrf"}, mrf::PlayOptions{}, asio::use_future);
                      }).get();
  EXPECT_EQ(failed.end, mrf::PlayEnd::failed) << mrf::to_string(failed.end);

  const std::string name = "astmrf-bridge-" + astmrf_test::random_uuid();
  auto recorded = on_engine([&] { return bridge->async_record({.name = name, .format = "wav"}, asio::use_future); });
  std::this_thread::sleep_for(300ms);
  a.peer->send_tone(kA, -10.0, 1s);
  a.peer->wait_until_sent(3s);
  on_engine([&] { return bridge->async_stop_recording(name, asio::use_future); }).get();
  ASSERT_EQ(recorded.wait_for(5s), std::future_status::ready);
  const auto result = recorded.get();
  EXPECT_EQ(result.end, mrf::RecordEnd::stopped) << mrf::to_string(result.end);
  EXPECT_EQ(result.name, name);
  EXPECT_EQ(probe.request("GET", "/ari/recordings/stored/" + name).status, 200u);
  probe.request("DELETE", "/ari/recordings/stored/" + name);
  finish(bridge);
}

}  // namespace
