// What the contact-center examples share: Asterisk's connect options from the command line and
// the environment, and one application (the embedded SIP engine on 127.0.0.1:5080, its Srf and
// an Mrf) that connects to Asterisk, hands the server to the example, and runs until SIGINT or
// SIGTERM. Header-only: each example stays one file to read, plus this one.
#pragma once

#include <astmrf/mrf/mrf.hpp>
#include <astmrf/mrf/stream.hpp>
#include <astmrf/srf/engine_backend.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string_view>

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

/// The stream examples' first argument, TRANSPORT[:FORMAT]: rtp, websocket (the default) or
/// audiosocket, optionally with the format (slin16, slin, ulaw, alaw). Without one: slin for
/// audiosocket (8 kHz, what every AudioSocket server understands), ulaw for rtp (Asterisk takes no
/// slin16 back over rtp), slin16 otherwise. Nothing on a
/// bad argument (the caller prints its usage).
inline std::optional<astmrf::mrf::StreamOptions> stream_options(int argc, char** argv, int index) {
  namespace mrf = astmrf::mrf;
  const std::string_view arg = index < argc ? argv[index] : "websocket";
  const auto colon = arg.find(':');
  const std::string_view transport = arg.substr(0, colon);
  mrf::StreamOptions options;
  if (transport == "rtp") {
    options.transport = mrf::StreamTransport::rtp;
    options.format = mrf::AudioFormat::ulaw;  // slin16 over rtp reaches the application only
  } else if (transport == "websocket") {
    options.transport = mrf::StreamTransport::websocket;
  } else if (transport == "audiosocket") {
    options.transport = mrf::StreamTransport::audiosocket;
    options.format = mrf::AudioFormat::slin;
  } else {
    return std::nullopt;
  }
  if (colon != std::string_view::npos) {
    const std::string_view format = arg.substr(colon + 1);
    if (format == "slin16") {
      options.format = mrf::AudioFormat::slin16;
    } else if (format == "slin") {
      options.format = mrf::AudioFormat::slin;
    } else if (format == "ulaw") {
      options.format = mrf::AudioFormat::ulaw;
    } else if (format == "alaw") {
      options.format = mrf::AudioFormat::alaw;
    } else {
      return std::nullopt;
    }
  }
  return options;
}

/// The application's SIP port on 127.0.0.1: EXAMPLE_SIP_PORT, else 5080.
inline std::uint16_t sip_port() {
  const char* port = std::getenv("EXAMPLE_SIP_PORT");
  return static_cast<std::uint16_t>(port != nullptr ? std::atoi(port) : 5080);
}

/// Runs the application: SIP on 127.0.0.1:sip_port(), connected to Asterisk with `options`; once
/// connected, `ready(ioc, srf, server)` installs the example's handlers. Returns the exit status.
inline int run(const astmrf::mrf::ConnectOptions& options,
               const std::function<void(boost::asio::io_context&, astmrf::srf::Srf&,
                                        std::shared_ptr<astmrf::mrf::MediaServer>)>& ready) {
  boost::asio::io_context ioc;
  astmrf::sip::EngineConfig config;
  config.listen = {{astmrf::sip::Transport::udp, "127.0.0.1", sip_port()}};
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

/// The stream bots' main: the stream's TRANSPORT[:FORMAT] (argv[1], stream_options), then
/// Asterisk's options (argv[2..]); once connected, `banner` is printed and each INVITE runs
/// `call(server, req, res, options)`, a coroutine, on the application's thread (a failure is printed).
template <typename Call>
int run_stream_bot(int argc, char** argv, const char* banner, Call call) {
  const auto options = stream_options(argc, argv, 1);
  if (!options) {
    std::cerr << "usage: " << argv[0]
              << " [rtp|websocket|audiosocket[:slin16|slin|ulaw|alaw]] [ARI_USER] [ARI_PORT] [ASTERISK_SIP_PORT]\n";
    return 2;
  }
  return run(asterisk_options(argc, argv, 2), [&](boost::asio::io_context& ioc, astmrf::srf::Srf& app,
                                                  std::shared_ptr<astmrf::mrf::MediaServer> server) {
    std::cout << banner << "\n";
    app.invite([&ioc, server, o = *options, call](astmrf::srf::Request req, astmrf::srf::Response res) {
      boost::asio::co_spawn(ioc, call(server, req, res, o), [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& error) {
          std::cout << "call failed: " << error.what() << "\n";
        }
      });
    });
  });
}

}  // namespace astmrf_example
