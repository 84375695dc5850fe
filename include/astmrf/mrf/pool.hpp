// MediaServerPool: several Asterisks as one. New calls go to a server that is up, not draining
// and under its limits (round robin, least active calls or weighted); a setup that fails on one
// server before the caller was answered is retried on another, so the caller hears nothing of it.
//
//   mrf::MediaServerPool pool(mrf);
//   pool.add(options_a);                        // connects in the background, joins when up
//   pool.add(options_b);
//   auto [endpoint, dialog] = co_await pool.async_connect_caller(req, res, {}, use_awaitable);
//
// The pool belongs to the Mrf's executor and owns its servers: removing one, or destroying the
// pool, disconnects them.
#pragma once

#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string_view>
#include <vector>

namespace astmrf::mrf {

/// How the pool picks a server for a new call, among those that accept calls.
enum class SelectionPolicy : std::uint8_t {
  round_robin,  ///< each in turn
  least_calls,  ///< the one with the fewest active calls (endpoints + pending setups)
  weighted,     ///< smooth weighted round robin by PoolMemberOptions::weight
};
/// The policy's name, e.g. "least_calls".
std::string_view to_string(SelectionPolicy policy) noexcept;

/// Options of a MediaServerPool.
struct PoolOptions {
  /// Which server takes a new call.
  SelectionPolicy policy{SelectionPolicy::round_robin};
  /// Further servers tried when a setup fails before the caller was answered: server down or
  /// refusing (unavailable, overloaded), ARI error, Asterisk's 5xx or no answer, setup time-out.
  /// 0: no failover. Asterisk's 4xx (e.g. 488 for an SDP it cannot take) is not retried: another
  /// Asterisk would say the same.
  unsigned failover_attempts{1};
};

/// Per-server options inside a pool (the server's own limits are in its ConnectOptions).
struct PoolMemberOptions {
  /// Its share of new calls under SelectionPolicy::weighted (at least 1).
  unsigned weight{1};
};

/// Counters of a pool (monotonic since construction).
struct PoolStats {
  std::uint64_t setups = 0;     ///< setups started through the pool
  std::uint64_t failovers = 0;  ///< setups retried on another server after a failure
  std::uint64_t refused = 0;    ///< setups that found no server able to take them
};

/// Several media servers behind one async_connect_caller / async_create_endpoint.
class MediaServerPool {
 public:
  /// On `mrf`, which must outlive the pool.
  explicit MediaServerPool(Mrf& mrf, PoolOptions options = {});
  /// Disconnects its servers (their endpoints are destroyed).
  ~MediaServerPool();
  MediaServerPool(const MediaServerPool&) = delete;
  MediaServerPool& operator=(const MediaServerPool&) = delete;

  /// Adds an Asterisk: returns its MediaServer at once (state connecting), which keeps trying to
  /// connect (ConnectOptions::reconnect delays) and takes calls once up. Bad options throw
  /// std::invalid_argument; a wrong password is logged and retried like an unreachable server.
  std::shared_ptr<MediaServer> add(ConnectOptions options, PoolMemberOptions member = {});
  /// Takes a server out of the pool and disconnects it (destroying its endpoints unless told
  /// otherwise). Drain it first (MediaServer::async_drain) to let its calls finish. False if it
  /// was not a member.
  bool remove(const std::shared_ptr<MediaServer>& server, bool destroy_endpoints = true);
  /// The members, in the order they were added.
  [[nodiscard]] std::vector<std::shared_ptr<MediaServer>> servers() const;
  /// Counters.
  [[nodiscard]] const PoolStats& stats() const noexcept { return stats_; }
  /// The options it was built with.
  [[nodiscard]] const PoolOptions& options() const noexcept { return options_; }

  /// MediaServer::async_create_endpoint on a server the policy picks, with failover. No server
  /// able to take it: MediaServerUnavailable (none up) or MediaServerOverloaded (all at a limit).
  template <typename CompletionToken>
  auto async_create_endpoint(EndpointOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::shared_ptr<Endpoint>)>(
        [this](auto handler, EndpointOptions o) { start_endpoint(std::move(o), EndpointHandler(std::move(handler))); },
        token, std::move(options));
  }

  /// MediaServer::async_connect_caller on a server the policy picks, with failover before the
  /// caller is answered. When no server can take the call the caller gets 503 with Retry-After
  /// (ConnectCallerOptions::retry_after).
  template <typename CompletionToken>
  auto async_connect_caller(srf::Request req, srf::Response res, ConnectCallerOptions options,
                            CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, ConnectedCaller)>(
        [this](auto handler, srf::Request q, srf::Response s, ConnectCallerOptions o) {
          start_connect_caller(std::move(q), std::move(s), std::move(o), CallerHandler(std::move(handler)));
        },
        token, std::move(req), std::move(res), std::move(options));
  }

 private:
  struct Member {
    std::shared_ptr<MediaServer> server;
    PoolMemberOptions options;
    long current_weight{0};  // smooth weighted round robin
  };
  struct Attempt;
  using EndpointHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Endpoint>)>;
  using CallerHandler = boost::asio::any_completion_handler<void(std::exception_ptr, ConnectedCaller)>;
  void start_endpoint(EndpointOptions options, EndpointHandler handler);
  void start_connect_caller(srf::Request req, srf::Response res, ConnectCallerOptions options, CallerHandler handler);
  // A setup with failover; returns what aborts it.
  std::function<void(std::exception_ptr)> begin_setup(EndpointOptions options, MediaServer::SetupDone done);
  void next_attempt(const std::shared_ptr<Attempt>& attempt);
  // The server for a new setup, skipping `tried`; null when none accepts.
  std::shared_ptr<MediaServer> pick(const std::vector<const MediaServer*>& tried);

  Mrf& mrf_;
  PoolOptions options_;
  std::vector<Member> members_;
  std::size_t next_{0};  // round robin position
  PoolStats stats_;
  // Lets setups in flight notice that the pool is gone.
  std::shared_ptr<MediaServerPool*> alive_;
};

}  // namespace astmrf::mrf
