// The drachtio-server backend: Srf over drachtio-server's TCP/TLS wire protocol
// (v0.9.x), for teams that already run drachtio-server.
//
// Inbound mode: the application connects to one or more drachtio-servers
// (make_backend), authenticates, and routes the methods Srf handles.
// Outbound mode: drachtio-server connects to the application (make_listener).
// Either way the result is a SignalingBackend for `Srf(backend)`; application
// code is the same as on the embedded engine. docs/drachtio.md has the details.
//
// Every object belongs to its executor, which must not run handlers concurrently
// (one io_context thread, or a strand).
#pragma once

#include <astmrf/srf/backend.hpp>
#include <astmrf/srf/errors.hpp>
#include <astmrf/util/backoff.hpp>
#include <astmrf/util/observability_fwd.hpp>
#include <astmrf/util/tls.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::srf::drachtio {

/// Where a drachtio-server listens for applications (its "admin" port).
struct ServerAddress {
  std::string host;          ///< name or address of drachtio-server
  std::uint16_t port{9022};  ///< its application port
  std::string secret;        ///< the shared secret of `authenticate`
};

/// "host:port:secret" or "[ipv6]:port:secret" (the secret may itself contain ':'); throws
/// std::invalid_argument.
ServerAddress parse_server_address(std::string_view spec);

/// How a TLS connection to drachtio-server is verified (the same type as ari::TlsOptions).
using TlsOptions = util::TlsOptions;

/// Reconnection after a lost connection: retried forever, exponential, capped, jittered
/// (the same type as ari::BackoffOptions).
using BackoffOptions = util::BackoffOptions;

/// Inbound mode: which drachtio-servers to connect to, and how.
struct Options {
  ServerAddress server;  ///< the (first) drachtio-server

  /// More drachtio-servers served by the same Srf (same tags, TLS and timers).
  std::vector<ServerAddress> additional_servers;
  std::vector<std::string> tags;  ///< sent with `authenticate`
  bool tls{false};                ///< TLS on every connection, reconnections included
  TlsOptions tls_options;         ///< verification when `tls` is set

