// Play-and-collect over the fake Asterisk: DTMF before and after the prompt, barge-in, terminator,
// first-digit timeout.
#include "fake_asterisk.hpp"

#include <astmrf/ari/ari.hpp>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <mutex>

namespace ari = astmrf::ari;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  fake::Asterisk server{"astmrf", "pw"};
  asio::io_context ioc;
  std::unique_ptr<ari::Client> client;
  std::mutex mu;
  std::string playback;  // id chosen by the client, seen by the fake
  int stops = 0;

  Fixture() {
    server.route("POST /ari/channels/c1/play/*", [this](const fake::HttpRequest& r) {
      auto id = r.target.substr(std::string("/ari/channels/c1/play/").size());
      id = id.substr(0, id.find('?'));
      {
        std::lock_guard lk(mu);
        playback = id;
      }
      return fake::HttpReply{201, R"({"id":")" + id + R"(","state":"queued"})"};
    });
    server.route("DELETE /ari/playbacks/*", [this](const fake::HttpRequest&) {
      std::lock_guard lk(mu);
      ++stops;
      return fake::HttpReply{204, ""};
    });
    ari::ClientOptions o;
    o.url = server.url();
    o.user = "astmrf";
    o.password = "pw";
    o.apps = {"app"};
    client = std::make_unique<ari::Client>(ioc.get_executor(), o);
    bool connected = false;
    client->async_connect([&](std::exception_ptr e) { connected = !e; });
    run_until([&] { return connected; });
    server.wait_websockets(1, 2s);
  }

  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      if (ioc.stopped()) ioc.restart();
      ioc.run_for(5ms);
    }
    return true;
  }
  std::string pb() {
    std::lock_guard lk(mu);
    return playback;
  }
  void dtmf(const std::string& digit) {
    server.push(R"({"type":"ChannelDtmfReceived","application":"app","digit":")" + digit +
                R"(","duration_ms":100,"channel":{"id":"c1","caller":{}}})");
  }
};

}  // namespace

TEST(AriPlayAndCollect, BargeInThenTerminator) {
  Fixture f;
  std::optional<ari::CollectResult> result;
  ari::async_play_and_collect(*f.client, {.channel_id = "c1", .media = {"sound:tt-monkeys"}, .max_digits = 4},
                              [&](std::exception_ptr e, ari::CollectResult r) {
                                EXPECT_FALSE(e);
                                result = r;
                              });
  ASSERT_TRUE(f.run_until([&] { return !f.pb().empty(); }));
  f.dtmf("1");
  f.dtmf("2");
  f.dtmf("#");
  ASSERT_TRUE(f.run_until([&] { return result.has_value(); }));
  EXPECT_EQ(result->digits, "12");
  EXPECT_TRUE(result->terminated);
  EXPECT_FALSE(result->timed_out);
  std::lock_guard lk(f.mu);
  EXPECT_EQ(f.stops, 1);  // the first digit stopped the prompt
}

TEST(AriPlayAndCollect, FirstDigitTimeoutStartsWhenThePromptEnds) {
  Fixture f;
  std::optional<ari::CollectResult> result;
  const auto start = std::chrono::steady_clock::now();
  ari::async_play_and_collect(
      *f.client, {.channel_id = "c1", .media = {"sound:hello-world"}, .max_digits = 2, .first_digit_timeout = 200ms},
      [&](std::exception_ptr, ari::CollectResult r) { result = r; });
  ASSERT_TRUE(f.run_until([&] { return !f.pb().empty(); }));
  f.run_until([] { return false; }, 300ms);  // the prompt still plays: no timeout yet
  EXPECT_FALSE(result.has_value());
  f.server.push(R"({"type":"PlaybackFinished","application":"app","playback":{"id":")" + f.pb() +
                R"(","state":"done"}})");
  ASSERT_TRUE(f.run_until([&] { return result.has_value(); }));
  EXPECT_TRUE(result->timed_out);
  EXPECT_EQ(result->digits, "");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 500ms);
  EXPECT_EQ(f.client->stats().subscriptions, 0u);
}

TEST(AriPlayAndCollect, ChannelGoneIsAnError) {
  Fixture f;
  std::exception_ptr error;
  bool done = false;
  ari::async_play_and_collect(*f.client, {.channel_id = "c1"}, [&](std::exception_ptr e, ari::CollectResult) {
    error = e;
    done = true;
  });
  f.run_until([] { return false; }, 50ms);
  f.server.push(R"({"type":"StasisEnd","application":"app","channel":{"id":"c1","caller":{}}})");
  ASSERT_TRUE(f.run_until([&] { return done; }));
  ASSERT_TRUE(error);
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code(), ari::errc::resource_ended);
  }
}
