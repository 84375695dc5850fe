// The media resource framework (drachtio-astmrf in C++): Asterisk as a media
// server behind an application's SIP calls.
//
//   Mrf mrf(srf);                       // on the application's Srf
//   auto ms = co_await mrf.async_connect(options, use_awaitable);    // one per Asterisk
//   auto [endpoint, dialog] = co_await ms->async_connect_caller(req, res, {}, use_awaitable);
//   co_await endpoint->async_play("sound:tt-monkeys", use_awaitable);
//
// Each MediaServer owns a Stasis application `drachtio-<uuid>` on its Asterisk.
// An Endpoint is one SIP dialog to Asterisk plus the ARI channel it created; they
// are tied by the From user of the INVITE (a fresh uuid), which Asterisk reports
// as the StasisStart's channel.caller.number (and by the Call-ID, channel.protocol_id).
#pragma once

#include <astmrf/ari/client.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/detail/signal.hpp>
#include <astmrf/mrf/endpoint.hpp>
#include <astmrf/mrf/errors.hpp>
#include <astmrf/srf/srf.hpp>
#include <astmrf/util/observability_fwd.hpp>
#include <astmrf/util/random.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace astmrf::mrf {

class Bridge;
class Snoop;
class MediaStream;
class Conference;
struct BridgeOptions;
struct ConferenceOptions;

namespace detail {
struct Telemetry;  // src/mrf/telemetry.hpp
struct ServerMetrics;
struct CallHelpers;   // the call helpers' access (src/mrf/agent_call.cpp, transfer.cpp)
struct CallTie;       // two endpoints that end together (src/mrf/call_helpers.hpp)
struct StreamAccess;  // live audio streams (src/mrf/stream/stream.cpp)
}  // namespace detail

/// How to reach one Asterisk's ARI (its http.conf and ari.conf).
struct AriServerOptions {
  /// Asterisk's HTTP address: an IP address or a host name, resolved (asynchronously) at every
  /// connect and reconnect, so that an Asterisk that comes back elsewhere is found again.
  std::string address;
  /// Asterisk's HTTP port (http.conf `bindport`; the TLS port with `tls`).
  std::uint16_t port{8088};
  /// An ari.conf user.
  std::string username;
  /// Its password: sent in the Basic Authorization header only, never logged.
  std::string password;
  /// https:// and wss:// instead of http:// and ws://.
  bool tls{false};
  /// Certificate checks when `tls` is on.
  ari::TlsOptions tls_options{};
};

/// Where Asterisk's pjsip listens for the application's INVITEs.
struct SipServerOptions {
  /// An IP address or a host name (resolved at connect and at every ARI reconnect; INVITEs go to
  /// the address it had then). Default: the ARI address.
  std::string address;
  /// A pjsip.conf transport's port.
  std::uint16_t port{5060};
  /// The transport of the INVITEs to Asterisk.
  sip::Transport transport{sip::Transport::udp};
};

/// How a MediaServer watches its Asterisk (docs/mrf.md, "Health").
struct HealthOptions {
  /// `GET /asterisk/ping` this often while the events WebSocket is up (0: no pings; the
  /// WebSocket's own state and liveness still count).
  std::chrono::milliseconds ping_interval{1000};
  /// A ping not answered within this marks the server down until one is answered again.
  std::chrono::milliseconds ping_timeout{1000};
  /// The events WebSocket down this long: the server's endpoints are ended
  /// (EndpointEnd::media_server_lost; their callers get a BYE). An Asterisk that was killed never
  /// sends BYE for its calls, and one that only lost ARI cannot be controlled any more.
  std::chrono::milliseconds calls_lost_after{3000};
};

/// What one media server's state is (MediaServer::state()).
enum class ServerState : std::uint8_t {
  connecting,  ///< never up yet: the first ARI connection is being tried (again)
  up,          ///< events WebSocket connected and the last ping answered in time: takes calls
  down,        ///< was up; the WebSocket is lost or a ping failed. Reconnects by itself
  closed,      ///< disconnect() was called (or it was removed from its pool)
};
/// The state's name, e.g. "up".
std::string_view to_string(ServerState state) noexcept;

