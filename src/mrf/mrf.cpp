#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>

namespace astmrf::mrf {

namespace {

void validate(const ConnectOptions& options) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(options.ari.address, ec);
  if (options.ari.address.empty() || ec) {
    throw std::invalid_argument("mrf: ari.address must be an IP address, not '" + options.ari.address + "'");
  }
  if (options.ari.port == 0) throw std::invalid_argument("mrf: ari.port must not be 0");
  if (options.ari.username.empty()) throw std::invalid_argument("mrf: ari.username is required");
  if (!options.sip.address.empty()) {
    boost::asio::ip::make_address(options.sip.address, ec);
    if (ec) throw std::invalid_argument("mrf: sip.address must be an IP address, not '" + options.sip.address + "'");
  }
  if (options.sip.port == 0) throw std::invalid_argument("mrf: sip.port must not be 0");
  if (options.setup_timeout.count() <= 0) throw std::invalid_argument("mrf: setup_timeout must be positive");
  if (options.max_pending_setups == 0) throw std::invalid_argument("mrf: max_pending_setups must be at least 1");
  // The Mrf ties dialogs to channels with these two; a filter without them would hang every setup.
  const auto& filter = options.event_filter;
  for (const std::string_view needed : {"StasisStart", "StasisEnd"}) {
    const bool dropped =
        std::find(filter.disallowed.begin(), filter.disallowed.end(), needed) != filter.disallowed.end();
    const bool not_allowed = !filter.allowed.empty() &&
                             std::find(filter.allowed.begin(), filter.allowed.end(), needed) == filter.allowed.end();
    if (dropped || not_allowed) {
      throw std::invalid_argument("mrf: event_filter must let " + std::string(needed) + " through");
    }
  }
}

}  // namespace

Mrf::Mrf(srf::Srf& srf) : srf_(srf), servers_(std::make_shared<std::vector<std::weak_ptr<MediaServer>>>()) {}

Mrf::~Mrf() = default;

std::vector<std::shared_ptr<MediaServer>> Mrf::media_servers() const {
  std::vector<std::shared_ptr<MediaServer>> out;
  for (const auto& weak : *servers_) {
    auto server = weak.lock();
    if (server && server->connected()) out.push_back(std::move(server));
  }
  return out;
}

void Mrf::start_connect(ConnectOptions options, ServerHandler handler) {
  auto executor = srf_.get_executor();
  auto once = astmrf::detail::make_once(std::move(handler), executor);
  try {
    validate(options);  // before any I/O
  } catch (...) {
    (*once)(std::current_exception(), nullptr);
    return;
  }
  std::shared_ptr<MediaServer> server(
      new MediaServer(executor, srf_, std::move(options), "drachtio-" + random_.uuid4()));
  std::weak_ptr<MediaServer> weak = server;
  // Cancelled: the ARI connection is closed, which removes the Stasis application.
  once->on_cancel([weak] {
    if (auto s = weak.lock()) s->disconnect(false);
  });
  server->start([once, server, servers = servers_](std::exception_ptr error) {
    if (error || once->done()) {
      server->disconnect(false);
      (*once)(error, nullptr);
      return;
    }
    servers->push_back(server);
    (*once)(nullptr, server);
  });
}

}  // namespace astmrf::mrf
