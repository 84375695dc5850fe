// MediaServerPool: picks a server per setup and retries a failed setup on another one while the
// caller has heard nothing yet. The servers do the work; the pool only chooses and retries.
#include "telemetry.hpp"

#include <astmrf/ari/error.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/pool.hpp>
#include <astmrf/util/log.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace astmrf::mrf {

std::string_view to_string(SelectionPolicy policy) noexcept {
  switch (policy) {
    case SelectionPolicy::round_robin: return "round_robin";
    case SelectionPolicy::least_calls: return "least_calls";
    case SelectionPolicy::weighted: return "weighted";
  }
  return "unknown";
}

namespace {

// Whether another server may do better: the server itself failed (down, refusing, ARI error,
// 5xx, no answer, time-out). The caller's CANCEL, the application's cancellation and Asterisk's
// 4xx about the offer are final.
bool worth_another_server(const std::exception_ptr& error) {
  if (astmrf::detail::is_operation_aborted(error)) return false;
  try {
    std::rethrow_exception(error);
  } catch (const srf::RequestCancelled&) {
    return false;
  } catch (const srf::SipFailure& failure) {
    return failure.local() || failure.status() >= 500 || failure.status() == 408;
  } catch (const mrf::CallEnded&) {
    return false;
  } catch (const mrf::Error&) {
    return true;  // unavailable, overloaded, setup time-out, a channel that did not match
  } catch (const ari::Error&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

struct MediaServerPool::Attempt {
  EndpointOptions options;
  MediaServer::SetupDone done;
  std::vector<const MediaServer*> tried;
  unsigned retries_left{0};
  std::function<void(std::exception_ptr)> abort_current;
  std::uint64_t generation{0};  // which setup abort_current belongs to
  bool finished{false};
  std::exception_ptr last_error;

  void finish(std::exception_ptr error, std::shared_ptr<Endpoint> endpoint) {
    if (finished) return;
    finished = true;
    abort_current = nullptr;
    auto d = std::move(done);
    d(std::move(error), std::move(endpoint));
  }
};

MediaServerPool::MediaServerPool(Mrf& mrf, PoolOptions options)
    : mrf_(mrf), options_(options), alive_(std::make_shared<MediaServerPool*>(this)) {}

MediaServerPool::~MediaServerPool() {
  alive_.reset();  // setups that fail from here on are not retried
  auto members = std::move(members_);
  members_.clear();
  for (auto& member : members) member.server->disconnect(true);
}

std::shared_ptr<MediaServer> MediaServerPool::add(ConnectOptions options, PoolMemberOptions member) {
  if (member.weight == 0) throw std::invalid_argument("mrf: a pool member's weight must be at least 1");
  auto server = mrf_.make_server(std::move(options));
  members_.push_back(Member{server, member, 0});
  std::weak_ptr<MediaServer> weak = server;
  server->start(true, [weak](std::exception_ptr error) {
    auto self = weak.lock();
    if (!error || !self || astmrf::detail::is_operation_aborted(error)) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      self->log_->error("event=media_server_gave_up server={} app={} error={}", util::quote(self->name()), self->app(),
                        util::quote(e.what()));
    }
  });
  return server;
}

bool MediaServerPool::remove(const std::shared_ptr<MediaServer>& server, bool destroy_endpoints) {
  auto it = std::find_if(members_.begin(), members_.end(), [&](const Member& m) { return m.server == server; });
  if (it == members_.end()) return false;
  members_.erase(it);
  if (next_ >= members_.size()) next_ = 0;
  server->disconnect(destroy_endpoints);
  return true;
}

std::vector<std::shared_ptr<MediaServer>> MediaServerPool::servers() const {
  std::vector<std::shared_ptr<MediaServer>> out;
  out.reserve(members_.size());
  for (const auto& member : members_) out.push_back(member.server);
  return out;
}

std::shared_ptr<MediaServer> MediaServerPool::pick(const std::vector<const MediaServer*>& tried) {
  const auto n = members_.size();
  auto usable = [&](const Member& m) {
    return m.server->accepting() && std::find(tried.begin(), tried.end(), m.server.get()) == tried.end();
  };
  Member* chosen = nullptr;
  switch (options_.policy) {
    case SelectionPolicy::round_robin:
      for (std::size_t i = 0; i < n && !chosen; ++i) {
        const auto index = (next_ + i) % n;
        if (usable(members_[index])) {
          chosen = &members_[index];
          next_ = (index + 1) % n;
        }
      }
      break;
    case SelectionPolicy::least_calls: {
      // Ties go round robin, so that an idle pool still spreads its calls.
      std::size_t best = std::numeric_limits<std::size_t>::max();
      std::size_t best_index = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const auto index = (next_ + i) % n;
        auto& m = members_[index];
        if (usable(m) && m.server->active_calls() < best) {
          best = m.server->active_calls();
          chosen = &m;
          best_index = index;
        }
      }
      if (chosen) next_ = (best_index + 1) % n;
      break;
    }
    case SelectionPolicy::weighted: {
      // Smooth weighted round robin: every usable member gains its weight, the richest is chosen
      // and pays the total; a 5:1:1 pool goes a a b a c a a, not a a a a a b c.
      long total = 0;
      for (auto& m : members_) {
        if (!usable(m)) continue;
        m.current_weight += static_cast<long>(m.options.weight);
        total += static_cast<long>(m.options.weight);
        if (!chosen || m.current_weight > chosen->current_weight) chosen = &m;
      }
      if (chosen) chosen->current_weight -= total;
      break;
    }
  }
  return chosen ? chosen->server : nullptr;
}

std::function<void(std::exception_ptr)> MediaServerPool::begin_setup(EndpointOptions options,
                                                                     MediaServer::SetupDone done) {
  ++stats_.setups;
  auto attempt = std::make_shared<Attempt>();
  attempt->options = std::move(options);
  attempt->done = std::move(done);
  attempt->retries_left = options_.failover_attempts;
  next_attempt(attempt);
  std::weak_ptr<Attempt> weak = attempt;
  return [weak](std::exception_ptr error) {
    auto a = weak.lock();
    if (!a || a->finished) return;
    a->retries_left = 0;  // the caller's CANCEL or the application's cancellation: final
    auto abort = a->abort_current;
    if (abort) abort(error);    // the server's setup fails with `error`, which is final
    a->finish(error, nullptr);  // in case no setup was in flight
  };
}

void MediaServerPool::next_attempt(const std::shared_ptr<Attempt>& attempt) {
  auto server = pick(attempt->tried);
  if (!server) {
    if (attempt->last_error) {
      attempt->finish(attempt->last_error, nullptr);  // the last server's own reason
      return;
    }
    ++stats_.refused;
    if (mrf_.telemetry_->pool_refused) mrf_.telemetry_->pool_refused->inc();
    const bool any_up = std::any_of(members_.begin(), members_.end(), [](const Member& m) {
      return m.server->state() == ServerState::up && !m.server->draining();
    });
    attempt->finish(any_up ? std::make_exception_ptr(MediaServerOverloaded("every media server is at a limit"))
                           : std::make_exception_ptr(MediaServerUnavailable("no media server is up")),
                    nullptr);
    return;
  }
  attempt->tried.push_back(server.get());
  const auto generation = ++attempt->generation;
  std::weak_ptr<MediaServerPool*> alive = alive_;
  auto setup = server->begin_setup(
      attempt->options, [attempt, alive, generation](std::exception_ptr error, std::shared_ptr<Endpoint> endpoint) {
        if (attempt->finished) {
          if (endpoint) endpoint->destroy();
          return;
        }
        if (!error) {
          attempt->finish(nullptr, std::move(endpoint));
          return;
        }
        auto pool = alive.lock();
        if (!pool || attempt->retries_left == 0 || generation != attempt->generation || !worth_another_server(error)) {
          attempt->finish(error, nullptr);
          return;
        }
        --attempt->retries_left;
        attempt->last_error = error;
        ++(*pool)->stats_.failovers;
        const auto& telemetry = *(*pool)->mrf_.telemetry_;
        if (telemetry.failovers) telemetry.failovers->inc();
        std::string what;
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        }
        telemetry.log->info("event=failover call_id={} from={} cause={} error={}",
                            util::quote(attempt->options.call_id), util::quote(attempt->tried.back()->name()),
                            detail::to_string(detail::cause_of(error)), util::quote(what));
        (*pool)->next_attempt(attempt);
      });
  // A setup refused at once has already moved on (or finished): keep the newer abort.
  if (generation == attempt->generation && !attempt->finished) attempt->abort_current = server->abort_of(setup);
}

