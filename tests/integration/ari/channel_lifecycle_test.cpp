// Channel operations that need no SIP peer, run live against the sandbox: originate (a Local
// channel pair that dials back into Stasis through the `drachtio` context), create + dial, move to
// another application, continue in the dialplan, and externalMedia with RTP received on a socket of
// the test. Every channel id is chosen by the test and listened for before the request.
//
// Parameter structs are named variables (docs/ari.md, "GCC 12 pitfall").
#include "ari_it.hpp"

#include <boost/asio/ip/udp.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace {

using namespace ari_it;
using ari::EventType;
using ari::ResourceKind;

/// What the test saw of one channel, in order: "StasisStart@app", "StasisEnd@app", "Dial:ANSWER"...
struct ChannelLog {
  std::map<std::string, std::vector<std::string>> seen;  // channel id → events

  bool has(const std::string& channel, const std::string& what) const {
    auto it = seen.find(channel);
    return it != seen.end() && std::find(it->second.begin(), it->second.end(), what) != it->second.end();
  }
  std::string dump() const {
    std::string out;
    for (const auto& [id, events] : seen) {
      out += id + ":";
      for (const auto& e : events) out += " " + e;
      out += "\n";
    }
    return out;
  }
};

/// Records the lifecycle events of every channel the client hears about.
ari::Subscription record_channels(ari::Client& client, ChannelLog& log) {
  return client.on_event([&log](const ari::Event& e) {
    const std::string id(e.id(ResourceKind::channel));
    if (id.empty()) return;
    switch (e.type()) {
      case EventType::stasis_start: {
        auto s = e.as<ari::StasisStart>();
        std::string what = "StasisStart@" + s.application;
        for (const auto& a : s.args) what += "+" + a;
        log.seen[id].push_back(what);
        break;
      }
      case EventType::stasis_end: log.seen[id].push_back("StasisEnd@" + e.as<ari::StasisEnd>().application); break;
      case EventType::channel_destroyed: log.seen[id].push_back("ChannelDestroyed"); break;
      case EventType::dial: {
        auto d = e.as<ari::Dial>();
        if (!d.dialstatus.empty()) log.seen[d.peer.id].push_back("Dial:" + d.dialstatus);
        break;
      }
      default: break;
    }
  });
}

class AriChannelLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    client_.emplace(ioc_.get_executor(), options(sandbox_url(), {app_, other_app_}));
    run(ioc_, [&]() -> asio::awaitable<void> { co_await client_->async_connect(asio::use_awaitable); });
  }

  /// Nothing the test made may stay on Asterisk (a Local channel's other half goes a moment later).
  void TearDown() override {
    std::vector<std::string> left;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      left.clear();
      run(ioc_, [&]() -> asio::awaitable<void> {
        for (const auto& ch : co_await client_->channels().async_list(asio::use_awaitable)) {
          if (ch.id.rfind("lc-", 0) == 0) left.push_back(ch.id + " " + ch.name);
        }
      });
      if (left.empty() || std::chrono::steady_clock::now() >= deadline) break;
      run_until(
          ioc_, [] { return false; }, 100ms);
    }
    for (const auto& ch : left) ADD_FAILURE() << "channel left on Asterisk: " << ch;
  }

  bool wait(const std::function<bool()>& pred) { return run_until(ioc_, pred, 15s); }

  asio::io_context ioc_;
  const std::string app_ = astmrf_test::unique_app_name();
  const std::string other_app_ = astmrf_test::unique_app_name();
  std::optional<ari::Client> client_;
  ChannelLog log_;
};

TEST_F(AriChannelLifecycle, OriginateLocalPairThenMoveAndContinueInDialplan) {
  auto recording = record_channels(*client_, log_);
  // ;1 is the originated channel (enters Stasis with our args once answered); ;2 runs the
  // dialplan at <app>@drachtio, which is Stasis(<app>) without args.
  const auto one = client_->make_id("lc-one");
  const auto two = client_->make_id("lc-two");
  run(ioc_, [&]() -> asio::awaitable<void> {
    const ari::channels::OriginateWithId originate{.channel_id = one,
                                                   .endpoint = "Local/" + app_ + "@drachtio",
                                                   .app = app_,
                                                   .app_args = "originated",
                                                   .timeout = 10,
                                                   .other_channel_id = two};
    auto ch = co_await client_->channels().async_originate_with_id(originate, asio::use_awaitable);
    EXPECT_EQ(ch.id, one);
  });
  ASSERT_TRUE(wait([&] { return log_.has(two, "StasisStart@" + app_); })) << log_.dump();
  EXPECT_FALSE(log_.has(one, "StasisStart@" + app_ + "+originated")) << "entered Stasis before being answered";

  run(ioc_, [&]() -> asio::awaitable<void> {
    const ari::channels::Answer answer{.channel_id = two};
    co_await client_->channels().async_answer(answer, asio::use_awaitable);
  });
  ASSERT_TRUE(wait([&] { return log_.has(one, "StasisStart@" + app_ + "+originated"); })) << log_.dump();

  // move: ;1 leaves our app for the other one, with new args.
  run(ioc_, [&]() -> asio::awaitable<void> {
    const ari::channels::Move move{.channel_id = one, .app = other_app_, .app_args = "moved"};
    co_await client_->channels().async_move(move, asio::use_awaitable);
  });
  ASSERT_TRUE(wait([&] { return log_.has(one, "StasisStart@" + other_app_ + "+moved"); })) << log_.dump();
  EXPECT_TRUE(log_.has(one, "StasisEnd@" + app_)) << log_.dump();

  // continue: ;2 resumes the dialplan after Stasis(), whose next step is Hangup(): both legs end.
  run(ioc_, [&]() -> asio::awaitable<void> {
    const ari::channels::ContinueInDialplan cont{.channel_id = two};
    co_await client_->channels().async_continue_in_dialplan(cont, asio::use_awaitable);
  });
  ASSERT_TRUE(wait([&] { return log_.has(one, "ChannelDestroyed") && log_.has(two, "ChannelDestroyed"); }))
      << log_.dump();
  EXPECT_TRUE(log_.has(two, "StasisEnd@" + app_)) << log_.dump();
}

