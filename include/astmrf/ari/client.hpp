// astmrf::ari::Client: REST over a keep-alive connection pool, the events WebSocket with
// reconnect + reconcile, and dispatch of events by resource id.
//
// Threading: a Client belongs to the executor given at construction (an io_context run by one
// thread, or a strand). Call its member functions from that executor only; it starts no thread.
// Every asynchronous operation takes an Asio completion token (callback, use_awaitable, use_future,
// deferred...). Every operation completes with `(std::exception_ptr[, T])`: REST calls with an
// ari::Error subclass, waits with an ari::WaitError; a cancelled operation (its token's
// cancellation slot emitted) with a boost::system::system_error of operation_aborted.
#pragma once

#include <astmrf/ari/error.hpp>
#include <astmrf/ari/event.hpp>
#include <astmrf/ari/ids.hpp>
#include <astmrf/ari/media_socket.hpp>
#include <astmrf/ari/options.hpp>
#include <astmrf/ari/request.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace astmrf::ari {

class AsteriskApi;
class EndpointsApi;
class ChannelsApi;
class BridgesApi;
class RecordingsApi;
class SoundsApi;
class PlaybacksApi;
class DeviceStatesApi;
class MailboxesApi;
class EventsApi;
class ApplicationsApi;
class MediaSocket;

namespace detail {
class ClientImpl;
class Registry;
struct WaitState;
template <typename T>
struct call_sig {
  using type = void(std::exception_ptr, T);
};
template <>
struct call_sig<void> {
  using type = void(std::exception_ptr);
};
template <typename T>
using call_handler = boost::asio::any_completion_handler<typename call_sig<T>::type>;
using wait_handler = boost::asio::any_completion_handler<void(std::exception_ptr, Event)>;
using media_socket_handler =
    boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<MediaSocket>)>;
}  // namespace detail

/// State of the events WebSocket, published through Client::on_state.
enum class ConnectionState : std::uint8_t { disconnected, connecting, connected, closed };
/// The state's name, e.g. "connected".
std::string_view to_string(ConnectionState s) noexcept;

/// Why a resource subscription ended without being reset by its owner.
enum class EndReason : std::uint8_t {
  ended,     ///< the resource's terminal event arrived (it was delivered to the handler first)
  vanished,  ///< the resource disappeared while the WebSocket was down (found by reconcile)
  closed,    ///< the client was closed
};

/// Result of the reconcile step after a reconnect.
struct ReconcileReport {
  std::vector<std::string> lost_channels;    ///< tracked channels no longer in any of our apps
  std::vector<std::string> lost_bridges;     ///< tracked bridges that no longer exist
  std::vector<std::string> lost_playbacks;   ///< tracked playbacks that no longer exist
  std::vector<std::string> lost_recordings;  ///< tracked live recordings that no longer exist
};

/// Counters (monotonic since construction).
struct ClientStats {
  std::uint64_t events = 0;            ///< WebSocket messages decoded and dispatched
  std::uint64_t malformed_events = 0;  ///< messages that were not JSON objects with a `type`
  std::uint64_t unknown_events = 0;    ///< events of a type not in events.json (still dispatched)
  std::uint64_t connects = 0;          ///< successful WebSocket connects (1 + reconnects)
  std::uint64_t subscriptions = 0;     ///< live handler registrations (resource + global + waits)
};

/// RAII handle of a handler registration. Destroying or reset()-ing it removes the handler.
/// A resource subscription also expires on its own when the resource ends: active() turns false
/// and the registry holds nothing for it any more. Safe to outlive the Client.
class Subscription {
 public:
  Subscription() = default;
  /// Made by Client for a registration.
  Subscription(std::weak_ptr<detail::Registry> registry, std::uint64_t id) noexcept
      : registry_(std::move(registry)), id_(id) {}
  /// Takes over `o`'s registration.
  Subscription(Subscription&& o) noexcept : registry_(std::move(o.registry_)), id_(std::exchange(o.id_, 0)) {}
  /// Drops the current registration and takes over `o`'s.
  Subscription& operator=(Subscription&& o) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription() { reset(); }