void MediaServerPool::start_endpoint(EndpointOptions options, EndpointHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), mrf_.srf_.get_executor());
  auto abort = begin_setup(std::move(options), [once](std::exception_ptr error, std::shared_ptr<Endpoint> endpoint) {
    (*once)(error, std::move(endpoint));
  });
  once->on_cancel([abort] { abort(astmrf::detail::operation_aborted()); });
}

void MediaServerPool::start_connect_caller(srf::Request req, srf::Response res, ConnectCallerOptions options,
                                           CallerHandler handler) {
  std::weak_ptr<MediaServerPool*> alive = alive_;
  auto starter = [alive](EndpointOptions endpoint_options,
                         MediaServer::SetupDone done) -> std::function<void(std::exception_ptr)> {
    auto pool = alive.lock();
    if (!pool) {
      done(std::make_exception_ptr(MediaServerUnavailable("the media server pool is gone")), nullptr);
      return [](std::exception_ptr) {};
    }
    return (*pool)->begin_setup(std::move(endpoint_options), std::move(done));
  };
  MediaServer::connect_caller(mrf_.srf_.get_executor(), mrf_.srf_, std::move(req), std::move(res), std::move(options),
                              std::move(starter), std::move(handler), mrf_.telemetry_);
}

}  // namespace astmrf::mrf
