#include "signaling.hpp"

#include "options.hpp"

#include <boost/system/system_error.hpp>

#include <stdexcept>

namespace astmrf::ivr {

Signaling::Signaling(std::unique_ptr<sip::Engine> engine, std::shared_ptr<srf::SignalingBackend> backend,
                     std::string description)
    : engine_(std::move(engine)), description_(std::move(description)) {
  srf_ = engine_ ? std::make_unique<srf::Srf>(*engine_) : std::make_unique<srf::Srf>(std::move(backend));
}

Signaling::~Signaling() {
  srf_.reset();  // before the engine it runs on
}

void Signaling::stop() {
  if (engine_) engine_->stop();
}

namespace {

std::unique_ptr<Signaling> open_embedded_engine(boost::asio::any_io_executor executor, const std::string& listen) {
  const auto address = parse_host_port(listen);
  sip::EngineConfig config;
  config.listen = {{sip::Transport::udp, address.host, address.port}, {sip::Transport::tcp, address.host, address.port}};
  config.user_agent = "astmrf-ivr";
  auto engine = std::make_unique<sip::Engine>(executor, config);
  try {
    engine->start();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + listen + ": " + e.code().message());
  }
  return std::make_unique<Signaling>(std::move(engine), nullptr, "embedded SIP engine on udp+tcp " + listen);
}

}  // namespace

boost::asio::awaitable<std::unique_ptr<Signaling>> open_signaling(boost::asio::any_io_executor executor,
                                                                 SignalingOptions options) {
  if (!options.drachtio.empty()) {
    // The drachtio-server backend (issue #8) plugs in here: parse the address,
    // make the backend, co_await its async_connect, wrap it in a Signaling.
    throw std::runtime_error("--drachtio: this astmrf-ivr was built without the drachtio backend");
  }
  co_return open_embedded_engine(std::move(executor), options.listen);
}

}  // namespace astmrf::ivr
