// MediaServer: one Asterisk, one Stasis application. Endpoint setup ties an
// outgoing INVITE to the channel that StasisStart reports, in either order of
// StasisStart and 200 OK, under one deadline, and undoes everything on failure.
// Health: the events WebSocket's state plus periodic pings decide whether the server takes
// new setups; a WebSocket down for HealthOptions::calls_lost_after ends the server's calls.
#include "telemetry.hpp"

#include <astmrf/ari/error.hpp>
#include <astmrf/ari/generated/models.hpp>
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/sip/sdp.hpp>
#include <astmrf/util/log.hpp>
#include <astmrf/util/resolver.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <string_view>

namespace astmrf::mrf {

struct MediaServer::Setup {
  std::string uuid;
  std::string call_id;  // for the log lines: the caller's, or empty until the INVITE's is known
  std::function<void(std::exception_ptr, std::shared_ptr<Endpoint>)> done;
  std::string channel_id;
  std::string channel_name;
  std::string protocol_id;
  std::shared_ptr<srf::Dialog> dialog;
  boost::asio::cancellation_signal cancel_uac;
  std::unique_ptr<boost::asio::steady_timer> timer;
  std::chrono::steady_clock::time_point started;
  bool finished{false};
};

// The server's timers and resolver; their handlers hold the server weakly and reach these through it.
struct MediaServer::Health {
  Health(const boost::asio::any_io_executor& executor, const util::BackoffOptions& backoff,
         const util::ResolverOptions& dns)
      : ping_timer(executor),
        lost_timer(executor),
        drain_timer(executor),
        retry_timer(executor),
        retry_delays(backoff),
        resolver(executor, dns) {}
  boost::asio::steady_timer ping_timer;   // the next ping
  boost::asio::steady_timer lost_timer;   // WebSocket down this long: the calls are lost
  boost::asio::steady_timer drain_timer;  // drain deadline
  boost::asio::steady_timer retry_timer;  // the first connection of a pool member, again
  bool pinging{false};
  bool lost_armed{false};
  bool ping_failed{false};  // the last ping failed: down until one succeeds
  util::Backoff retry_delays;
  util::Resolver resolver;  // sip.address, when it is a host name
  bool resolving{false};
  std::uint64_t failed_connects{0};  // first connection attempts that failed (a pool member)
};

std::string_view to_string(ServerState state) noexcept {
  switch (state) {
    case ServerState::connecting: return "connecting";
    case ServerState::up: return "up";
    case ServerState::down: return "down";
    case ServerState::closed: return "closed";
  }
  return "unknown";
}

namespace {

using util::quote;

std::string what_of(const std::exception_ptr& error) {
  try {
    if (error) std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
  }
  return {};
}

bool is_ip_address(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

MediaServer::MediaServer(boost::asio::any_io_executor executor, srf::Srf& srf, ConnectOptions options, std::string app,
                         std::shared_ptr<const detail::Telemetry> telemetry)
    : executor_(std::move(executor)),
      srf_(srf),
      options_(std::move(options)),
      app_(std::move(app)),
      health_(std::make_unique<Health>(executor_, options_.reconnect, options_.resolver)),
      state_signal_(std::make_unique<astmrf::detail::Signal<ServerState>>(executor_)),
      telemetry_(std::move(telemetry)),
      log_(options_.logger ? options_.logger : telemetry_->log) {
  if (options_.sip.address.empty()) options_.sip.address = options_.ari.address;
  if (is_ip_address(options_.sip.address)) sip_address_ = options_.sip.address;
  if (options_.name.empty()) {
    const bool v6 = options_.ari.address.find(':') != std::string::npos;
    options_.name =
        (v6 ? "[" + options_.ari.address + "]" : options_.ari.address) + ":" + std::to_string(options_.ari.port);
  }
  if (telemetry_->registry) metrics_ = std::make_unique<detail::ServerMetrics>(*telemetry_->registry, options_.name);
}

MediaServer::~MediaServer() {
  if (disconnected_) return;
  disconnected_ = true;
  for (auto& [uuid, setup] : pending_) {
    setup->finished = true;
    setup->cancel_uac.emit(boost::asio::cancellation_type::terminal);
    if (setup->timer) setup->timer->cancel();
  }
  pending_.clear();
  auto endpoints = std::move(endpoints_);
  for (auto& [id, weak] : endpoints) {
    if (auto endpoint = weak.lock()) endpoint->destroy();
  }
  for (auto& drain : drains_) (*drain)(nullptr);
  if (ari_) ari_->close();
}

void MediaServer::start(bool keep_trying, std::function<void(std::exception_ptr)> done) {
  ari::ClientOptions client;
  client.url =
      std::string(options_.ari.tls ? "https://" : "http://") +
      (options_.ari.address.find(':') != std::string::npos ? "[" + options_.ari.address + "]" : options_.ari.address) +
      ":" + std::to_string(options_.ari.port);
  client.user = options_.ari.username;
  client.password = options_.ari.password;
  client.apps = {app_};
  client.tls = options_.ari.tls_options;
  client.event_filter = options_.event_filter;
  client.logger = log_;
  client.metrics = telemetry_->registry;
  client.metrics_name = options_.name;
  client.reconnect = options_.reconnect;
  client.resolver = options_.resolver;
  ari_ = std::make_unique<ari::Client>(executor_, std::move(client));
  std::weak_ptr<MediaServer> weak = weak_from_this();
  stasis_start_ = ari_->on_event(ari::EventType::stasis_start, [weak](const ari::Event& event) {
    if (auto self = weak.lock()) self->on_stasis_start(event);
  });
  reconcile_ = ari_->on_reconcile([weak](const ari::ReconcileReport& report) {
    if (auto self = weak.lock()) self->on_reconcile(report);
  });
  ari_state_ = ari_->on_state([weak](ari::ConnectionState state, boost::system::error_code) {
    if (auto self = weak.lock()) self->on_ari_state(state);
  });
  try_connect(keep_trying, std::move(done));
}

void MediaServer::try_connect(bool keep_trying, std::function<void(std::exception_ptr)> done) {
  std::weak_ptr<MediaServer> weak = weak_from_this();
  ari_->async_connect([weak, keep_trying, done = std::move(done)](std::exception_ptr error) mutable {
    auto self = weak.lock();
    if (!error || !keep_trying || !self || self->disconnected_) {
      done(error);
      return;
    }
    // A pool member that is not reachable yet: it joins when its Asterisk comes up.
    auto& health = *self->health_;
    const auto delay = health.retry_delays.next();
    // The first failure and every 30th are worth a line; the others (one every 2 s or so while
    // a server stays away) only at debug.
    const auto attempt = ++health.failed_connects;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      self->log_->log(attempt == 1 || attempt % 30 == 0 ? spdlog::level::warn : spdlog::level::debug,
                      "event=media_server_unreachable server={} app={} attempt={} retry_ms={} error={}",
                      quote(self->name()), self->app_, attempt, delay.count(), quote(e.what()));
    }
    health.retry_timer.expires_after(delay);
    health.retry_timer.async_wait([weak, keep_trying, done = std::move(done)](boost::system::error_code ec) mutable {
      auto server = weak.lock();
      if (ec || !server || server->disconnected_) {
        done(astmrf::detail::operation_aborted());
        return;
      }
      server->try_connect(keep_trying, std::move(done));
    });
  });
}

std::vector<std::shared_ptr<Endpoint>> MediaServer::endpoints() const {
  std::vector<std::shared_ptr<Endpoint>> out;
  for (const auto& [id, weak] : endpoints_) {
    if (auto endpoint = weak.lock()) out.push_back(std::move(endpoint));
  }
  return out;
}

void MediaServer::forget(const Endpoint& endpoint, EndpointEnd reason) {
  auto it = endpoints_.find(endpoint.channel_id());
  if (it != endpoints_.end()) endpoints_.erase(it);
  log_->debug("event=endpoint_ended call_id={} channel_id={} server={} reason={}", quote(endpoint.call_id()),
              endpoint.channel_id(), quote(name()), to_string(reason));
  if (metrics_) metrics_->ended[static_cast<std::size_t>(reason)]->inc();
  count_endpoints();
  check_drained();
}

void MediaServer::count_endpoints() {
  if (!metrics_) return;
  metrics_->endpoints->set(static_cast<double>(endpoints_.size()));
  metrics_->pending->set(static_cast<double>(pending_.size()));
}

void MediaServer::disconnect(bool destroy_endpoints) {
  if (disconnected_) return;
  auto keep = shared_from_this();
  disconnected_ = true;
  auto pending = pending_;
  for (auto& [uuid, setup] : pending) {
    fail_setup(setup, std::make_exception_ptr(MediaServerUnavailable("the media server was disconnected")));
  }
  if (destroy_endpoints) {
    for (auto& endpoint : endpoints()) endpoint->destroy();
  }
  stasis_start_.reset();
  reconcile_.reset();
  ari_state_.reset();
  health_->ping_timer.cancel();
  health_->lost_timer.cancel();
  health_->drain_timer.cancel();
  health_->retry_timer.cancel();
  auto drains = std::move(drains_);
  drains_.clear();
  for (auto& drain : drains) (*drain)(nullptr);  // out of service, as a drain wants
  set_state(ServerState::closed);
  state_signal_->close(std::make_exception_ptr(MediaServerUnavailable("the media server was disconnected")));
  ari_->close();
}

// ------------------------------------------------------------------ health

Subscription MediaServer::on_state(std::function<void(ServerState)> handler) {
  return state_signal_->connect(std::move(handler));
}

void MediaServer::set_state(ServerState state) {
  if (state == state_) return;
  auto keep = shared_from_this();
  const auto previous = state_;
  state_ = state;
  log_->log(state == ServerState::up || state == ServerState::closed ? spdlog::level::info : spdlog::level::warn,
            "event=media_server_state server={} app={} from={} to={} calls={}", quote(name()), app_,
            to_string(previous), to_string(state), active_calls());
  if (metrics_) {
    metrics_->state[static_cast<std::size_t>(previous)]->set(0);
    metrics_->state[static_cast<std::size_t>(state)]->set(1);
    metrics_->up->set(state == ServerState::up ? 1 : 0);
  }
  if (state != ServerState::up) fail_pending("the media server is " + std::string(to_string(state)));
  state_signal_->emit(state);
}

void MediaServer::fail_pending(const std::string& why) {
  auto pending = pending_;
  for (auto& [uuid, setup] : pending) fail_setup(setup, std::make_exception_ptr(MediaServerUnavailable(why)));
}

void MediaServer::on_ari_state(ari::ConnectionState state) {
  if (disconnected_) return;
  auto& health = *health_;
  if (state == ari::ConnectionState::connected) {
    ws_up_ = true;
    health.lost_timer.cancel();
    health.lost_armed = false;
    health.ping_failed = false;
    resolve_sip();
    if (!options_.instance_id.empty()) sweep_orphans();
    if (!health.pinging && options_.health.ping_interval.count() > 0) {
      health.pinging = true;
      ping();
    }
    return;
  }
  if (state == ari::ConnectionState::closed) return;
  ws_up_ = false;
  if (state_ == ServerState::up) set_state(ServerState::down);
  // A server lost for good never sends BYE for its calls: end them after a grace period, in
  // which a WebSocket that only blinked comes back (reconcile then reports what was lost).
  if (health.lost_armed || state_ == ServerState::connecting) return;
  health.lost_armed = true;
  health.lost_timer.expires_after(options_.health.calls_lost_after);
  std::weak_ptr<MediaServer> weak = weak_from_this();
  health.lost_timer.async_wait([weak](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->disconnected_ || self->ws_up_) return;
    self->health_->lost_armed = false;
    auto endpoints = self->endpoints();
    if (!endpoints.empty()) {
      self->log_->warn("event=media_server_lost server={} app={} after_ms={} calls_ended={}", quote(self->name()),
                       self->app_, self->options_.health.calls_lost_after.count(), endpoints.size());
    }
    for (auto& endpoint : endpoints) endpoint->ended(EndpointEnd::media_server_lost);
    self->lose_media_objects();  // snoops, bridges (snoop.cpp)
  });
}

// A process of the same instance_id that was killed left its channels in Stasis (Asterisk keeps
// them while the app has no WebSocket): at every connect, hang up those of our app we do not
// track. The list is read after the WebSocket is up, so a channel that enters Stasis later gets
// its own StasisStart (and the usual hangup when it is not ours).
void MediaServer::sweep_orphans() {
  std::weak_ptr<MediaServer> weak = weak_from_this();
  ari_->channels().async_list([weak](std::exception_ptr error, std::vector<ari::Channel> channels) {
    auto self = weak.lock();
    if (!self || self->disconnected_) return;
    if (error) {
      self->log_->warn("event=orphan_sweep_failed server={} app={} error={}", quote(self->name()), self->app_,
                       quote(what_of(error)));
      return;
    }
    for (auto& channel : channels) {
      const auto& plan = channel.dialplan;
      // Stasis(${EXTEN}) in the sandbox's dialplan; another dialplan may name the app in Stasis()'s data.
      const bool ours = plan.exten == self->app_ ||
                        (plan.app_name == "Stasis" && plan.app_data.starts_with(self->app_) &&
                         (plan.app_data.size() == self->app_.size() || plan.app_data[self->app_.size()] == ','));
      if (!ours || self->tracks_channel(channel)) continue;
      self->log_->warn("event=orphan_hangup server={} app={} channel_id={}", quote(self->name()), self->app_,
                       channel.id);
      if (self->metrics_) self->metrics_->orphans->inc();
      self->ari_->channels().async_hangup(
          ari::channels::Hangup{channel.id, {}, {}}, [weak, id = channel.id](std::exception_ptr failed) {
            auto server = weak.lock();
            if (!failed || !server) return;
            try {
              std::rethrow_exception(failed);
            } catch (const ari::NotFound&) {
              // Gone already.
            } catch (const std::exception& e) {
              server->log_->warn("event=orphan_hangup_failed server={} channel_id={} error={}", quote(server->name()),
                                 id, quote(e.what()));
            }
          });
    }
  });
}

bool MediaServer::tracks_channel(const ari::Channel& channel) const {
  if (endpoints_.contains(channel.id) || snoops_.contains(channel.id) || streams_.contains(channel.id)) return true;
  // A setup in flight: its StasisStart may not have come yet, but the From user is its uuid.
  if (pending_.contains(channel.caller.number)) return true;
  return std::any_of(pending_.begin(), pending_.end(),
                     [&](const auto& entry) { return entry.second->channel_id == channel.id; });
}

// Up once the WebSocket is connected, the SIP address known and the last ping answered.
void MediaServer::maybe_up() {
  if (!ws_up_ || health_->ping_failed || sip_address_.empty() || disconnected_) return;
  set_state(ServerState::up);
}

void MediaServer::resolve_sip() {
  if (is_ip_address(options_.sip.address)) {
    maybe_up();
    return;
  }
  auto& health = *health_;
  if (health.resolving) return;
  health.resolving = true;
  std::weak_ptr<MediaServer> weak = weak_from_this();
  health.resolver.async_resolve(
      options_.sip.address, [weak](std::exception_ptr error, std::vector<boost::asio::ip::address> addresses) {
        auto self = weak.lock();
        if (!self || self->disconnected_) return;
        self->health_->resolving = false;
        if (error || addresses.empty()) {
          // The last address found stays in use; without one the server waits for the next
          // try (each ping interval) before it takes calls.
          try {
            if (error) std::rethrow_exception(error);
          } catch (const std::exception& e) {
            self->log_->warn("event=sip_host_unresolved server={} host={} error={}", quote(self->name()),
                             quote(self->options_.sip.address), quote(e.what()));
          }
        } else if (self->sip_address_ != addresses.front().to_string()) {
          self->log_->info("event=sip_host_resolved server={} host={} address={}", quote(self->name()),
                           quote(self->options_.sip.address), addresses.front().to_string());
          self->sip_address_ = addresses.front().to_string();
        }
        self->maybe_up();
      });
}

void MediaServer::ping() {
  std::weak_ptr<MediaServer> weak = weak_from_this();
  auto& health = *health_;
  health.ping_timer.expires_after(options_.health.ping_interval);
  health.ping_timer.async_wait([weak](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->disconnected_) return;
    if (!self->ws_up_) {
      self->ping();  // nothing to ask while the WebSocket is down: it reconnects by itself
      return;
    }
    if (self->sip_address_.empty()) self->resolve_sip();  // the last lookup failed
    auto request = ari::make_request(ari::asterisk::Ping{});
    request.timeout = self->options_.health.ping_timeout;
    self->ari_->async_call<void>(std::move(request), [weak](std::exception_ptr error) {
      auto server = weak.lock();
      if (!server || server->disconnected_) return;
      auto& checks = *server->health_;
      if (error) {
        if (!checks.ping_failed) {
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            server->log_->warn("event=media_server_ping_failed server={} error={}", quote(server->name()),
                               quote(e.what()));
          }
        }
        checks.ping_failed = true;
        if (server->state_ == ServerState::up) server->set_state(ServerState::down);
      } else if (checks.ping_failed) {
        checks.ping_failed = false;
        server->maybe_up();
      }
      server->ping();
    });
  });
}

