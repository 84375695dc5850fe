// MediaServer: one Asterisk, one Stasis application. Endpoint setup ties an
// outgoing INVITE to the channel that StasisStart reports, in either order of
// StasisStart and 200 OK, under one deadline, and undoes everything on failure.
// Health, the orphan sweep and drain are in media_server_health.cpp.
#include "media_server_impl.hpp"
#include "telemetry.hpp"

#include <astmrf/ari/error.hpp>
#include <astmrf/ari/generated/models.hpp>
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/bridge.hpp>
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

std::string_view to_string(ServerState state) noexcept {
  switch (state) {
    case ServerState::connecting: return "connecting";
    case ServerState::up: return "up";
    case ServerState::down: return "down";
    case ServerState::closed: return "closed";
  }
  return "unknown";
}

namespace detail {

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

}  // namespace detail

using detail::is_ip_address;
using detail::what_of;
using util::quote;

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
  // Bridges made through ARI outlive the Stasis application on Asterisk: they end here (reason
  // destroyed) and are deleted before the connection closes; at once when there are none.
  std::vector<std::shared_ptr<Bridge>> bridges;
  for (auto& [id, weak] : bridges_) {
    if (auto bridge = weak.lock(); bridge && !bridge->destroyed()) bridges.push_back(std::move(bridge));
  }
  if (bridges.empty()) {
    ari_->close();
    return;
  }
  auto left = std::make_shared<std::size_t>(bridges.size());
  for (auto& bridge : bridges) {
    bridge->ended(BridgeEnd::destroyed, false);
    // Each DELETE ends within ARI's request_timeout, so the close is never held for long.
    ari_->bridges().async_destroy(ari::bridges::Destroy{bridge->id()}, [keep, left](std::exception_ptr) {
      if (--*left == 0) keep->ari_->close();
    });
  }
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
