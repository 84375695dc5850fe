// MediaServer's private parts, shared by media_server.cpp (lifecycle, endpoint setup) and
// media_server_health.cpp (health, the orphan sweep, drain).
#pragma once

#include <astmrf/mrf/mrf.hpp>
#include <astmrf/util/backoff.hpp>
#include <astmrf/util/resolver.hpp>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>

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

namespace detail {

// The message of an exception, or empty.
std::string what_of(const std::exception_ptr& error);

// True when `host` is an IP address literal (no DNS needed).
bool is_ip_address(const std::string& host);

}  // namespace detail

}  // namespace astmrf::mrf
