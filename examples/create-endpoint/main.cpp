// create-endpoint: the seed's second Mrf flow. Creates one endpoint on Asterisk with
// no caller (an inactive offer), shows what it is made of, and destroys it.
//
//   ARI_PASSWORD=secret example-create-endpoint [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/engine_backend.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;
namespace mrf = astmrf::mrf;

namespace {

asio::awaitable<void> create_one(mrf::Mrf& media, mrf::ConnectOptions options) {
  auto server = co_await media.async_connect(options, asio::use_awaitable);
  mrf::EndpointOptions endpoint_options;  // no SDP: Asterisk gets an inactive offer
  auto endpoint = co_await server->async_create_endpoint(endpoint_options, asio::use_awaitable);

  std::cout << "endpoint on " << server->app() << "\n"
            << "  ARI channel: " << endpoint->channel_id() << " (" << endpoint->channel_name() << ")\n"
            << "  SIP dialog:  " << endpoint->dialog()->call_id() << "\n"
            << "  Asterisk's SDP:\n"
            << endpoint->local_sdp() << "\n";

  endpoint->destroy();  // BYE: Asterisk hangs the channel up
  std::cout << "ended: " << mrf::to_string(co_await endpoint->async_wait_destroyed(asio::use_awaitable)) << "\n";
  server->disconnect();
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
  config.listen = {{astmrf::sip::Transport::udp, "127.0.0.1", 0}};  // any free port: we only place calls
  astmrf::sip::Engine engine(ioc.get_executor(), config);
  engine.start();
  astmrf::srf::Srf app(astmrf::srf::make_engine_backend(engine));
  mrf::Mrf media(app);

  int status = 0;
  asio::co_spawn(ioc, create_one(media, options), [&](std::exception_ptr error) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        std::cerr << "failed: " << e.what() << "\n";
      }
      status = 1;
    }
    engine.stop();
    ioc.stop();  // nothing else to wait for
  });
  ioc.run();
  return status;
}
