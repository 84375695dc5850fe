// MediaServer's health: the events WebSocket's state plus periodic pings decide whether the
// server takes new setups; a WebSocket down for HealthOptions::calls_lost_after ends the
// server's calls. Also the orphan sweep at each connect, and drain.
#include "media_server_impl.hpp"
#include "telemetry.hpp"

#include <astmrf/ari/error.hpp>
#include <astmrf/ari/generated/models.hpp>
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/util/log.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

namespace astmrf::mrf {

using detail::is_ip_address;
using detail::what_of;
using util::quote;

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

}  // namespace astmrf::mrf
