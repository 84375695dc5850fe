// One application, two signaling backends: the embedded SIP engine (default) or a
// drachtio-server (--drachtio host:port:secret). `run_application` is the same
// code either way: it answers every INVITE with a fixed SDP and logs the end of
// each call.
//
//   example-srf-either-backend                         # SIP on 127.0.0.1:5080
//   example-srf-either-backend --drachtio 127.0.0.1:9022:cymru [--tls --ca-file ca.pem]
#include <astmrf/srf/drachtio.hpp>
#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/srf.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace asio = boost::asio;
namespace srf = astmrf::srf;
namespace dr = astmrf::srf::drachtio;

namespace {

const std::string kSdp =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

asio::awaitable<void> handle_call(srf::Srf& app, srf::Request req, srf::Response res) {
  srf::UasOptions options{kSdp, {}};  // a named object: see docs/srf.md on g++ 12
  auto dialog = co_await app.async_create_uas(req, res, options, asio::use_awaitable);
  std::cout << "answered " << dialog->call_id() << "\n";
  auto ended = co_await dialog->async_wait_destroyed(asio::use_awaitable);
  std::cout << "call ended by " << srf::to_string(ended.who) << "\n";
}

// The application: nothing here knows which backend carries the signaling.
void run_application(srf::Srf& app) {
  app.invite([&app](srf::Request req, srf::Response res) {
    asio::co_spawn(app.get_executor(), handle_call(app, req, res), [](std::exception_ptr error) {
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        std::cout << "call not set up: " << e.what() << "\n";
      }
    });
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Answers every call, over the embedded SIP engine or a drachtio-server"};
  std::string drachtio;
  bool tls = false;
  std::string ca_file;
  std::uint16_t sip_port = 5080;
  cli.add_option("--drachtio", drachtio, "use the drachtio-server at host:port:secret");
  cli.add_flag("--tls", tls, "connect to drachtio-server over TLS");
  cli.add_option("--ca-file", ca_file, "PEM file of the CA that signed drachtio-server's certificate");
  cli.add_option("--sip-port", sip_port, "SIP port of the embedded engine (127.0.0.1)");
  CLI11_PARSE(cli, argc, argv);

  asio::io_context ioc;
  std::unique_ptr<astmrf::sip::Engine> engine;
  std::shared_ptr<srf::SignalingBackend> backend;
  std::shared_ptr<dr::Backend> drachtio_backend;
  if (drachtio.empty()) {
    astmrf::sip::EngineConfig config;
    config.listen = {{astmrf::sip::Transport::udp, "127.0.0.1", sip_port},
                     {astmrf::sip::Transport::tcp, "127.0.0.1", sip_port}};
    engine = std::make_unique<astmrf::sip::Engine>(ioc.get_executor(), config);
    engine->start();
    backend = srf::make_engine_backend(*engine);
  } else {
    dr::Options options;
    try {
      options.server = dr::parse_server_address(drachtio);
    } catch (const std::invalid_argument& e) {
      std::cerr << e.what() << "\n";
      return 2;
    }
    options.tls = tls;
    options.tls_options.ca_file = ca_file;
    drachtio_backend = dr::make_backend(ioc.get_executor(), options);
    drachtio_backend->on_event([](const dr::ConnectionEvent& event) {
      std::cout << "drachtio " << event.server << ": " << dr::to_string(event.state) << " " << event.detail << "\n";
    });
    backend = drachtio_backend;
  }

  srf::Srf app(backend);
  run_application(app);

  if (drachtio_backend) {
    drachtio_backend->async_connect([&ioc](std::exception_ptr error) {
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const dr::AuthenticationFailed& e) {
        std::cerr << e.what() << "\n";  // final: retrying would not help
        ioc.stop();
      } catch (const std::exception& e) {
        std::cerr << e.what() << " (still trying)\n";
      }
    });
  }

  asio::signal_set stop(ioc, SIGINT, SIGTERM);
  stop.async_wait([&](auto, auto) {
    if (drachtio_backend) drachtio_backend->close();
    ioc.stop();
  });
  ioc.run();
}
