// Private state of ari::Client.
#pragma once

#include "client_metrics.hpp"
#include "registry.hpp"
#include "transport.hpp"

#include <astmrf/ari/client.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/util/backoff.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <exception>
#include <set>
#include <string>
#include <utility>

namespace spdlog {
class logger;
}

namespace astmrf::ari::detail {

class ClientImpl : public std::enable_shared_from_this<ClientImpl> {
 public:
  ClientImpl(boost::asio::any_io_executor ex, ClientOptions opts);

  /// REST call; a status >= 400 completes with the matching ari::Error.
  void request(Request r, ResponseHandler handler);
  boost::asio::awaitable<Response> call(Request r);

  boost::asio::awaitable<void> connect_first(std::shared_ptr<ClientImpl> self);
  void close();
  void on_message(std::string_view text);
  void set_state(ConnectionState s, boost::system::error_code ec);
  void request_done(ResourceFamily family, std::chrono::steady_clock::time_point start, const std::string& method,
                    const std::string& path, const std::exception_ptr& error, unsigned status);
  void trace_event(const Event& e, std::string_view text);

  boost::asio::any_io_executor ex;
  ClientOptions opts;
  std::shared_ptr<spdlog::logger> log;
  std::string server;                      // metrics_name, or the URL's host:port (label and log field)
  std::unique_ptr<ClientMetrics> metrics;  // null: metrics off
  Shared shared;
  std::shared_ptr<Registry> registry = std::make_shared<Registry>();
  std::shared_ptr<HttpPool> pool;
  std::shared_ptr<EventSocket> ws;
  IdGenerator ids;
  ClientStats stats;
  ConnectionState state = ConnectionState::disconnected;
  bool closed = false;
  bool running = false;
  std::set<std::pair<std::string, std::string>> sources;  // (app, eventSource) to re-apply

 private:
  boost::asio::awaitable<void> open_events();
  boost::asio::awaitable<void> run_events(std::shared_ptr<ClientImpl> self);
  boost::asio::awaitable<void> reconcile(std::shared_ptr<ClientImpl> self);
  std::string events_target() const;
  std::string app_list() const;
  void forget_ended_sources(const Event& e);

  boost::asio::steady_timer backoff_;
  util::Backoff reconnect_delays_;  // of the events WebSocket
};

}  // namespace astmrf::ari::detail