/// Why `id` cannot be a ConnectOptions::instance_id (printable ASCII without spaces, at most 128
/// characters), or an empty string when it can. For front ends that check it before connecting
/// (e.g. a command line), with the same rule Mrf::async_connect applies.
std::string instance_id_error(std::string_view id);

/// What Mrf::async_connect needs to attach one Asterisk.
struct ConnectOptions {
  /// The ARI connection.
  AriServerOptions ari;
  /// The server's name in logs (`server=`) and metrics (label `server`); empty: the ARI
  /// address and port, e.g. "127.0.0.1:8088".
  std::string name;
  /// A stable name of this application instance (e.g. "ivr-1", or its host:port), the same after a
  /// restart. Set: the Stasis application is `drachtio-<UUID v5 of it>`, so a restarted instance
  /// owns the application of its earlier incarnation, and at every ARI (re)connect the server
  /// hangs up the channels of that application it does not track (the orphans a killed process
  /// left in Stasis; docs/mrf.md, "Restarts"). Empty: a random application name, no sweep.
  /// Printable ASCII without spaces, at most 128 characters. Two instances must never share one.
  std::string instance_id;
  /// Asterisk's SIP address (its address defaults to the ARI one).
  SipServerOptions sip;
  /// One deadline for the whole setup of an endpoint (INVITE → StasisStart → answer → 200 OK).
  std::chrono::milliseconds setup_timeout{4000};
  /// Endpoint setups in flight at once; past it new ones fail fast (MediaServerOverloaded).
  /// Think of it as call rate × the setup time to ride out, and keep it below what Asterisk
  /// sets up within setup_timeout (docs/mrf.md shows how the default was chosen).
  std::size_t max_pending_setups{1024};
  /// Endpoints up plus setups pending at once on this server (0: no limit); past it new setups
  /// fail fast (MediaServerOverloaded).
  std::size_t max_calls{0};
  /// Admission by queue age: a new setup is refused (MediaServerOverloaded) while the oldest
  /// pending one is older than this share of setup_timeout, so that a saturated Asterisk's
  /// stalls become fast refusals instead of time-outs (0 turns it off).
  double max_queue_age{0.5};
  /// Health checks and how long a lost server keeps its calls.
  HealthOptions health{};
  /// DNS for host names in ari.address and sip.address (default: /etc/hosts, /etc/resolv.conf).
  util::ResolverOptions resolver{};
  /// Reconnection delays of the ARI events WebSocket (and of the first connection of a pool
  /// member): shorter than the ARI client's default, so that a server rejoins quickly.
  util::BackoffOptions reconnect{std::chrono::milliseconds{200}, std::chrono::milliseconds{2000}, 2.0, 0.2};
  /// Event types of the app that Asterisk filters out before sending (ARI
  /// `PUT /applications/{app}/eventFilter`, re-applied after every reconnect). Default: no
  /// ChannelVarset, which the Mrf never reads (most of a call's events: docs/mrf.md).
  /// Clear `disallowed` to receive them on `MediaServer::ari()`.
  ari::EventFilter event_filter{{}, {"ChannelVarset"}};
  /// This server's logger, its ARI client's too (null: the Mrf's logger).
  std::shared_ptr<spdlog::logger> logger;
};

/// Options of an Mrf: where it, its media servers (and their ARI clients) and its pools log and
/// count.
struct MrfOptions {
  /// Where the Mrf's metrics go (`astmrf_mrf_*`, and `astmrf_ari_*` of its servers' ARI
  /// clients, labelled by server). Null: no metrics. docs/observability.md lists them.
  std::shared_ptr<util::metrics::Registry> metrics{};
  /// Where the Mrf, its servers and their ARI clients log (null: spdlog's default logger); a
  /// server's ConnectOptions::logger overrides it. Lines about a call carry call_id, and
  /// channel_id and server once known.
  std::shared_ptr<spdlog::logger> logger{};
};