// Why a new setup is refused now (none: it is taken). Cheap: the pool asks every member.
MediaServer::Refusal MediaServer::refusal_kind() const noexcept {
  if (disconnected_) return Refusal::disconnected;
  if (state_ != ServerState::up) return Refusal::not_up;
  if (draining_) return Refusal::draining;
  if (pending_.size() >= options_.max_pending_setups) return Refusal::pending_setups;
  if (options_.max_calls != 0 && active_calls() >= options_.max_calls) return Refusal::calls;
  if (options_.max_queue_age > 0 && !pending_order_.empty()) {
    const auto oldest = pending_order_.front().lock();
    if (oldest && std::chrono::steady_clock::now() - oldest->started > queue_age_limit()) return Refusal::queue_age;
  }
  return Refusal::none;
}

std::chrono::milliseconds MediaServer::queue_age_limit() const noexcept {
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(options_.setup_timeout.count()) * options_.max_queue_age));
}

bool MediaServer::accepting() const noexcept { return refusal_kind() == Refusal::none; }

std::exception_ptr MediaServer::refusal() const {
  switch (refusal_kind()) {
    case Refusal::none: return nullptr;
    case Refusal::disconnected:
      return std::make_exception_ptr(MediaServerUnavailable("the media server is disconnected"));
    case Refusal::not_up:
      return std::make_exception_ptr(
          MediaServerUnavailable("media server " + app_ + " is " + std::string(to_string(state_))));
    case Refusal::draining:
      return std::make_exception_ptr(MediaServerUnavailable("media server " + app_ + " is draining"));
    case Refusal::pending_setups:
      return std::make_exception_ptr(
          MediaServerOverloaded(std::to_string(pending_.size()) + " endpoint setups already pending on " + app_));
    case Refusal::calls:
      return std::make_exception_ptr(
          MediaServerOverloaded(std::to_string(active_calls()) + " calls already on " + app_));
    case Refusal::queue_age:
      return std::make_exception_ptr(MediaServerOverloaded("the oldest endpoint setup pending on " + app_ +
                                                           " is older than " +
                                                           std::to_string(queue_age_limit().count()) + " ms"));
  }
  return nullptr;
}

