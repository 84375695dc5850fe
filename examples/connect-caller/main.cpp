// connect-caller: the seed's first Mrf flow. Every INVITE is connected to Asterisk
// (connect_caller), and the caller hears sound:tt-monkeys (Endpoint::async_play); the
// call stays up until the caller hangs up, whose BYE ends the Asterisk leg too.
//
//   ARI_PASSWORD=secret example-connect-caller [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]
//
// SIP on 127.0.0.1:5080; Asterisk's ARI and SIP on 127.0.0.1 (8088 and 5060 by default).
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/engine_backend.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;

namespace {

asio::awaitable<void> play_monkeys(std::shared_ptr<mrf::MediaServer> server, srf::Request req, srf::Response res) {
  mrf::ConnectCallerOptions options;  // named objects in co_await calls: see docs/srf.md on g++ 12
  auto call = co_await server->async_connect_caller(req, res, options, asio::use_awaitable);
  std::cout << "connected " << req.call_id() << " to channel " << call.endpoint->channel_id() << "\n";

  auto played = co_await call.endpoint->async_play("sound:tt-monkeys", asio::use_awaitable);
  std::cout << "playback " << played.playback_id << ": " << mrf::to_string(played.end) << "\n";

  auto ended = co_await call.endpoint->async_wait_destroyed(asio::use_awaitable);
  std::cout << "call " << req.call_id() << " ended: " << mrf::to_string(ended) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  const char* password = std::getenv("ARI_PASSWORD");
  mrf::ConnectOptions options;
  options.ari = {
      .address = "127.0.0.1",
      .port = static_cast<std::uint16_t>(argc > 2 ? std::atoi(argv[2]) : 8088),
      .username = argc > 1 ? argv[1] : "asterisk",
      .password = password != nullptr ? password : "",
  };
  options.sip = {.address = "127.0.0.1", .port = static_cast<std::uint16_t>(argc > 3 ? std::atoi(argv[3]) : 5060)};

  asio::io_context ioc;
  astmrf::sip::EngineConfig config;
  config.listen = {{astmrf::sip::Transport::udp, "127.0.0.1", 5080}};
  astmrf::sip::Engine engine(ioc.get_executor(), config);
  engine.start();
  srf::Srf app(srf::make_engine_backend(engine));
  mrf::Mrf media(app);

  media.async_connect(options, [&](std::exception_ptr error, std::shared_ptr<mrf::MediaServer> server) {
    if (error) {
      std::cerr << "cannot reach Asterisk\n";
      ioc.stop();
      return;
    }
    std::cout << "Stasis application " << server->app() << "; call sip:anyone@127.0.0.1:5080\n";
    app.invite([&ioc, server](srf::Request req, srf::Response res) {
      asio::co_spawn(ioc, play_monkeys(server, req, res), [](std::exception_ptr e) {
        if (e) std::cout << "call failed\n";  // the caller already got an error status
      });
    });
  });

  asio::signal_set stop(ioc, SIGINT, SIGTERM);
  stop.async_wait([&](auto, auto) { ioc.stop(); });
  ioc.run();
}