/// Options of MediaServer::async_create_endpoint.
struct EndpointOptions {
  /// The SDP to offer Asterisk. Empty: an inactive offer pointing at Asterisk's address.
  std::string remote_sdp;
  /// Extra headers on the INVITE to Asterisk.
  srf::HeaderList headers;
  /// The call the endpoint serves, as `call_id=` of its log lines (connect_caller sets the
  /// caller's Call-ID). Empty: the Call-ID of the INVITE to Asterisk.
  std::string call_id{};
};

/// Options of MediaServer::async_connect_caller.
struct ConnectCallerOptions {
  srf::HeaderList headers;  ///< extra headers on the 200 OK to the caller
  /// Hang up the caller when the endpoint ends on Asterisk's side (default), or
  /// keep the caller's dialog (e.g. to connect it to another media server).
  bool end_caller_with_endpoint{true};
  /// Status sent to the caller when the endpoint cannot be set up: Asterisk's
  /// own rejection is passed on unless mapped here (e.g. {603, 480}).
  std::map<int, int> status_map;
  /// Retry-After on the 503 sent when no media server could take the call (0: no header).
  std::chrono::seconds retry_after{5};
  /// An INFO from the caller that is not DTMF (DTMF INFO becomes the endpoint's DTMF event and
  /// is answered 200). Without a handler it is answered 415 (200 when it has no body).
  std::function<void(srf::Request, srf::Response)> on_info;
};

/// What MediaServer::async_connect_caller yields: the two legs, which end together.
struct ConnectedCaller {
  /// The Asterisk leg.
  std::shared_ptr<Endpoint> endpoint;
  std::shared_ptr<srf::Dialog> dialog;  ///< the caller's dialog
};

/// One Asterisk attached through Mrf::async_connect (or added to a MediaServerPool): its ARI
/// client and its own Stasis application `drachtio-<uuid>`. It creates endpoints and connects
/// callers to them, and watches its Asterisk's health (docs/mrf.md, "Health").
class MediaServer : public std::enable_shared_from_this<MediaServer> {
 public:
  /// "drachtio-<uuid>": the Stasis application of this server (a UUID v5 of
  /// ConnectOptions::instance_id when that is set, random otherwise).
  [[nodiscard]] const std::string& app() const noexcept { return app_; }
  /// Its name in logs and metrics: ConnectOptions::name, or "<ari address>:<port>".
  [[nodiscard]] const std::string& name() const noexcept { return options_.name; }
  /// The ARI client of this server: media operations on the endpoints' channels.
  [[nodiscard]] ari::Client& ari() noexcept { return *ari_; }
  /// The options it was connected with.
  [[nodiscard]] const ConnectOptions& options() const noexcept { return options_; }
  /// Endpoints that are up (a live list).
  [[nodiscard]] std::vector<std::shared_ptr<Endpoint>> endpoints() const;
  /// Endpoint setups in flight (bounded by ConnectOptions::max_pending_setups).
  [[nodiscard]] std::size_t pending_setups() const noexcept { return pending_.size(); }
  /// Endpoints up plus setups in flight: what ConnectOptions::max_calls bounds.
  [[nodiscard]] std::size_t active_calls() const noexcept { return endpoints_.size() + pending_.size(); }
  /// Its health: up, down (reconnecting by itself), connecting (never up yet) or closed.
  [[nodiscard]] ServerState state() const noexcept { return state_; }
  /// True while the state is up: only then does it take new endpoints.
  [[nodiscard]] bool connected() const noexcept { return state_ == ServerState::up; }
  /// True while it takes new endpoints: up, not draining, under its limits.
  [[nodiscard]] bool accepting() const noexcept;
  /// Called on every state change.
  [[nodiscard]] Subscription on_state(std::function<void(ServerState)> handler);
  /// The address INVITEs go to: ConnectOptions::sip.address as last resolved (empty until then).
  [[nodiscard]] const std::string& sip_address() const noexcept { return sip_address_; }