// ------------------------------------------------------------------ drain

void MediaServer::start_drain(std::optional<std::chrono::milliseconds> deadline, DrainHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (disconnected_) {
    (*once)(nullptr);
    return;
  }
  once->on_cancel();
  draining_ = true;
  drains_.push_back(once);
  if (deadline) {
    std::weak_ptr<MediaServer> weak = weak_from_this();
    health_->drain_timer.expires_after(*deadline);
    health_->drain_timer.async_wait([weak](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || !self->draining_) return;
      self->fail_pending("the media server is draining");
      for (auto& endpoint : self->endpoints()) endpoint->destroy();
      self->check_drained();
    });
  }
  check_drained();
}

void MediaServer::undrain() {
  if (!draining_) return;
  draining_ = false;
  health_->drain_timer.cancel();
  auto drains = std::move(drains_);
  drains_.clear();
  for (auto& drain : drains) drain->abort();
}

void MediaServer::check_drained() {
  std::erase_if(drains_, [](const auto& drain) { return drain->done(); });  // cancelled waits
  if (!draining_ || drains_.empty() || !endpoints_.empty() || !pending_.empty()) return;
  health_->drain_timer.cancel();
  auto drains = std::move(drains_);
  drains_.clear();
  for (auto& drain : drains) (*drain)(nullptr);
}

