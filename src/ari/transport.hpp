// The two Beast-based transports, behind small interfaces so that only http_pool.cpp and
// event_socket.cpp compile Beast (they are the expensive translation units).
#pragma once

#include <astmrf/ari/options.hpp>
#include <astmrf/ari/request.hpp>
#include <astmrf/util/resolver.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio::ssl {
class context;
}

namespace astmrf::ari::detail {

/// Where Asterisk is, parsed from ClientOptions::url.
struct Target {
  std::string host;  // without [ ] for IPv6; resolved at every connect, sent as SNI
  std::string port;
  std::uint16_t port_number = 0;
  bool tls = false;
  std::string base_path;    // "/ari"
  std::string host_header;  // "host:port"
};

/// Parses "http(s)://host[:port][/ari]"; throws std::invalid_argument (never echoing credentials).
Target parse_target(std::string_view url);

/// Throws the TransportError of a failed resolution of `host` ("cannot resolve <host>: <why>"):
/// `error` is what util::Resolver completed with (a ResolveError, or operation_aborted).
[[noreturn]] void throw_resolve_error(const std::exception_ptr& error, const std::string& host, std::string method,
                                      std::string path);

using ResponseHandler = boost::asio::any_completion_handler<void(std::exception_ptr, Response)>;

struct Shared {
  boost::asio::any_io_executor executor;
  Target target;
  std::shared_ptr<boost::asio::ssl::context> tls;  // null for http
  std::string authorization;                       // "Basic ..."; never logged
  std::shared_ptr<const ClientOptions> options;    // a copy: transports may outlive the client
  std::shared_ptr<util::Resolver> resolver;        // the client's one resolver, shared with the transports
};

/// Keep-alive HTTP/1.1 connections used concurrently (up to pool_size), with per-request deadlines.
class HttpPool {
 public:
  virtual ~HttpPool() = default;
  /// Completes with the response whatever its status, or with a TransportError.
  virtual void request(Request request, ResponseHandler handler) = 0;
  virtual void close() = 0;
  virtual std::size_t open_connections() const noexcept = 0;
};
std::shared_ptr<HttpPool> make_http_pool(const Shared& shared);

/// One events WebSocket connection.
class EventSocket {
 public:
  virtual ~EventSocket() = default;
  /// Connects and upgrades; completes with AuthenticationError on 401, another Error on a refused
  /// upgrade, TransportError on I/O failure or timeout.
  virtual void connect(std::string target, boost::asio::any_completion_handler<void(std::exception_ptr)> handler) = 0;
  /// Reads messages until the connection fails or closes, calling on_message for each.
  virtual void run(std::function<void(std::string_view)> on_message,
                   boost::asio::any_completion_handler<void(boost::system::error_code)> handler) = 0;
  virtual void close() = 0;
};
std::shared_ptr<EventSocket> make_event_socket(const Shared& shared);

}  // namespace astmrf::ari::detail