  /// Keep-alive: a `ping` this often; 0 disables it.
  std::chrono::milliseconds ping_interval{30'000};
  /// A ping unanswered for this long closes the connection (then reconnects).
  std::chrono::milliseconds ping_timeout{10'000};
  /// How long async_connect waits for every server (the backend keeps trying after).
  std::chrono::milliseconds connect_timeout{10'000};
  BackoffOptions backoff;  ///< reconnection delays

  /// Subscribe to cdr:attempt, cdr:start and cdr:stop (see Backend::on_cdr).
  bool cdrs{false};
  /// Frames larger than this are a protocol error (the connection is closed and reopened).
  std::size_t max_frame_bytes{1024 * 1024};
  /// Where the backend's metrics go: `astmrf_drachtio_connected` (connections ready: 0/1 with
  /// one server), `astmrf_drachtio_reconnects_total`, `astmrf_drachtio_frames_total{direction}`.
  /// Null: no metrics. Include <astmrf/util/metrics.hpp> to make one.
  std::shared_ptr<util::metrics::Registry> metrics{};
  /// Where the backend logs (info: connected, disconnected, reconnecting, with the server's
  /// address; trace: every frame, the secret and Authorization values redacted). Null:
  /// spdlog's default logger.
  std::shared_ptr<spdlog::logger> logger{};
};

/// The secret was refused (`NO|incorrect secret`). Final: never retried.
class AuthenticationFailed : public Error {
 public:
  /// `server_message`: drachtio's reason ("incorrect secret").
  explicit AuthenticationFailed(const std::string& server_message)
      : Error("drachtio-server refused the secret: " + server_message) {}
};

/// async_connect: not every server was reachable in time (retries go on).
class ConnectTimeout : public Error {
 public:
  /// `what`: which servers were not ready.
  explicit ConnectTimeout(const std::string& what) : Error(what) {}
};

/// The backend was closed.
class BackendClosed : public Error {
 public:
  BackendClosed() : Error("the drachtio backend is closed") {}
};

/// Where one connection to drachtio-server stands.
enum class ConnectionState : std::uint8_t {
  connecting,  ///< TCP (and TLS) set-up or waiting for the reconnect delay
  authenticating,
  ready,         ///< authenticated; its routes sent
  disconnected,  ///< lost; a reconnection is scheduled
  auth_failed,   ///< final
  closed,        ///< close() or an outbound connection ended
};
/// "connecting", "authenticating", "ready", "disconnected", "auth_failed" or "closed".
std::string_view to_string(ConnectionState state) noexcept;

/// Every state change of every connection: nothing is lost silently.
struct ConnectionEvent {
  std::string server;                                  ///< "host:port"
  ConnectionState state{ConnectionState::connecting};  ///< the new state
  std::string detail;                                  ///< why (error text, server version...)
};

/// A call detail record as drachtio-server sends it (Options::cdrs).
struct Cdr {
  std::string type;     ///< "cdr:attempt", "cdr:start" or "cdr:stop"
  std::string source;   ///< "network" or "application"
  std::string time;     ///< time of day, as drachtio writes it (HH:MM:SS.micro)
  std::string extra;    ///< cdr:start: role ("uas"/"uac"); cdr:stop: reason ("normal-release"...)
  std::string message;  ///< the SIP message (INVITE, 200 OK or BYE)
};

/// A SignalingBackend over drachtio-server connections (give it to `Srf`).
class Backend : public SignalingBackend {
 public:
  /// Completes when every server has accepted the secret (routes are sent right
  /// after, ahead of any request the server could deliver). Fails with
  /// AuthenticationFailed (final), ConnectTimeout or BackendClosed. Cancelling it
  /// ends the wait (operation_aborted); the connections keep trying.
  template <typename CompletionToken>
  auto async_connect(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler) { start_connect(ConnectHandler(std::move(handler))); }, token);
  }
  /// Closes every connection; no reconnection. Pending requests get a local 503.
  virtual void close() = 0;
  /// Every connection state change (see ConnectionEvent).
  virtual void on_event(std::function<void(const ConnectionEvent&)> handler) = 0;
  /// The CDRs drachtio sends (Options::cdrs).
  virtual void on_cdr(std::function<void(const Cdr&)> handler) = 0;
  /// The state of every connection, in Options order (outbound: accepted ones).
  [[nodiscard]] virtual std::vector<ConnectionState> states() const = 0;

 protected:
  /// The type-erased handler of async_connect.
  using ConnectHandler = boost::asio::any_completion_handler<void(std::exception_ptr)>;
  /// The body of async_connect.
  virtual void start_connect(ConnectHandler handler) = 0;
};

/// Inbound mode: connects to options.server (and additional_servers).
std::shared_ptr<Backend> make_backend(boost::asio::any_io_executor executor, Options options);

/// Outbound mode: drachtio-server connects here (its <request-handlers> route
/// to this address). Each accepted connection is authenticated with `secret`.
struct ListenerOptions {
  std::string host{"127.0.0.1"};             ///< address to listen on
  std::uint16_t port{0};                     ///< 0: an ephemeral port (see Listener::port)
  std::string secret;                        ///< sent with `authenticate` on each connection
  std::vector<std::string> tags;             ///< sent with `authenticate`
  std::size_t max_frame_bytes{1024 * 1024};  ///< a bigger frame closes that connection
  /// Where the backend's metrics go: `astmrf_drachtio_connected` (connections ready: 0/1 with
  /// one server), `astmrf_drachtio_reconnects_total`, `astmrf_drachtio_frames_total{direction}`.
  /// Null: no metrics. Include <astmrf/util/metrics.hpp> to make one.
  std::shared_ptr<util::metrics::Registry> metrics{};
  /// Where the backend logs (info: connected, disconnected, reconnecting, with the server's
  /// address; trace: every frame, the secret and Authorization values redacted). Null:
  /// spdlog's default logger.
  std::shared_ptr<spdlog::logger> logger{};
};

/// Outbound mode: a Backend whose connections are opened by drachtio-server.
class Listener : public Backend {
 public:
  /// The port it listens on (the ephemeral one when ListenerOptions::port was 0).
  [[nodiscard]] virtual std::uint16_t port() const = 0;
};

/// Binds at once (throws boost::system::system_error when it cannot); async_connect
/// completes immediately.
std::shared_ptr<Listener> make_listener(boost::asio::any_io_executor executor, ListenerOptions options);

}  // namespace astmrf::srf::drachtio