// ------------------------------------------------------------------ setup

std::shared_ptr<MediaServer::Setup> MediaServer::begin_setup(EndpointOptions options, SetupDone done) {
  auto setup = std::make_shared<Setup>();
  setup->done = std::move(done);
  setup->call_id = std::move(options.call_id);
  while (!pending_order_.empty() && pending_order_.front().expired()) pending_order_.pop_front();
  if (auto refused = refusal()) {
    setup->finished = true;
    const auto cause = detail::cause_of(refused);
    if (metrics_) metrics_->setups[static_cast<std::size_t>(cause)]->inc();
    log_->debug("event=endpoint_refused call_id={} server={} cause={} error={}", quote(setup->call_id), quote(name()),
                detail::to_string(cause), quote(what_of(refused)));
    auto finish = std::move(setup->done);
    finish(refused, nullptr);
    return setup;
  }
  // Register before the INVITE: the StasisStart may arrive before anything else.
  setup->uuid = random_.uuid4();  // Asterisk reports it as the caller number
  setup->started = std::chrono::steady_clock::now();
  pending_[setup->uuid] = setup;
  pending_order_.push_back(setup);
  count_endpoints();
  log_->debug("event=endpoint_setup call_id={} server={} uuid={}", quote(setup->call_id), quote(name()), setup->uuid);

  std::weak_ptr<MediaServer> weak = weak_from_this();
  std::weak_ptr<Setup> weak_setup = setup;
  setup->timer = std::make_unique<boost::asio::steady_timer>(executor_, options_.setup_timeout);
  setup->timer->async_wait([weak, weak_setup, ms = options_.setup_timeout.count()](boost::system::error_code ec) {
    if (ec) return;
    auto self = weak.lock();
    auto s = weak_setup.lock();
    if (self && s) {
      self->fail_setup(s, std::make_exception_ptr(
                              MediaSetupTimeout("the endpoint was not up within " + std::to_string(ms) + " ms")));
    }
  });

  const auto& sip = options_.sip;
  const std::string host = sip_address_.find(':') != std::string::npos ? "[" + sip_address_ + "]" : sip_address_;
  std::string uri = "sip:" + app_ + "@" + host + ":" + std::to_string(sip.port);
  if (sip.transport != sip::Transport::udp) uri.append(";transport=").append(sip::uri_param(sip.transport));
  srf::UacOptions uac;
  uac.local_sdp = options.remote_sdp.empty() ? sip::sdp::make_inactive_offer(sip_address_).to_string()
                                             : std::move(options.remote_sdp);
  uac.headers.emplace_back("User-Agent", "drachtio");
  for (auto& header : options.headers) uac.headers.push_back(std::move(header));
  uac.from = "sip:" + setup->uuid + "@" + host;
  srf_.async_create_uac(
      std::move(uri), std::move(uac),
      boost::asio::bind_cancellation_slot(setup->cancel_uac.slot(),
                                          [weak, setup](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
                                            auto self = weak.lock();
                                            if (setup->finished || !self) {
                                              if (dialog) dialog->destroy();  // a late 200 OK: end it at once
                                              return;
                                            }
                                            if (error) {
                                              self->fail_setup(setup, error);
                                              return;
                                            }
                                            setup->dialog = std::move(dialog);
                                            // With answer-on-StasisStart the channel is known already; a dialplan
                                            // that answers first gets us here before the StasisStart.
                                            if (!setup->channel_id.empty()) self->finish_setup(setup);
                                          }));
  return setup;
}