  /// Removes the handler now. Idempotent.
  void reset() noexcept;
  /// True while the handler is registered (false after reset(), or once the resource ended).
  bool active() const noexcept;

 private:
  std::weak_ptr<detail::Registry> registry_;
  std::uint64_t id_ = 0;
};

/// How a wait ended without its event: code() is errc::timed_out, errc::resource_ended (event()
/// is then the resource's terminal event, e.g. StasisEnd), errc::resource_vanished or
/// errc::closed. A system_error, so that code() reads as before for coroutine users.
class WaitError : public boost::system::system_error {
 public:
  /// `code`: why the wait ended; `event`: the terminal event, when there is one.
  WaitError(boost::system::error_code code, Event event)
      : boost::system::system_error(code, "ari wait"), event_(std::move(event)) {}
  /// The terminal event (errc::resource_ended), else an empty Event.
  [[nodiscard]] const Event& event() const noexcept { return event_; }

 private:
  Event event_;
};

/// A wait registered before the action that triggers the event (events often arrive before the
/// HTTP response of the request that caused them). The first matching event is kept until
/// async_wait collects it. Move-only; destroying it unregisters it.
class Waiter {
 public:
  Waiter() = default;
  /// Made by Client::expect.
  explicit Waiter(std::shared_ptr<detail::WaitState> st) noexcept : st_(std::move(st)) {}
  /// Takes over the wait.
  Waiter(Waiter&&) noexcept = default;
  /// Releases the current wait and takes over another.
  Waiter& operator=(Waiter&&) noexcept;
  ~Waiter() { release(); }

  /// True once the event arrived (or the resource ended).
  bool ready() const noexcept;

  /// Completes with `(std::exception_ptr, Event)`: the matching event; or a WaitError of
  /// errc::timed_out after `timeout`; of errc::resource_ended, with the terminal event (also
  /// passed as the Event), if the resource ended first; of errc::resource_vanished or
  /// errc::closed. Cancelling it (or destroying the Waiter) completes it with operation_aborted.
  /// One async_wait per Waiter: a second one, or one on an empty Waiter, throws std::logic_error.
  template <typename CompletionToken>
  auto async_wait(std::chrono::milliseconds timeout, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, Event)>(
        [this](auto handler, std::chrono::milliseconds t) { start_wait(t, detail::wait_handler(std::move(handler))); },
        token, timeout);
  }

 private:
  friend class Client;
  void start_wait(std::chrono::milliseconds timeout, detail::wait_handler handler);
  void release() noexcept;
  void detach() noexcept { st_.reset(); }
  std::shared_ptr<detail::WaitState> st_;
};

/// The ARI client: REST calls over a pool of keep-alive HTTP/1.1 connections, and the events
/// WebSocket of the Stasis applications in ClientOptions::apps, kept up forever (reconnect with
/// backoff, then reconcile). Events are dispatched by type and by resource id. It belongs to
/// the executor it is built with and starts no thread.
class Client {
 public:
  /// The executor everything runs on.
  using executor_type = boost::asio::any_io_executor;
  /// Receives an event.
  using EventHandler = std::function<void(const Event&)>;
  /// Told once why a resource subscription ended.
  using EndHandler = std::function<void(EndReason)>;
  /// Told each connection state change and its cause.
  using StateHandler = std::function<void(ConnectionState, boost::system::error_code)>;
  /// Told what vanished while the events WebSocket was down.
  using ReconcileHandler = std::function<void(const ReconcileReport&)>;

