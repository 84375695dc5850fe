// ari-answer-play: the smallest useful ARI application, using only astmrf::ari.
// Every call that enters Stasis(<app>) is answered, hears sound:hello-world, and is hung up.
//
//   ARI_PASSWORD=secret ari-answer-play http://127.0.0.1:8088 asterisk drachtio-demo
//
// The password comes from the environment so that it never shows in a process list.
#include <astmrf/ari/ari.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace ari = astmrf::ari;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

asio::awaitable<void> handle_call(ari::Client& client, std::string channel) {
  try {
    // Choose the playback id and register the wait before the request: PlaybackFinished may
    // arrive before the HTTP response.
    const auto playback = client.make_id("pb");
    auto finished = client.expect(ari::ResourceKind::playback, playback, {ari::EventType::playback_finished});
    auto ended = client.expect(ari::ResourceKind::channel, channel, {ari::EventType::stasis_end});

    const ari::channels::Answer answer{.channel_id = channel};
    co_await client.channels().async_answer(answer, asio::use_awaitable);
    const ari::channels::PlayWithId play{
        .channel_id = channel, .playback_id = playback, .media = {"sound:hello-world"}};
    co_await client.channels().async_play_with_id(play, asio::use_awaitable);
    auto done = co_await finished.async_wait(30s, asio::use_awaitable);
    spdlog::info("call {}: playback {}", channel, done.as<ari::PlaybackFinished>().playback.state);

    const ari::channels::Hangup hangup{.channel_id = channel};
    co_await client.channels().async_hangup(hangup, asio::use_awaitable);
    co_await ended.async_wait(5s, asio::use_awaitable);
  } catch (const ari::NotFound&) {
    spdlog::info("call {}: the caller hung up first", channel);  // normal: teardown is idempotent
  } catch (const std::exception& e) {
    spdlog::warn("call {}: {}", channel, e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: ARI_PASSWORD=... %s URL USER APP\n", argv[0]);
    return 2;
  }
  const char* password = std::getenv("ARI_PASSWORD");
  asio::io_context ioc;
  ari::ClientOptions options;
  options.url = argv[1];
  options.user = argv[2];
  options.password = password != nullptr ? password : "";
  options.apps = {argv[3]};
  ari::Client client(ioc.get_executor(), options);

  auto on_start = client.on_event(ari::EventType::stasis_start, [&](const ari::Event& e) {
    asio::co_spawn(ioc, handle_call(client, std::string(e.id(ari::ResourceKind::channel))), asio::detached);
  });
  auto on_state = client.on_state([](ari::ConnectionState s, boost::system::error_code ec) {
    spdlog::info("ARI events: {}{}{}", ari::to_string(s), ec ? ": " : "", ec ? ec.message() : "");
  });

  int status = 0;
  client.async_connect([&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      spdlog::error("cannot connect: {}", x.what());
      status = 1;
      client.close();
    }
  });
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    client.close();
    ioc.stop();
  });
  ioc.run();
  return status;
}