void MediaServer::on_stasis_start(const ari::Event& event) {
  // Only the four fields a setup needs, found by one partial scan of the text: building the
  // event's document (or decoding the whole ari::StasisStart) cost as much as parsing it.
  static constexpr std::array<std::string_view, 4> kFields{"/channel/id", "/channel/caller/number", "/channel/name",
                                                           "/channel/protocol_id"};
  std::array<std::string, 4> fields;
  event.find_strings(kFields, fields);
  auto& [channel_id, caller_number, channel_name, protocol_id] = fields;
  if (channel_id.empty()) return;
  auto it = pending_.find(caller_number);
  if (it == pending_.end()) {
    if (accept_snoop(channel_id)) return;   // a snoop channel this server started (snoop.cpp)
    if (accept_stream(channel_id)) return;  // a stream's externalMedia channel (stream/stream.cpp)
    // Not a call of ours (or one that already failed): it must not stay in Stasis.
    ari_->channels().async_hangup(ari::channels::Hangup{std::move(channel_id), {}, {}}, [](std::exception_ptr) {});
    return;
  }
  auto setup = it->second;
  setup->channel_id = std::move(channel_id);
  setup->channel_name = std::move(channel_name);
  setup->protocol_id = std::move(protocol_id);
  if (setup->dialog) {
    finish_setup(setup);
    return;
  }
  std::weak_ptr<MediaServer> weak = weak_from_this();
  ari_->channels().async_answer(ari::channels::Answer{setup->channel_id}, [weak, setup](std::exception_ptr error) {
    if (!error) return;  // Asterisk now sends its 200 OK
    if (auto self = weak.lock()) self->fail_setup(setup, error);
  });
}

