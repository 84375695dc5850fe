// Conferences against the real Asterisk (issue 18): three members hear each other; a muted
// member is not heard and still hears; a kick ends the member's endpoint; the conference ends
// when its last member leaves (its bridge gone from Asterisk); the same name gives the same
// conference; a full one refuses a join; talking events; the last moderator ends it. Every test
// ends with the leak check.
#include "media_objects_fixture.hpp"

#include <astmrf/mrf/conference.hpp>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace mrf = astmrf::mrf;

constexpr double kA = 600.0;
constexpr double kB = 1000.0;
constexpr double kC = 1400.0;

class ConferenceTest : public astmrf_test::MediaObjectsFixture {
 protected:
  std::shared_ptr<mrf::Conference> create(const std::string& name, mrf::ConferenceOptions options = {}) {
    return on_engine([&] { return server->async_create_conference(name, options, asio::use_future); }).get();
  }
  void join(const std::shared_ptr<mrf::Conference>& conference, astmrf_test::Party& party,
            mrf::JoinOptions options = {}) {
    on_engine([&] { return conference->async_join(party.endpoint, options, asio::use_future); }).get();
  }
};

TEST_F(ConferenceTest, ThreeMembersMuteKickAndTheLastOneLeaving) {
  auto& a = add_party();
  auto& b = add_party();
  auto& c = add_party();
  auto conference = create("room-1");
  ASSERT_TRUE(conference);
  // The same name on the same server: the same conference.
  EXPECT_EQ(create("room-1"), conference);
  EXPECT_EQ(on_engine([&] { return server->conference("room-1"); }), conference);
  std::vector<std::pair<mrf::ConferenceEventKind, std::string>> events;  // engine thread only
  auto subscription = on_engine([&] {
    return std::make_shared<mrf::Subscription>(conference->on_event([&events](const mrf::ConferenceEvent& event) {
      if (event.kind == mrf::ConferenceEventKind::joined || event.kind == mrf::ConferenceEventKind::left) {
        events.emplace_back(event.kind, event.channel_id);
      }
    }));
  });
  join(conference, a);
  join(conference, b);
  join(conference, c);
  EXPECT_EQ(on_engine([&] { return conference->members().size(); }), 3u);
  EXPECT_EQ(astmrf_test::bridges_on_asterisk(probe), 1u);

  auto heard = exchange({{&a, kA}}, {&b, &c});
  EXPECT_TRUE(heard[0][0].tone()) << "B heard A: " << heard[0][0];
  EXPECT_TRUE(heard[1][0].tone()) << "C heard A: " << heard[1][0];

  // A muted: B and C no longer hear A; A still hears B.
  on_engine([&] { return conference->async_mute(a.endpoint, asio::use_future); }).get();
  EXPECT_TRUE(on_engine([&] { return conference->members()[0].muted; }));
  heard = exchange({{&a, kA}, {&b, kB}}, {&b, &c, &a});
  EXPECT_TRUE(heard[0][0].nothing()) << "B heard muted A: " << heard[0][0];
  EXPECT_TRUE(heard[1][0].nothing()) << "C heard muted A: " << heard[1][0];
  EXPECT_TRUE(heard[2][1].tone()) << "muted A heard B: " << heard[2][1];
  on_engine([&] { return conference->async_unmute(a.endpoint, asio::use_future); }).get();
  heard = exchange({{&a, kA}}, {&c});
  EXPECT_TRUE(heard[0][0].tone()) << "C heard unmuted A: " << heard[0][0];

  // Kick C: C's endpoint ends, the others stay.
  auto c_end = on_engine([&] { return c.endpoint->async_wait_destroyed(asio::use_future); });
  on_engine([&] { return conference->async_kick(c.endpoint, asio::use_future); }).get();
  ASSERT_EQ(c_end.wait_for(5s), std::future_status::ready);
  for (int i = 0; i < 100 && on_engine([&] { return conference->members().size(); }) != 2; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(on_engine([&] { return conference->members().size(); }), 2u);

  // A leaves (stays up), B hangs up: the last member gone ends it, its bridge gone from Asterisk.
  auto ended = on_engine([&] { return conference->async_wait_ended(asio::use_future); });
  on_engine([&] { return conference->async_leave(a.endpoint, asio::use_future); }).get();
  EXPECT_FALSE(on_engine([&] { return a.endpoint->destroyed(); }));
  EXPECT_FALSE(on_engine([&] { return conference->ended(); }));
  on_engine([&] {
    b.endpoint->destroy();
    return 0;
  });
  ASSERT_EQ(ended.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(ended.get(), mrf::ConferenceEnd::last_member_left);
  for (int i = 0; i < 100 && astmrf_test::bridges_on_asterisk(probe) != 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(astmrf_test::bridges_on_asterisk(probe), 0u);
  EXPECT_FALSE(on_engine([&] { return server->conference("room-1"); }));

  const auto seen = on_engine([&] { return events; });
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[0].first, mrf::ConferenceEventKind::joined);
  EXPECT_EQ(seen[3],
            std::make_pair(mrf::ConferenceEventKind::left, on_engine([&] { return c.endpoint->channel_id(); })));
  EXPECT_EQ(seen[4],
            std::make_pair(mrf::ConferenceEventKind::left, on_engine([&] { return a.endpoint->channel_id(); })));
  // A new conference of the same name is a new one.
  auto again = create("room-1");
  EXPECT_NE(again, conference);
  on_engine([&] {
    subscription.reset();
    return 0;
  });
  finish(conference, again);
}

TEST_F(ConferenceTest, AFullConferenceRefusesAJoin) {
  auto& a = add_party();
  auto& b = add_party();
  auto& c = add_party();
  auto conference = create("room-full", {.max_members = 2});
  join(conference, a);
  join(conference, b);
  auto refused = on_engine([&] { return conference->async_join(c.endpoint, {}, asio::use_future); });
  EXPECT_THROW(refused.get(), mrf::ConferenceFull);
  EXPECT_EQ(on_engine([&] { return conference->members().size(); }), 2u);
  EXPECT_FALSE(on_engine([&] { return c.endpoint->bridge(); }));
  finish(conference);
}

TEST_F(ConferenceTest, TalkingEventsAndTheLastModeratorEndsIt) {
  auto& a = add_party();
  auto& b = add_party();
  mrf::ConferenceOptions options;
  options.end_when = mrf::ConferenceEndWhen::last_moderator_leaves;
  options.talk_detect = {.silence_threshold = 500ms, .talking_threshold = 256};
  auto conference = create("room-moderated", options);
  std::vector<std::pair<mrf::ConferenceEventKind, std::string>> talk;  // engine thread only
  auto subscription = on_engine([&] {
    return std::make_shared<mrf::Subscription>(conference->on_event([&talk](const mrf::ConferenceEvent& event) {
      if (event.kind == mrf::ConferenceEventKind::talking_started ||
          event.kind == mrf::ConferenceEventKind::talking_finished) {
        talk.emplace_back(event.kind, event.channel_id);
      }
    }));
  });
  join(conference, a, {.moderator = true});
  join(conference, b, {.muted = true});
  const std::string a_id = on_engine([&] { return a.endpoint->channel_id(); });
  a.peer->send_tone(kA, -10.0, 1s);
  a.peer->send_silence(1500ms);
  a.peer->wait_until_sent(5s);
  std::vector<std::pair<mrf::ConferenceEventKind, std::string>> seen;
  for (int i = 0; i < 100 && seen.size() < 2; ++i) {
    seen = on_engine([&] { return talk; });
    if (seen.size() < 2) std::this_thread::sleep_for(20ms);
  }
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_pair(mrf::ConferenceEventKind::talking_started, a_id));
  EXPECT_EQ(seen[1], std::make_pair(mrf::ConferenceEventKind::talking_finished, a_id));

  // The moderator hangs up: B is kicked (its endpoint destroyed) and the conference ends.
  auto b_end = on_engine([&] { return b.endpoint->async_wait_destroyed(asio::use_future); });
  auto ended = on_engine([&] { return conference->async_wait_ended(asio::use_future); });
  on_engine([&] {
    a.endpoint->destroy();
    return 0;
  });
  ASSERT_EQ(ended.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(ended.get(), mrf::ConferenceEnd::last_moderator_left);
  ASSERT_EQ(b_end.wait_for(5s), std::future_status::ready);
  on_engine([&] {
    subscription.reset();
    return 0;
  });
  finish(conference);
}

TEST_F(ConferenceTest, MusicWhenAloneBeepsAndTheRecording) {
  auto& a = add_party();
  auto& b = add_party();
  const std::string name = "astmrf-conference-" + astmrf_test::random_uuid();
  auto conference = create("room-music", {.record = true,
                                          .recording_name = name,
                                          .recording_format = "wav",
                                          .moh_when_alone = true,
                                          .beep_on_join = true});
  join(conference, a);
  // Alone: music on hold (the sandbox's is a shipped prompt).
  a.peer->clear_received();
  std::this_thread::sleep_for(1500ms);
  EXPECT_GT(a.peer->audio_packets_received(), 20u) << "A alone hears music";
  join(conference, b);
  // Together: the music stops (after the join's beep) and A hears B.
  std::this_thread::sleep_for(1000ms);
  const auto heard = exchange({{&b, kB}}, {&a});
  EXPECT_TRUE(heard[0][0].tone()) << "A heard B over no music: " << heard[0][0];
  auto ended = on_engine([&] { return conference->async_wait_ended(asio::use_future); });
  on_engine([&] {
    a.endpoint->destroy();
    b.endpoint->destroy();
    return 0;
  });
  ASSERT_EQ(ended.wait_for(5s), std::future_status::ready);
  bool stored = false;
  for (int i = 0; i < 100 && !stored; ++i) {
    stored = probe.request("GET", "/ari/recordings/stored/" + name).status == 200;
    if (!stored) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(stored) << "the conference was recorded";
  probe.request("DELETE", "/ari/recordings/stored/" + name);
  finish(conference);
}

}  // namespace
