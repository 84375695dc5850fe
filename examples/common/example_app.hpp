// What the contact-center examples share: Asterisk's connect options from the command line and
// the environment, and one application (the embedded SIP engine on 127.0.0.1:5080, its Srf and
// an Mrf) that connects to Asterisk, hands the server to the example, and runs until SIGINT or
// SIGTERM. Header-only: each example stays one file to read, plus this one.
#pragma once

#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/engine_backend.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>

namespace astmrf_example {

/// Asterisk's ARI and SIP on 127.0.0.1: the password from ARI_PASSWORD, then the optional
/// arguments argv[first..]: [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT] (asterisk, 8088, 5060).
inline astmrf::mrf::ConnectOptions asterisk_options(int argc, char** argv, int first) {
  const auto arg = [&](int i) -> const char* { return first + i < argc ? argv[first + i] : nullptr; };
  const auto port = [&](int i, std::uint16_t fallback) {
    return static_cast<std::uint16_t>(arg(i) != nullptr ? std::atoi(arg(i)) : fallback);
  };
  const char* password = std::getenv("ARI_PASSWORD");
  astmrf::mrf::ConnectOptions options;
  options.ari = {
      .address = "127.0.0.1",
      .port = port(1, 8088),
      .username = arg(0) != nullptr ? arg(0) : "asterisk",
      .password = password != nullptr ? password : "",
  };
  options.sip = {.address = "127.0.0.1", .port = port(2, 5060)};
  return options;
}

/// Runs the application: SIP on 127.0.0.1:5080, connected to Asterisk with `options`; once
/// connected, `ready(ioc, srf, server)` installs the example's handlers. Returns the exit status.
inline int run(const astmrf::mrf::ConnectOptions& options,
               const std::function<void(boost::asio::io_context&, astmrf::srf::Srf&,
                                        std::shared_ptr<astmrf::mrf::MediaServer>)>& ready) {
  boost::asio::io_context ioc;
  astmrf::sip::EngineConfig config;
  config.listen = {{astmrf::sip::Transport::udp, "127.0.0.1", 5080}};
  astmrf::sip::Engine engine(ioc.get_executor(), config);
  engine.start();
  astmrf::srf::Srf app(astmrf::srf::make_engine_backend(engine));
  astmrf::mrf::Mrf media(app);
  int status = 0;

  media.async_connect(options, [&](std::exception_ptr error, std::shared_ptr<astmrf::mrf::MediaServer> server) {
    if (error) {
      std::cerr << "cannot reach Asterisk\n";
      status = 1;
      ioc.stop();
      return;
    }
    ready(ioc, app, std::move(server));
  });

  boost::asio::signal_set stop(ioc, SIGINT, SIGTERM);
  stop.async_wait([&](auto, auto) { ioc.stop(); });
  ioc.run();
  return status;
}

}  // namespace astmrf_example