void MediaServer::finish_setup(const std::shared_ptr<Setup>& setup) {
  if (setup->finished) return;
  if (!setup->protocol_id.empty() && setup->protocol_id != setup->dialog->call_id()) {
    fail_setup(setup, std::make_exception_ptr(Error("StasisStart's protocol_id " + setup->protocol_id +
                                                    " is not the INVITE's Call-ID " + setup->dialog->call_id())));
    return;
  }
  setup->finished = true;
  pending_.erase(setup->uuid);
  if (setup->timer) setup->timer->cancel();
  std::shared_ptr<Endpoint> endpoint(new Endpoint(weak_from_this(), executor_, setup->channel_id, setup->channel_name,
                                                  setup->dialog, std::move(setup->call_id)));
  endpoint->start(*ari_);
  endpoint->answer_offers_locally();
  endpoints_[setup->channel_id] = endpoint;
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - setup->started);
  if (metrics_) {
    metrics_->setups[static_cast<std::size_t>(detail::SetupCause::none)]->inc();
    metrics_->setup_seconds->observe(took.count());
  }
  count_endpoints();
  log_->debug("event=endpoint_up call_id={} channel_id={} server={} asterisk_call_id={} setup_ms={:.1f}",
              quote(endpoint->call_id()), endpoint->channel_id(), quote(name()), quote(setup->dialog->call_id()),
              took.count() * 1000);
  auto done = std::move(setup->done);
  done(nullptr, std::move(endpoint));
  check_drained();  // a drain that began during the setup: the endpoint keeps it waiting
}

