// The seed's first flow in C++: answer every INVITE with a fixed SDP, and log how
// each call ends. Run it, then call sip:anything@127.0.0.1:5080 (e.g. with sipp).
#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace asio = boost::asio;
namespace srf = astmrf::srf;

int main() {
  asio::io_context ioc;
  astmrf::sip::EngineConfig config;
  config.listen = {{astmrf::sip::Transport::udp, "127.0.0.1", 5080}, {astmrf::sip::Transport::tcp, "127.0.0.1", 5080}};
  astmrf::sip::Engine engine(ioc.get_executor(), config);
  engine.start();
  srf::Srf app(srf::make_engine_backend(engine));

  const std::string sdp =
      "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
      "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

  app.invite([&](srf::Request req, srf::Response res) {
    asio::co_spawn(
        ioc,
        [&app, &sdp, req, res]() -> asio::awaitable<void> {
          srf::UasOptions options{sdp, {}};  // a named object: see docs/srf.md on g++ 12
          auto dialog = co_await app.async_create_uas(req, res, options, asio::use_awaitable);
          std::cout << "answered " << dialog->call_id() << "\n";
          auto ended = co_await dialog->async_wait_destroyed(asio::use_awaitable);
          std::cout << "call ended by " << srf::to_string(ended.who) << " (" << astmrf::sip::to_string(ended.reason)
                    << ")\n";
        },
        [](std::exception_ptr error) {
          if (!error) return;
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            std::cout << "call not set up: " << e.what() << "\n";
          }
        });
  });

  asio::signal_set stop(ioc, SIGINT, SIGTERM);
  stop.async_wait([&](auto, auto) { ioc.stop(); });
  ioc.run();
}