  /// INVITE to `sip:<app>@<asterisk>` with `User-Agent: drachtio` and a fresh uuid as
  /// From user; completes when Asterisk's channel is in Stasis and answered and
  /// the dialog is up. On timeout, failure or cancellation (operation_aborted) everything
  /// started is undone: CANCEL (or ACK + BYE for a late 200 OK), the channel hung up.
  /// A server that is not up, draining or at a limit fails at once (MediaServerUnavailable,
  /// MediaServerOverloaded) without sending anything; a server that goes down fails the setups
  /// it has in flight at once.
  template <typename CompletionToken>
  auto async_create_endpoint(EndpointOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::shared_ptr<Endpoint>)>(
        [this](auto handler, EndpointOptions o) { start_endpoint(std::move(o), EndpointHandler(std::move(handler))); },
        token, std::move(options));
  }

  /// Creates an endpoint with the caller's SDP and answers the caller with
  /// Asterisk's SDP. The caller's CANCEL tears the Asterisk leg down (the caller
  /// gets 487); a failure on Asterisk's side gets the caller a final error (503 +
  /// Retry-After when overloaded, unavailable or timed out). Cancelling the operation completes it
  /// with operation_aborted and undoes the Asterisk leg as a failure does; the caller
  /// gets 487 (or, if it was answered already and its ACK is pending, a BYE).
  ///
  /// Mid-call the two legs act as one SIP peer: the caller's re-INVITE (or UPDATE) with an
  /// offer is relayed to Asterisk and answered with Asterisk's answer (hold gets recvonly or
  /// inactive and Asterisk stops sending); Asterisk's re-INVITE or UPDATE with an offer goes to
  /// the caller as a re-INVITE. Offerless re-INVITEs are answered with the current SDP as the
  /// offer, without a relay. While one offer crosses the pair another one gets 491; a
  /// rejection is passed on (488...), a time-out or other failure becomes 500, and a leg that
  /// ends mid-relay leaves nothing unanswered. INFO with DTMF (application/dtmf-relay,
  /// application/dtmf) is answered 200 and emitted as the endpoint's DtmfEvent (source
  /// sip_info); a malformed one gets 400; other INFO goes to ConnectCallerOptions::on_info.
  template <typename CompletionToken>
  auto async_connect_caller(srf::Request req, srf::Response res, ConnectCallerOptions options,
                            CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, ConnectedCaller)>(
        [this](auto handler, srf::Request q, srf::Response s, ConnectCallerOptions o) {
          start_connect_caller(std::move(q), std::move(s), std::move(o), CallerHandler(std::move(handler)));
        },
        token, std::move(req), std::move(res), std::move(options));
  }

  /// Connects the caller of an INVITE with Replaces (one that srf::Srf::replaces handed over:
  /// `req.replaced_dialog()` is a connected caller of this server) in place of the replaced
  /// caller: the new caller is connected (async_connect_caller), its endpoint is put in the bridge
  /// the replaced caller's endpoint was in (so it talks with whoever the replaced caller talked
  /// with, and takes over its end-together ties), then the replaced call is ended (BYE).
  /// Completes with `(std::exception_ptr, ConnectedCaller)`. A replaced dialog that is not a
  /// connected caller of this server gets 481 and fails with std::invalid_argument. Cancelling it
  /// cancels the connect (see async_connect_caller); the replaced call stays.
  template <typename CompletionToken>
  auto async_replace_caller(srf::Request req, srf::Response res, ConnectCallerOptions options,
                            CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, ConnectedCaller)>(
        [this](auto handler, srf::Request q, srf::Response s, ConnectCallerOptions o) {
          start_replace_caller(std::move(q), std::move(s), std::move(o), CallerHandler(std::move(handler)));
        },
        token, std::move(req), std::move(res), std::move(options));
  }

  /// The endpoint of a caller connected on this server by async_connect_caller (or of an agent
  /// called by mrf::async_call_agent), by its dialog (null: not one of this server's, or either
  /// leg has ended).
  [[nodiscard]] std::shared_ptr<Endpoint> caller_endpoint(const srf::Dialog& dialog) const;

  /// Takes no new endpoints from now on and completes with `(std::exception_ptr)` when the last
  /// endpoint and pending setup of this server are gone. With a `deadline`, the endpoints still
  /// up then are destroyed (their callers get a BYE) and it completes. Cancelling it ends the
  /// wait only (operation_aborted): the server keeps draining until undrain().
  template <typename CompletionToken>
  auto async_drain(std::optional<std::chrono::milliseconds> deadline, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, std::optional<std::chrono::milliseconds> d) {
          start_drain(d, DrainHandler(std::move(handler)));
        },
        token, deadline);
  }
  /// Takes new endpoints again (drains in progress complete with operation_aborted).
  void undrain();
  /// True between async_drain and undrain.
  [[nodiscard]] bool draining() const noexcept { return draining_; }

  /// Destroys the endpoints (when asked), ends the bridges and conferences (BridgeEnd::destroyed)
  /// and deletes them on Asterisk, then closes the ARI connection, which removes the Stasis
  /// application. Idempotent.
  void disconnect(bool destroy_endpoints = true);

  // ---- bridges and conferences (defined in bridge.hpp and conference.hpp) --------------------

  /// Creates an empty bridge on this server: `(std::exception_ptr, std::shared_ptr<Bridge>)`.
  /// Include <astmrf/mrf/bridge.hpp>.
  template <typename CompletionToken>
  auto async_create_bridge(BridgeOptions options, CompletionToken&& token);
  /// The conference `name` of this server, made with `options` unless it exists already (then
  /// the existing one, options ignored): `(std::exception_ptr, std::shared_ptr<Conference>)`.
  /// Include <astmrf/mrf/conference.hpp>.
  template <typename CompletionToken>
  auto async_create_conference(std::string name, ConferenceOptions options, CompletionToken&& token);
  /// The live conference `name` of this server (null: none).
  [[nodiscard]] std::shared_ptr<Conference> conference(const std::string& name) const;
  /// Live Bridge objects of this server (conferences' included): a leak check.
  [[nodiscard]] std::size_t bridges() const noexcept;
  /// The Srf it signals on.
  [[nodiscard]] srf::Srf& srf() noexcept { return srf_; }

  /// Ends what is still pending and the endpoints, and closes the ARI connection.
  ~MediaServer();

 private:
  friend class Mrf;                    // which makes and starts media servers
  friend class Endpoint;               // which is forgotten when it ends
  friend class MediaServerPool;        // which starts its members and runs setups on them
  friend class Bridge;                 // which registers itself (bridges())
  friend class Snoop;                  // whose channel's StasisStart is expected
  friend class Conference;             // which is found again by name
  friend struct detail::StreamAccess;  // whose externalMedia channel's StasisStart is expected
  using BridgeHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Bridge>)>;
  using ConferenceHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Conference>)>;
  void start_create_bridge(BridgeOptions options, BridgeHandler handler);
  void start_create_conference(std::string name, ConferenceOptions options, ConferenceHandler handler);
  // A StasisStart of a snoop channel this server started (snoop.cpp): true when it was expected.
  bool accept_snoop(const std::string& channel_id);
  // A StasisStart of a stream's externalMedia channel (stream.cpp): true when it was expected.
  bool accept_stream(const std::string& channel_id);
  void lose_streams();
  // The server is lost: its snoops, streams and bridges end (snoop.cpp).
  void lose_media_objects();
  // The call helpers: agent_call.cpp, transfer.cpp, replace_caller.cpp.
  friend struct detail::CallHelpers;
  MediaServer(boost::asio::any_io_executor executor, srf::Srf& srf, ConnectOptions options, std::string app,
              std::shared_ptr<const detail::Telemetry> telemetry);
  // Connects once (Mrf::async_connect) or keeps trying until the first success (a pool member).
  void start(bool keep_trying, std::function<void(std::exception_ptr)> done);
  void try_connect(bool keep_trying, std::function<void(std::exception_ptr)> done);
  void forget(const Endpoint& endpoint, EndpointEnd reason);
  void count_endpoints();
  using EndpointHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Endpoint>)>;
  using CallerHandler = boost::asio::any_completion_handler<void(std::exception_ptr, ConnectedCaller)>;
  using DrainHandler = boost::asio::any_completion_handler<void(std::exception_ptr)>;
  struct Setup;
  struct Health;
  void start_endpoint(EndpointOptions options, EndpointHandler handler);
  void start_connect_caller(srf::Request req, srf::Response res, ConnectCallerOptions options, CallerHandler handler);
  void start_replace_caller(srf::Request req, srf::Response res, ConnectCallerOptions options, CallerHandler handler);
  void start_drain(std::optional<std::chrono::milliseconds> deadline, DrainHandler handler);
  // How connect_caller gets its Asterisk leg: a setup on one server, or the pool's setup with
  // failover. It returns what aborts the setup (the caller's CANCEL, the operation's cancellation).
  using SetupDone = std::function<void(std::exception_ptr, std::shared_ptr<Endpoint>)>;
  using SetupStarter = std::function<std::function<void(std::exception_ptr)>(EndpointOptions, SetupDone)>;
  static void connect_caller(boost::asio::any_io_executor executor, srf::Srf& srf, srf::Request req, srf::Response res,
                             ConnectCallerOptions options, SetupStarter starter, CallerHandler handler,
                             std::shared_ptr<const detail::Telemetry> telemetry);
  // The mid-call relay between a connected caller and its endpoint (connect_caller.cpp).
  static void install_mid_call(const std::shared_ptr<Endpoint>& endpoint, const std::shared_ptr<srf::Dialog>& caller,
                               std::function<void(srf::Request, srf::Response)> on_info);
  // Starts a setup; `done` may run before it returns (a refusal). The setup's abort undoes it.
  std::shared_ptr<Setup> begin_setup(EndpointOptions options, SetupDone done);
  std::function<void(std::exception_ptr)> abort_of(const std::shared_ptr<Setup>& setup);
  enum class Refusal : std::uint8_t { none, disconnected, not_up, draining, pending_setups, calls, queue_age };
  Refusal refusal_kind() const noexcept;
  std::exception_ptr refusal() const;  // why a new setup is refused now, as the error, if it is
  std::chrono::milliseconds queue_age_limit() const noexcept;
  void on_stasis_start(const ari::Event& event);
  void on_reconcile(const ari::ReconcileReport& report);
  void on_ari_state(ari::ConnectionState state);
  // ConnectOptions::instance_id set: hangs up the channels of app_ that it does not track.
  void sweep_orphans();
  [[nodiscard]] bool tracks_channel(const ari::Channel& channel) const;
  void finish_setup(const std::shared_ptr<Setup>& setup);
  void fail_setup(const std::shared_ptr<Setup>& setup, std::exception_ptr error);
  void set_state(ServerState state);
  void fail_pending(const std::string& why);
  void check_drained();
  void ping();
  void resolve_sip();  // at every (re)connect: a host name may now point elsewhere
  void maybe_up();

  boost::asio::any_io_executor executor_;
  srf::Srf& srf_;
  ConnectOptions options_;
  std::string app_;
  std::unique_ptr<ari::Client> ari_;
  ari::Subscription stasis_start_;
  ari::Subscription reconcile_;
  ari::Subscription ari_state_;
  std::map<std::string, std::shared_ptr<Setup>> pending_;     // by From user (uuid)
  std::deque<std::weak_ptr<Setup>> pending_order_;            // oldest first (admission by queue age)
  std::map<std::string, std::weak_ptr<Endpoint>> endpoints_;  // by channel id
  // Connected callers' endpoints by the caller's dialog (replaces, transfers); the weak dialog
  // tells a reused address from its entry.
  std::map<const srf::Dialog*, std::pair<std::weak_ptr<srf::Dialog>, std::weak_ptr<Endpoint>>> callers_;
  // Agent calls' end-together ties, which a transfer or a replace undoes for the leg it ends.
  std::vector<std::weak_ptr<detail::CallTie>> ties_;
  util::Random random_;  // setup uuids
  ServerState state_{ServerState::connecting};
  bool disconnected_{false};
  bool draining_{false};
  bool ws_up_{false};
  std::string sip_address_;
  std::unique_ptr<Health> health_;  // timers and resolver (their handlers hold the server weakly)
  std::unique_ptr<astmrf::detail::Signal<ServerState>> state_signal_;
  std::shared_ptr<const detail::Telemetry> telemetry_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<detail::ServerMetrics> metrics_;  // null: metrics off
  std::vector<std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr)>>> drains_;
  std::map<std::string, std::weak_ptr<Bridge>> bridges_;  // by bridge id
  std::map<std::string, std::weak_ptr<Snoop>> snoops_;    // by snoop channel id
  // Live audio streams by externalMedia channel id: told of their channel's StasisStart and of
  // the server's loss (src/mrf/stream/stream.cpp).
  std::map<std::string, std::weak_ptr<MediaStream>> streams_;
  std::map<std::string, std::weak_ptr<Conference>> conferences_;  // by name
};