void MediaServer::fail_setup(const std::shared_ptr<Setup>& setup, std::exception_ptr error) {
  if (setup->finished) return;
  setup->finished = true;
  pending_.erase(setup->uuid);
  if (setup->timer) setup->timer->cancel();
  const auto cause = detail::cause_of(error);
  if (metrics_) metrics_->setups[static_cast<std::size_t>(cause)]->inc();
  count_endpoints();
  log_->log(cause == detail::SetupCause::cancelled ? spdlog::level::debug : spdlog::level::warn,
            "event=endpoint_setup_failed call_id={} channel_id={} server={} cause={} error={}", quote(setup->call_id),
            quote(setup->channel_id), quote(name()), detail::to_string(cause), quote(what_of(error)));
  // Undo whatever got started: the INVITE (CANCEL, or ACK + BYE for a late 200),
  // the dialog, the channel.
  setup->cancel_uac.emit(boost::asio::cancellation_type::terminal);
  if (setup->dialog) setup->dialog->destroy();
  if (!setup->channel_id.empty()) {
    ari_->channels().async_hangup(ari::channels::Hangup{setup->channel_id, {}, {}}, [](std::exception_ptr) {});
  }
  auto done = std::move(setup->done);
  done(error, nullptr);
  check_drained();
}

void MediaServer::on_reconcile(const ari::ReconcileReport& report) {
  for (const auto& id : report.lost_channels) {
    auto it = endpoints_.find(id);
    if (it == endpoints_.end()) continue;
    if (auto endpoint = it->second.lock()) endpoint->ended(EndpointEnd::media_server_lost);
  }
}

void MediaServer::start_endpoint(EndpointOptions options, EndpointHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  auto setup = begin_setup(std::move(options), [once](std::exception_ptr error, std::shared_ptr<Endpoint> endpoint) {
    (*once)(error, std::move(endpoint));
  });
  // Cancelled at any step: the setup fails as on a timeout, which undoes what it built
  // (CANCEL, or ACK + BYE for a late 200 OK, and the channel's hangup).
  once->on_cancel([abort = abort_of(setup)] { abort(astmrf::detail::operation_aborted()); });
}

std::function<void(std::exception_ptr)> MediaServer::abort_of(const std::shared_ptr<Setup>& setup) {
  std::weak_ptr<MediaServer> weak = weak_from_this();
  std::weak_ptr<Setup> weak_setup = setup;
  return [weak, weak_setup](std::exception_ptr error) {
    auto self = weak.lock();
    auto s = weak_setup.lock();
    if (self && s) self->fail_setup(s, std::move(error));
  };
}

}  // namespace astmrf::mrf
