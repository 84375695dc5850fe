// Snoop channels and supervision. A snoop channel gets our own id (snoopId) so that its
// StasisStart, which may come before the answer to the POST, is recognised by the server
// (accept_snoop) instead of being hung up as a stranger; the creation completes once both
// the answer and the StasisStart are in (a bridge takes only channels in Stasis).
#include <astmrf/ari/generated/models.hpp>
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/snoop.hpp>
#include <astmrf/util/log.hpp>

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace astmrf::mrf {

std::string_view to_string(SnoopDirection direction) noexcept {
  switch (direction) {
    case SnoopDirection::none: return "none";
    case SnoopDirection::in: return "in";
    case SnoopDirection::out: return "out";
    case SnoopDirection::both: return "both";
  }
  return "none";
}

std::string_view to_string(SuperviseMode mode) noexcept {
  switch (mode) {
    case SuperviseMode::listen: return "listen";
    case SuperviseMode::whisper: return "whisper";
    case SuperviseMode::barge: return "barge";
  }
  return "unknown";
}

// ------------------------------------------------------------------ Snoop

Snoop::Snoop(std::weak_ptr<MediaServer> server, std::weak_ptr<Endpoint> target, std::string channel_id,
             SnoopOptions options)
    : server_(std::move(server)), target_(std::move(target)), channel_id_(std::move(channel_id)), options_(options) {}

Snoop::~Snoop() {
  auto server = server_.lock();
  if (!server) return;
  if (auto it = server->snoops_.find(channel_id_); it != server->snoops_.end() && it->second.expired()) {
    server->snoops_.erase(it);
  }
  if (ended_) return;
  events_.reset();
  server->ari().channels().async_hangup(ari::channels::Hangup{channel_id_, {}, {}}, [](std::exception_ptr) {});
}

void Snoop::started() {
  in_stasis_ = true;
  if (auto f = std::move(on_started_)) {
    on_started_ = nullptr;
    f();
  }
}

void Snoop::destroy() { ended(true); }

void Snoop::ended(bool hang_up) {
  if (ended_) return;
  ended_ = true;
  events_.reset();
  target_end_.reset();
  on_started_ = nullptr;
  auto server = server_.lock();
  if (!server) return;
  server->log_->debug("event=snoop_ended channel_id={} server={}", channel_id_, util::quote(server->name()));
  server->snoops_.erase(channel_id_);
  if (hang_up) {
    server->ari().channels().async_hangup(ari::channels::Hangup{channel_id_, {}, {}}, [](std::exception_ptr) {});
  }
}

void MediaServer::lose_media_objects() {
  auto snoops = snoops_;
  for (auto& [id, weak] : snoops) {
    if (auto snoop = weak.lock()) snoop->ended(false);
  }
  lose_streams();
  auto bridges = bridges_;
  for (auto& [id, weak] : bridges) {
    if (auto bridge = weak.lock()) bridge->ended(BridgeEnd::media_server_lost, false);
  }
}

bool MediaServer::accept_snoop(const std::string& channel_id) {
  auto it = snoops_.find(channel_id);
  if (it == snoops_.end()) return false;
  auto snoop = it->second.lock();
  if (!snoop || snoop->destroyed()) return false;  // given up already: hung up as a stranger
  snoop->started();
  return true;
}

void Endpoint::start_snoop(SnoopOptions options, SnoopHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (options.spy == SnoopDirection::none && options.whisper == SnoopDirection::none) {
    (*once)(std::make_exception_ptr(std::invalid_argument("snoop: spy and whisper are both none")), nullptr);
    return;
  }
  if (end_.ended()) {
    (*once)(std::make_exception_ptr(CallEnded(end_.value())), nullptr);
    return;
  }
  auto server = server_.lock();
  if (!server || !server->connected()) {
    (*once)(std::make_exception_ptr(MediaServerUnavailable("the media server is gone")), nullptr);
    return;
  }
  auto& client = server->ari();
  std::shared_ptr<Snoop> snoop(new Snoop(server, weak_from_this(), client.make_id("snoop"), options));
  server->snoops_[snoop->channel_id_] = snoop;
  std::weak_ptr<Snoop> weak = snoop;
  snoop->events_ = client.subscribe(
      ari::ResourceKind::channel, snoop->channel_id_,
      [weak](const ari::Event& event) {
        if (event.type() != ari::EventType::stasis_end && event.type() != ari::EventType::channel_destroyed) return;
        if (auto self = weak.lock()) self->ended(false);
      },
      [weak](ari::EndReason) {
        if (auto self = weak.lock()) self->ended(false);
      });
  // The target's end ends the snoop (Asterisk hangs it up too; this makes it prompt).
  snoop->target_end_ = on_destroyed([weak](const EndpointEnd&) {
    if (auto self = weak.lock()) self->ended(true);
  });
  // Done when both the answer and the StasisStart are in; the timer bounds the wait.
  struct Pending {
    explicit Pending(const boost::asio::any_io_executor& executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    bool answered{false};
  };
  auto pending = std::make_shared<Pending>(executor_);
  auto finish = [once, snoop, pending](std::exception_ptr error) {
    pending->timer.cancel();
    if (once->done()) return;
    if (error) {
      snoop->ended(true);
      (*once)(error, nullptr);
      return;
    }
    (*once)(nullptr, snoop);
  };
  std::weak_ptr<Pending> weak_pending = pending;
  snoop->on_started_ = [weak_pending, finish] {
    auto p = weak_pending.lock();
    if (p && p->answered) finish(nullptr);
  };
  pending->timer.expires_after(server->options().setup_timeout);
  pending->timer.async_wait([finish, ms = server->options().setup_timeout.count()](boost::system::error_code ec) {
    if (ec) return;
    finish(std::make_exception_ptr(
        MediaSetupTimeout("the snoop channel was not in Stasis within " + std::to_string(ms) + " ms")));
  });
  once->on_cancel([weak] {
    if (auto self = weak.lock()) self->ended(true);
  });
  server->log_->debug("event=snoop_create call_id={} channel_id={} snoop_id={} spy={} whisper={}",
                      util::quote(call_id_), channel_id_, snoop->channel_id_, to_string(options.spy),
                      to_string(options.whisper));
  const ari::channels::SnoopChannelWithId params{
      .channel_id = channel_id_,
      .snoop_id = snoop->channel_id_,
      .app = server->app(),
      .spy = std::string(to_string(options.spy)),
      .whisper = std::string(to_string(options.whisper)),
      .app_args = "astmrf-snoop",
  };
  std::weak_ptr<Endpoint> weak_self = weak_from_this();
  client.channels().async_snoop_channel_with_id(
      params, [finish, pending, weak, weak_self](std::exception_ptr error, ari::Channel) {
        if (error) {
          auto self = weak_self.lock();
          if (!self || self->destroyed())
            error = std::make_exception_ptr(CallEnded(self ? self->end_reason() : std::nullopt));
          finish(error);
          return;
        }
        pending->answered = true;
        auto s = weak.lock();
        if (s && s->in_stasis_) finish(nullptr);
        if (s && s->destroyed()) finish(std::make_exception_ptr(CallEnded()));
      });
}

void Bridge::start_add_snoop(std::shared_ptr<Snoop> snoop, MemberOptions options, VoidHandler handler) {
  if (!snoop || snoop->destroyed()) {
    (*astmrf::detail::make_once(std::move(handler), executor_))(
        std::make_exception_ptr(std::invalid_argument("bridge add: no snoop, or it has ended")));
    return;
  }
  if (snoop->media_server() != server_.lock()) {
    (*astmrf::detail::make_once(std::move(handler), executor_))(
        std::make_exception_ptr(std::invalid_argument("bridge add: the snoop is on another media server")));
    return;
  }
  add_channels({snoop->channel_id()}, std::move(options), {}, std::move(handler));
}

// ------------------------------------------------------------------ Supervision

SnoopOptions Supervision::options_of(SuperviseMode mode) noexcept {
  switch (mode) {
    case SuperviseMode::listen: return {SnoopDirection::both, SnoopDirection::none};
    case SuperviseMode::whisper: return {SnoopDirection::both, SnoopDirection::out};
    case SuperviseMode::barge: return {SnoopDirection::both, SnoopDirection::both};
  }
  return {};
}

Supervision::~Supervision() { end(); }

void Supervision::end() {
  agent_end_.reset();
  if (snoop_) snoop_->destroy();
  if (bridge_) bridge_->destroy();
}

bool Supervision::ended() const noexcept { return !bridge_ || bridge_->destroyed(); }

void start_supervise(
    std::shared_ptr<Endpoint> agent, std::shared_ptr<Endpoint> supervisor, SuperviseMode mode,
    boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Supervision>)> handler) {
  auto server = agent ? agent->media_server() : nullptr;
  if (!server && supervisor) server = supervisor->media_server();
  // Nothing to run on without a server: a programming error, thrown at once.
  if (!server) throw std::invalid_argument("supervise: no agent, or its media server is gone");
  auto once = astmrf::detail::make_once(std::move(handler), server->ari().get_executor());
  if (!agent || agent->media_server() != server || !supervisor || supervisor == agent ||
      supervisor->media_server() != server) {
    (*once)(std::make_exception_ptr(std::invalid_argument(
                "supervise: the supervisor must be another endpoint on the agent's media server")),
            nullptr);
    return;
  }
  std::shared_ptr<Supervision> supervision(new Supervision());
  supervision->mode_ = mode;
  supervision->agent_ = agent;
  supervision->supervisor_ = supervisor;
  supervision->executor_ = server->ari().get_executor();
  std::weak_ptr<Supervision> weak = supervision;
  supervision->agent_end_ = agent->on_destroyed([weak](const EndpointEnd&) {
    if (auto self = weak.lock()) self->end();
  });
  once->on_cancel();
  // snoop → bridge → snoop in it → supervisor in it. Dropped on a failure (or a cancel), the
  // supervision takes down what it holds.
  agent->async_snoop(Supervision::options_of(mode), [once, supervision, server, supervisor](
                                                        std::exception_ptr error, std::shared_ptr<Snoop> snoop) {
    if (once->done()) return;
    if (error) return (*once)(error, nullptr);
    supervision->snoop_ = std::move(snoop);
    server->async_create_bridge(
        BridgeOptions{
            .type = BridgeType::mixing, .name = "supervision", .destroy_when_empty = true, .dtmf_events = false},
        [once, supervision, supervisor](std::exception_ptr bridge_error, std::shared_ptr<Bridge> bridge) {
          if (once->done()) return;
          if (bridge_error) return (*once)(bridge_error, nullptr);
          supervision->bridge_ = bridge;
          bridge->async_add(supervision->snoop_, {}, [once, supervision, supervisor](std::exception_ptr add_error) {
            if (once->done()) return;
            if (add_error) return (*once)(add_error, nullptr);
            supervision->bridge_->async_add(supervisor, {}, [once, supervision](std::exception_ptr supervisor_error) {
              if (supervisor_error) return (*once)(supervisor_error, nullptr);
              (*once)(nullptr, supervision);
            });
          });
        });
  });
}

void Supervision::start_set_mode(SuperviseMode mode, VoidHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  auto agent = agent_.lock();
  if (!agent || agent->destroyed()) {
    (*once)(std::make_exception_ptr(CallEnded(agent ? agent->end_reason() : std::nullopt)));
    return;
  }
  if (!bridge_ || bridge_->destroyed()) {
    (*once)(std::make_exception_ptr(BridgeEnded(bridge_ ? bridge_->end_reason() : std::nullopt)));
    return;
  }
  if (mode == mode_ && snoop_ && !snoop_->destroyed()) {
    (*once)(nullptr);
    return;
  }
  once->on_cancel();
  std::weak_ptr<Supervision> weak = weak_from_this();
  // The new snoop joins before the old one goes: the supervisor keeps hearing the call.
  agent->async_snoop(options_of(mode), [once, weak, mode](std::exception_ptr error, std::shared_ptr<Snoop> snoop) {
    auto self = weak.lock();
    if (once->done()) return;
    if (error) return (*once)(error);
    if (!self || !self->bridge_) return (*once)(std::make_exception_ptr(BridgeEnded()));
    self->bridge_->async_add(snoop, {}, [once, weak, mode, snoop](std::exception_ptr add_error) {
      auto me = weak.lock();
      if (add_error || !me) {
        snoop->destroy();
        return (*once)(add_error ? add_error : std::make_exception_ptr(BridgeEnded()));
      }
      auto old = std::exchange(me->snoop_, snoop);
      if (old) old->destroy();
      me->mode_ = mode;
      (*once)(nullptr);
    });
  });
}

}  // namespace astmrf::mrf