  /// Throws std::invalid_argument on a bad URL (unsupported scheme, credentials in the URL).
  Client(executor_type executor, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// The executor the client belongs to.
  executor_type get_executor() const noexcept;
  /// The options it was built with.
  const ClientOptions& options() const noexcept;

  /// Checks the credentials with a REST call (401 → AuthenticationError at once), opens the events
  /// WebSocket for options().apps (if any), applies the event filter, and completes with
  /// `(std::exception_ptr)`. From then on the WebSocket is kept up forever: on loss it reconnects
  /// with backoff, re-registers apps, filter and subscriptions, then reconciles. Cancelling it
  /// completes it with operation_aborted and closes the client (a half-connected client is of no use).
  template <typename CompletionToken>
  auto async_connect(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler) { start_connect(detail::call_handler<void>(std::move(handler))); }, token);
  }

  /// Stops everything: the WebSocket, pooled connections, pending waits (errc::closed), handlers
  /// (EndReason::closed). Idempotent. Calls in flight complete with TransportError.
  void close();

  /// Generic REST call for anything the typed API does not cover. Completes with
  /// `(std::exception_ptr, Response)`; a status >= 400 becomes the matching ari::Error.
  template <typename CompletionToken>
  auto async_request(Request request, CompletionToken&& token) {
    return async_call<Response>(std::move(request), std::forward<CompletionToken>(token));
  }

  /// REST call whose JSON result is decoded into T (void: no result, std::string: raw body).
  /// Cancelling it completes it at once with operation_aborted; the late response is discarded
  /// (the request itself may still take effect on Asterisk).
  template <typename T, typename CompletionToken>
  auto async_call(Request request, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, typename detail::call_sig<T>::type>(
        [this](auto handler, Request r) { start_call<T>(std::move(r), detail::call_handler<T>(std::move(handler))); },
        token, std::move(request));
  }

  // ---- events -------------------------------------------------------------------------------

  /// Every event (after decode, before per-resource handlers).
  [[nodiscard]] Subscription on_event(EventHandler handler);
  /// Every event of one type (e.g. EventType::stasis_start).
  [[nodiscard]] Subscription on_event(EventType type, EventHandler handler);
  /// Events about one resource (a channel id, a bridge id, a playback id, a recording name...).
  /// The subscription expires by itself after the resource's terminal event (delivered first), or
  /// when reconcile finds the resource gone; `on_end` is then called once with the reason.
  /// A subscribed resource is "tracked": reconcile checks it after a reconnect.
  [[nodiscard]] Subscription subscribe(ResourceKind kind, std::string id, EventHandler handler, EndHandler on_end = {});
  /// Registers a wait for the next event of one of `types` about a resource (any type if empty).
  /// Register it BEFORE the request that triggers the event.
  [[nodiscard]] Waiter expect(ResourceKind kind, std::string id, std::vector<EventType> types);
  /// expect() + async_wait() in one call (for events that cannot precede the call); completes
  /// as Waiter::async_wait.
  template <typename CompletionToken>
  auto async_wait_for(ResourceKind kind, std::string id, std::vector<EventType> types,
                      std::chrono::milliseconds timeout, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, Event)>(
        [this](auto handler, ResourceKind k, std::string i, std::vector<EventType> t, std::chrono::milliseconds d) {
          start_wait_for(k, std::move(i), std::move(t), d, detail::wait_handler(std::move(handler)));
        },
        token, kind, std::move(id), std::move(types), timeout);
  }

  /// Subscribes an app to an event source ("channel:<id>", "bridge:<id>", "endpoint:<tech>/<res>",
  /// "deviceState:<name>"): POST /applications/{app}/subscription. Remembered and re-applied after
  /// every reconnect. Completes with `(std::exception_ptr)`.
  template <typename CompletionToken>
  auto async_subscribe_source(std::string app, std::string event_source, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, std::string a, std::string s) {
          start_source(true, std::move(a), std::move(s), detail::call_handler<void>(std::move(handler)));
        },
        token, std::move(app), std::move(event_source));
  }
  /// Removes what async_subscribe_source added (DELETE /applications/{app}/subscription).
  template <typename CompletionToken>
  auto async_unsubscribe_source(std::string app, std::string event_source, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, std::string a, std::string s) {
          start_source(false, std::move(a), std::move(s), detail::call_handler<void>(std::move(handler)));
        },
        token, std::move(app), std::move(event_source));
  }

  // ---- media ---------------------------------------------------------------------------------

  /// Opens a WebSocket to chan_websocket's `/media/<connection_id>` on the client's host and port
  /// (ws or wss as the client's URL; sub-protocol `media`; no credentials: the id is the secret),
  /// for an externalMedia channel made with transport=websocket, connection_type=server (the id is
  /// its MEDIA_WEBSOCKET_CONNECTION_ID). Completes with `(std::exception_ptr,
  /// std::shared_ptr<MediaSocket>)`: std::invalid_argument for an empty id or one with characters
  /// other than letters, digits and `-._~`; NotFound (unknown id) or Conflict (already connected)
  /// when Asterisk refuses the upgrade; TransportError on I/O failure or after
  /// options().connect_timeout. Cancelling it closes the half-open connection (operation_aborted).
  /// Dropping the last handle of the socket closes it.
  template <typename CompletionToken>
  auto async_open_media_socket(std::string connection_id, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::shared_ptr<MediaSocket>)>(
        [this](auto handler, std::string id) {
          start_open_media_socket(std::move(id), detail::media_socket_handler(std::move(handler)));
        },
        token, std::move(connection_id));
  }

  /// Decodes and dispatches one WebSocket message as if it had arrived on the socket (used by the
  /// socket itself; public for tests and benchmarks). Malformed input is counted and logged.
  void dispatch_message(std::string_view text);

  // ---- connection ---------------------------------------------------------------------------

  /// The state of the events WebSocket connection.
  ConnectionState state() const noexcept;
  /// Called on every state change (the error says why a connection was lost or failed).
  [[nodiscard]] Subscription on_state(StateHandler handler);
  /// Called after each reconnect with what vanished during the gap (also when nothing did).
  [[nodiscard]] Subscription on_reconcile(ReconcileHandler handler);
  /// Counters: events, malformed and unknown events, connects, live subscriptions.
  ClientStats stats() const noexcept;

  /// A new client-chosen id ("pb-lx3k2a-4f0c..."): use it for channel_id, playback_id,
  /// recording_name, snoop_id, bridge_id before the call, and subscribe to it first.
  std::string make_id(std::string_view prefix);

  // ---- typed resources (generated/operations.hpp) --------------------------------------------
  /// /asterisk operations (info, modules, logging, global variables).
  AsteriskApi asterisk() noexcept;
  /// /endpoints operations.
  EndpointsApi endpoints() noexcept;
  /// /channels operations (originate, answer, play, record, hangup...).
  ChannelsApi channels() noexcept;
  /// /bridges operations.
  BridgesApi bridges() noexcept;
  /// /recordings operations.
  RecordingsApi recordings() noexcept;
  /// /sounds operations.
  SoundsApi sounds() noexcept;
  /// /playbacks operations.
  PlaybacksApi playbacks() noexcept;
  /// /deviceStates operations.
  DeviceStatesApi device_states() noexcept;
  /// /mailboxes operations.
  MailboxesApi mailboxes() noexcept;
  /// /events operations (user events).
  EventsApi events() noexcept;
  /// /applications operations (subscriptions, event filters).
  ApplicationsApi applications() noexcept;

 private:
  // Implementation of async_call, explicitly instantiated once per result type
  // (src/ari/generated/call_instances.cpp): an explicit instantiation may name a private member.
  template <typename T>
  void start_call(Request request, detail::call_handler<T> handler);
  void start_connect(detail::call_handler<void> handler);
  void start_open_media_socket(std::string connection_id, detail::media_socket_handler handler);
  void start_source(bool add, std::string app, std::string source, detail::call_handler<void> handler);
  void start_wait_for(ResourceKind kind, std::string id, std::vector<EventType> types,
                      std::chrono::milliseconds timeout, detail::wait_handler handler);

  std::shared_ptr<detail::ClientImpl> impl_;
};

}  // namespace astmrf::ari
