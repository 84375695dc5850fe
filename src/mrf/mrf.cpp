#include "telemetry.hpp"

#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>

namespace astmrf::mrf {

namespace {

// An IP address or a DNS host name (RFC 1123 labels), not a URL.
bool valid_host(std::string_view host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (!ec) return true;
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.front() == '-') return false;
  std::size_t label = 0;
  for (const char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return true;
}

// Ours: the namespace of the Stasis application names derived from an instance id.
constexpr std::string_view kInstanceNamespace = "3f0c2a9e-6b1d-4c57-9e8a-5d2f7b1c4e60";
constexpr std::size_t kMaxInstanceId = 128;

void validate(const ConnectOptions& options) {
  if (auto error = instance_id_error(options.instance_id); !error.empty()) {
    throw std::invalid_argument("mrf: instance_id " + error);
  }
  if (!valid_host(options.ari.address)) {
    throw std::invalid_argument("mrf: ari.address must be an IP address or a host name (no scheme, no port), not '" +
                                options.ari.address + "'");
  }
  if (options.ari.port == 0) throw std::invalid_argument("mrf: ari.port must not be 0");
  if (options.ari.username.empty()) throw std::invalid_argument("mrf: ari.username is required");
  if (!options.sip.address.empty() && !valid_host(options.sip.address)) {
    throw std::invalid_argument("mrf: sip.address must be an IP address or a host name, not '" + options.sip.address +
                                "'");
  }
  if (options.max_queue_age < 0) throw std::invalid_argument("mrf: max_queue_age must not be negative");
  if (options.health.ping_interval.count() < 0 || options.health.ping_timeout.count() <= 0 ||
      options.health.calls_lost_after.count() < 0) {
    throw std::invalid_argument("mrf: health intervals must be positive (ping_interval 0: no pings)");
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

std::string instance_id_error(std::string_view id) {
  if (id.size() > kMaxInstanceId) return "is longer than " + std::to_string(kMaxInstanceId) + " characters";
  if (std::any_of(id.begin(), id.end(), [](char c) { return c <= ' ' || c > '~'; })) {
    return "must be printable ASCII without spaces, not '" + std::string(id) + "'";
  }
  return {};
}

Mrf::Mrf(srf::Srf& srf, MrfOptions options)
    : srf_(srf),
      telemetry_(std::make_shared<const detail::Telemetry>(std::move(options.logger), std::move(options.metrics))),
      servers_(std::make_shared<std::vector<std::weak_ptr<MediaServer>>>()) {}

Mrf::~Mrf() = default;

std::vector<std::shared_ptr<MediaServer>> Mrf::media_servers() const {
  std::vector<std::shared_ptr<MediaServer>> out;
  for (const auto& weak : *servers_) {
    auto server = weak.lock();
    if (server && server->state() != ServerState::closed) out.push_back(std::move(server));
  }
  return out;
}

std::shared_ptr<MediaServer> Mrf::make_server(ConnectOptions options) {
  validate(options);  // before any I/O
  std::string app = "drachtio-" + (options.instance_id.empty() ? random_.uuid4()
                                                               : util::uuid5(kInstanceNamespace, options.instance_id));
  // Two live servers of one app on one Asterisk would sweep each other's channels.
  for (const auto& weak : *servers_) {
    const auto other = weak.lock();
    if (other && other->state() != ServerState::closed && other->app() == app &&
        other->options_.ari.address == options.ari.address && other->options_.ari.port == options.ari.port) {
      throw std::invalid_argument("mrf: instance_id '" + options.instance_id + "' is already connected to " +
                                  other->name());
    }
  }
  std::shared_ptr<MediaServer> server(
      new MediaServer(srf_.get_executor(), srf_, std::move(options), std::move(app), telemetry_));
  std::erase_if(*servers_, [](const auto& weak) { return weak.expired(); });
  servers_->push_back(server);
  return server;
}

void Mrf::start_connect(ConnectOptions options, ServerHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), srf_.get_executor());
  std::shared_ptr<MediaServer> server;
  try {
    server = make_server(std::move(options));
  } catch (...) {
    (*once)(std::current_exception(), nullptr);
    return;
  }
  std::weak_ptr<MediaServer> weak = server;
  // Cancelled: the ARI connection is closed, which removes the Stasis application.
  once->on_cancel([weak] {
    if (auto s = weak.lock()) s->disconnect(false);
  });
  server->start(false, [once, server](std::exception_ptr error) {
    if (error || once->done()) {
      server->disconnect(false);
      (*once)(error, nullptr);
      return;
    }
    (*once)(nullptr, server);
  });
}

}  // namespace astmrf::mrf
