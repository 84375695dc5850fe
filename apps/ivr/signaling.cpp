#include "signaling.hpp"

#include "options.hpp"

#include <astmrf/srf/drachtio.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <stdexcept>

namespace astmrf::ivr {

Signaling::Signaling(std::unique_ptr<sip::Engine> engine, std::string description, srf::SrfOptions options)
    : engine_(std::move(engine)),
      srf_(std::make_unique<srf::Srf>(srf::make_engine_backend(*engine_), std::move(options))),
      description_(std::move(description)) {}

Signaling::Signaling(std::shared_ptr<srf::drachtio::Backend> drachtio, std::string description, srf::SrfOptions options)
    : drachtio_(std::move(drachtio)),
      srf_(std::make_unique<srf::Srf>(drachtio_, std::move(options))),
      description_(std::move(description)) {}

bool Signaling::listening() const {
  if (stopped_) return false;
  if (engine_) return true;  // started before the Signaling was made; stop() ends it
  const auto states = drachtio_->states();
  return std::any_of(states.begin(), states.end(),
                     [](srf::drachtio::ConnectionState s) { return s == srf::drachtio::ConnectionState::ready; });
}

Signaling::~Signaling() {
  srf_.reset();  // before the engine it runs on
}

void Signaling::stop() {
  stopped_ = true;
  if (engine_) engine_->stop();
  if (drachtio_) drachtio_->close();
}

namespace {

std::unique_ptr<Signaling> open_embedded_engine(boost::asio::any_io_executor executor,
                                                const SignalingOptions& options) {
  sip::EngineConfig config;
  config.metrics = options.metrics;
  config.logger = options.logger;
  config.listen.clear();
  std::string listen;  // as written, for the messages
  for (const auto& text : options.listen) {
    const auto address = parse_host_port(text);
    boost::system::error_code ec;
    boost::asio::ip::make_address(address.host, ec);
    if (ec) throw std::runtime_error("--listen " + text + ": the engine listens on an IP address, not a name");
    config.listen.push_back({sip::Transport::udp, address.host, address.port});
    config.listen.push_back({sip::Transport::tcp, address.host, address.port});
    listen += (listen.empty() ? "" : " ") + util::format_host_port(address.host, address.port);
  }
  if (config.listen.empty()) throw std::runtime_error("--listen: no address to listen on");
  config.user_agent = "astmrf-ivr";
  auto engine = std::make_unique<sip::Engine>(executor, config);
  try {
    engine->start();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + listen + ": " + e.code().message());
  }
  return std::make_unique<Signaling>(std::move(engine), "embedded SIP engine on udp+tcp " + listen,
                                     srf::SrfOptions{.metrics = options.metrics, .logger = options.logger});
}

// Errors name the server as host:port only: the secret never reaches a log.
boost::asio::awaitable<std::unique_ptr<Signaling>> open_drachtio(boost::asio::any_io_executor executor,
                                                                 SignalingOptions signaling) {
  const auto& spec = signaling.drachtio;
  srf::drachtio::Options options;
  options.metrics = signaling.metrics;
  options.logger = signaling.logger;
  try {
    options.server = srf::drachtio::parse_server_address(spec);
  } catch (const std::invalid_argument&) {
    throw std::runtime_error("--drachtio: expected host:port:secret");
  }
  const auto server = options.server.host + ":" + std::to_string(options.server.port);
  options.connect_timeout = std::chrono::seconds(5);
  auto backend = srf::drachtio::make_backend(std::move(executor), std::move(options));
  auto made = std::make_unique<Signaling>(backend, "drachtio-server " + server,
                                          srf::SrfOptions{.metrics = signaling.metrics, .logger = signaling.logger});
  try {
    co_await backend->async_connect(boost::asio::use_awaitable);
  } catch (const srf::drachtio::AuthenticationFailed&) {
    backend->close();
    throw std::runtime_error("drachtio-server " + server + " refused the secret");
  } catch (const std::exception& e) {
    backend->close();
    throw std::runtime_error("cannot use drachtio-server " + server + ": " + e.what());
  }
  co_return made;
}

}  // namespace

boost::asio::awaitable<std::unique_ptr<Signaling>> open_signaling(boost::asio::any_io_executor executor,
                                                                  SignalingOptions options) {
  if (!options.drachtio.empty()) co_return co_await open_drachtio(std::move(executor), std::move(options));
  co_return open_embedded_engine(std::move(executor), options);
}

}  // namespace astmrf::ivr