/// The media resource framework on an application's Srf: attaches Asterisk servers,
/// one MediaServer each. It belongs to the Srf's executor.
class Mrf {
 public:
  /// On `srf`, which must outlive the Mrf.
  explicit Mrf(srf::Srf& srf, MrfOptions options = {});
  ~Mrf();
  Mrf(const Mrf&) = delete;
  Mrf& operator=(const Mrf&) = delete;

  /// Connects to one Asterisk and starts its Stasis application. Bad options
  /// fail with std::invalid_argument before any I/O; a wrong password with
  /// ari::AuthenticationError. Cancelling it closes the ARI connection (operation_aborted).
  template <typename CompletionToken>
  auto async_connect(ConnectOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::shared_ptr<MediaServer>)>(
        [this](auto handler, ConnectOptions o) { start_connect(std::move(o), ServerHandler(std::move(handler))); },
        token, std::move(options));
  }

  /// The media servers attached through this Mrf or its pools, up or not (disconnected ones
  /// drop out).
  [[nodiscard]] std::vector<std::shared_ptr<MediaServer>> media_servers() const;

 private:
  friend class MediaServerPool;
  // A new server with a fresh Stasis application name; std::invalid_argument on bad options.
  std::shared_ptr<MediaServer> make_server(ConnectOptions options);
  using ServerHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<MediaServer>)>;
  void start_connect(ConnectOptions options, ServerHandler handler);

  srf::Srf& srf_;
  std::shared_ptr<const detail::Telemetry> telemetry_;
  util::Random random_;  // Stasis application names
  // Shared with connects in flight, so that they stay safe if the Mrf goes first.
  std::shared_ptr<std::vector<std::weak_ptr<MediaServer>>> servers_;
};

}  // namespace astmrf::mrf

// The media objects built on MediaServer and Endpoint (their templates need both complete).
#include <astmrf/mrf/bridge.hpp>      // IWYU pragma: export
#include <astmrf/mrf/conference.hpp>  // IWYU pragma: export
#include <astmrf/mrf/snoop.hpp>       // IWYU pragma: export
#include <astmrf/mrf/stream.hpp>      // IWYU pragma: export