TEST_F(AriChannelLifecycle, CreateThenDialReportsTheAnswer) {
  auto recording = record_channels(*client_, log_);
  const auto one = client_->make_id("lc-create");
  const auto two = client_->make_id("lc-dialed");
  run(ioc_, [&]() -> asio::awaitable<void> {
    // create: the channel is in Stasis at once, not dialled yet.
    const ari::channels::Create create{.endpoint = "Local/" + app_ + "@drachtio",
                                       .app = app_,
                                       .app_args = "created",
                                       .channel_id = one,
                                       .other_channel_id = two};
    auto ch = co_await client_->channels().async_create(create, asio::use_awaitable);
    EXPECT_EQ(ch.id, one);
    EXPECT_EQ(ch.state, std::string("Down"));
  });
  ASSERT_TRUE(wait([&] { return log_.has(one, "StasisStart@" + app_ + "+created"); })) << log_.dump();
  EXPECT_FALSE(log_.seen.contains(two)) << "the other leg ran before dial";

  run(ioc_, [&]() -> asio::awaitable<void> {
    const ari::channels::Dial dial{.channel_id = one, .timeout = 10};
    co_await client_->channels().async_dial(dial, asio::use_awaitable);
  });
  ASSERT_TRUE(wait([&] { return log_.has(two, "StasisStart@" + app_); })) << log_.dump();
  run(ioc_, [&]() -> asio::awaitable<void> {
    const ari::channels::Answer answer{.channel_id = two};
    co_await client_->channels().async_answer(answer, asio::use_awaitable);
  });
  ASSERT_TRUE(wait([&] { return log_.has(one, "Dial:ANSWER"); })) << log_.dump();

  run(ioc_, [&]() -> asio::awaitable<void> {
    const ari::channels::Get get{.channel_id = one};
    auto ch = co_await client_->channels().async_get(get, asio::use_awaitable);
    EXPECT_EQ(ch.state, std::string("Up"));
    const ari::channels::Hangup hangup{.channel_id = one};
    co_await client_->channels().async_hangup(hangup, asio::use_awaitable);
  });
  // The dialled leg leaves Stasis as it hangs up; its ChannelDestroyed is no longer ours to see.
  ASSERT_TRUE(wait([&] { return log_.has(one, "ChannelDestroyed") && log_.has(two, "StasisEnd@" + app_); }))
      << log_.dump();
}

TEST_F(AriChannelLifecycle, ExternalMediaSendsRtpToTheGivenAddress) {
  auto recording = record_channels(*client_, log_);
  asio::ip::udp::socket rtp(ioc_, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = rtp.local_endpoint().port();
  const auto id = client_->make_id("lc-ext");

  std::array<unsigned char, 2048> buffer{};
  asio::ip::udp::endpoint from;
  int packets = 0;
  std::string wrong;
  std::function<void()> receive = [&] {
    rtp.async_receive_from(asio::buffer(buffer), from, [&](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      // RTP version 2, payload type 0 (PCMU: format=ulaw).
      if (n > 12 && (buffer[0] >> 6) == 2 && (buffer[1] & 0x7f) == 0) {
        ++packets;
      } else {
        wrong += " [" + std::to_string(n) + " bytes, first " + std::to_string(buffer[0]) + "," +
                 std::to_string(buffer[1]) + "]";
      }
      receive();
    });
  };
  receive();

  run(ioc_, [&]() -> asio::awaitable<void> {
    const ari::channels::ExternalMedia media{.app = app_,
                                             .format = "ulaw",
                                             .channel_id = id,
                                             .external_host = "127.0.0.1:" + std::to_string(port),
                                             .encapsulation = "rtp",
                                             .transport = "udp"};
    auto ch = co_await client_->channels().async_external_media(media, asio::use_awaitable);
    EXPECT_EQ(ch.id, id);
    // Asterisk tells where it sends from: the app needs it to send media back.
    EXPECT_TRUE(ch.channelvars.contains("UNICASTRTP_LOCAL_PORT")) << boost::json::serialize(ch.channelvars);
  });
  ASSERT_TRUE(wait([&] { return log_.has(id, "StasisStart@" + app_); })) << log_.dump();

  run(ioc_, [&]() -> asio::awaitable<void> {
    const auto pb_id = client_->make_id("lc-pb");
    auto finished = client_->expect(ResourceKind::playback, pb_id, {EventType::playback_finished});
    const ari::channels::PlayWithId play{.channel_id = id, .playback_id = pb_id, .media = {"sound:hello-world"}};
    co_await client_->channels().async_play_with_id(play, asio::use_awaitable);
    co_await finished.async_wait(10s, asio::use_awaitable);
  });
  // hello-world lasts ~1.5 s: dozens of 20 ms packets, all of them PCMU.
  EXPECT_TRUE(wait([&] { return packets >= 25; })) << packets << " RTP packets";
  EXPECT_EQ(wrong, "");
  EXPECT_EQ(from.address().to_string(), "127.0.0.1");

  run(ioc_, [&]() -> asio::awaitable<void> {
    const ari::channels::Hangup hangup{.channel_id = id};
    co_await client_->channels().async_hangup(hangup, asio::use_awaitable);
  });
  ASSERT_TRUE(wait([&] { return log_.has(id, "ChannelDestroyed"); })) << log_.dump();
  rtp.close();
}

}  // namespace
