// Srf: the application's signaling API (drachtio-srf's Srf in C++). It routes
// incoming requests through middleware to per-method handlers, answers calls
// (UAS), places calls (UAC), and hands out Dialogs — on whichever signaling
// backend it is given: the embedded SIP engine or a drachtio-server.
//
// Every async operation takes an Asio completion token: a callback
// `void(std::exception_ptr, std::shared_ptr<Dialog>)`, boost::asio::use_awaitable
// (errors are thrown as srf::Error subclasses) or boost::asio::use_future. Each honours
// the token's cancellation slot: a cancelled operation completes with a
// boost::system::system_error of boost::asio::error::operation_aborted.
#pragma once

#include <astmrf/srf/backend.hpp>
#include <astmrf/srf/dialog.hpp>
#include <astmrf/srf/errors.hpp>
#include <astmrf/srf/request.hpp>
#include <astmrf/srf/session_timer.hpp>
#include <astmrf/util/observability_fwd.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace astmrf::srf {

/// A request handler: one per method, called with the request and its response.
using Handler = std::function<void(Request, Response)>;
/// Middleware sees every request first; it answers it, or calls next() — during the call or
/// later (e.g. after an asynchronous lookup; `next` may be copied and kept). Only the first call
/// of a step's next() counts; the chain then goes on with the following middleware and the
/// handler. A middleware that neither answers nor calls next keeps the request to itself.
using Middleware = std::function<void(Request&, Response&, const std::function<void()>& next)>;

/// Options of Srf::async_create_uas.
struct UasOptions {
  std::string local_sdp;  ///< the SDP answer sent in the 200 OK
  /// Extra headers on the 200 OK.
  HeaderList headers;
  /// Session timers (RFC 4028): set, the INVITE's Session-Expires is negotiated (an interval
  /// below min_se is answered 422 with Min-SE and the operation fails with SipFailure 422,
  /// local) and the dialog refreshes or expires. Unset: the INVITE's Session-Expires is ignored.
  std::optional<SessionTimerOptions> session_timer{};
};

/// Digest credentials (RFC 7616) for a challenged request.
struct DigestCredentials {
  /// The user name of the challenge's realm.
  std::string username;
  /// Its password (never logged).
  std::string password;
};

/// Options of Srf::async_create_uac.
struct UacOptions {
  /// The SDP offer. Empty: late offer — the 2xx carries the offer and the ACK the
  /// answer, made by `answer_late_offer` (no body when it is unset).
  std::string local_sdp;
  /// With an empty local_sdp: makes the answer, carried by the ACK, from the 2xx's offer.
  std::function<std::string(const std::string& offer)> answer_late_offer;
  /// Extra headers on the INVITE.
  HeaderList headers;
  std::string from;  ///< From URI (default: the backend's)
  std::string to;    ///< To URI (default: the Request-URI)
  /// Send via "udp:IP:PORT", "tcp:host[:port]" or a SIP URI instead of the URI's host (host names: DNS,
  /// RFC 3263; a target DNS cannot find fails with srf::DnsFailure).
  std::string proxy;
  std::optional<DigestCredentials> auth;  ///< answers one 401/407 challenge (MD5, SHA-256)
  std::chrono::milliseconds timeout{0};   ///< give up (CANCEL) after this; 0: never
  /// Called with each provisional response (1xx).
  std::function<void(const sip::Message&)> on_provisional;
  /// Session timers (RFC 4028): set, the INVITE carries Supported: timer, Session-Expires and
  /// Min-SE; a 422 is retried once with its Min-SE; the 2xx's Session-Expires decides who
  /// refreshes. Unset: none of this.
  std::optional<SessionTimerOptions> session_timer{};
};

/// Options of Srf::async_create_b2bua.
struct B2buaOptions {
  /// The B leg. An empty local_sdp offers the caller's SDP.
  UacOptions uac;
  HeaderList uas_headers;         ///< extra headers on the 200 OK to the caller
  bool relay_provisionals{true};  ///< 180/183 (with SDP) from B go to the caller
  bool end_together{true};        ///< a BYE on either leg ends the other
  /// Session timers on the caller's leg (A); the B leg's are uac.session_timer.
  std::optional<SessionTimerOptions> uas_session_timer{};
};

/// What Srf::async_create_b2bua yields: both dialogs.
struct B2buaLegs {
  std::shared_ptr<Dialog> uas;  ///< the caller's leg (A)
  std::shared_ptr<Dialog> uac;  ///< the leg this side placed (B)
};

/// What an Srf counts and where it logs.
struct SrfOptions {
  /// Where Srf's metrics go: `astmrf_srf_calls_total{direction,outcome}` (each INVITE received
  /// and handled, or sent, counted once at its end state) and `astmrf_srf_dialogs{direction}`.
  /// Null: no metrics. Include <astmrf/util/metrics.hpp> to make one.
  std::shared_ptr<util::metrics::Registry> metrics{};
  /// Where Srf logs (debug: call_answered, call_rejected, call_cancelled, call_failed,
  /// dialog_ended, each with call_id; credentials are never logged). Null: spdlog's default logger.
  std::shared_ptr<spdlog::logger> logger{};
};

/// The application's signaling API (drachtio-srf's Srf): request handlers and
/// middleware, UAS, UAC and B2BUA dialogs. It runs on the SignalingBackend it is given
/// and belongs to the backend's executor.
class Srf {
 public:
  /// On a signaling backend: srf::make_engine_backend(engine) (srf/engine_backend.hpp) or a
  /// drachtio-server connection (srf/drachtio.hpp).
  explicit Srf(std::shared_ptr<SignalingBackend> backend, SrfOptions options = {});
  ~Srf();
  Srf(const Srf&) = delete;
  Srf& operator=(const Srf&) = delete;

  /// Adds a middleware; middlewares run in order, before the handlers.
  void use(Middleware middleware);
  /// The handler of `method`'s requests (one per method; a later call replaces it).
  void on(const std::string& method, Handler handler);
  /// The handler of INVITE requests.
  void invite(Handler handler) { on("INVITE", std::move(handler)); }
  /// The handler of REGISTER requests.
  void register_(Handler handler) { on("REGISTER", std::move(handler)); }
  /// The handler of OPTIONS requests (without one, OPTIONS gets 200 with Allow).
  void options(Handler handler) { on("OPTIONS", std::move(handler)); }
  /// The handler of INFO requests outside dialogs.
  void info(Handler handler) { on("INFO", std::move(handler)); }
  /// The handler of MESSAGE requests.
  void message(Handler handler) { on("MESSAGE", std::move(handler)); }
  /// The handler of SUBSCRIBE requests.
  void subscribe(Handler handler) { on("SUBSCRIBE", std::move(handler)); }
  /// The handler of NOTIFY requests outside dialogs.
  void notify(Handler handler) { on("NOTIFY", std::move(handler)); }
  /// The handler of REFER requests outside dialogs.
  void refer(Handler handler) { on("REFER", std::move(handler)); }
  /// The handler of PUBLISH requests.
  void publish(Handler handler) { on("PUBLISH", std::move(handler)); }
  /// The handler of INVITEs whose Replaces header (RFC 3891) names a dialog of this Srf
  /// (`Request::replaced_dialog()` gives it); they never reach the INVITE handler. Without
  /// one such INVITEs get 420 Bad Extension (Unsupported: replaces). Whether or not there
  /// is one: a Replaces that names no live dialog gets 481, an early-only one naming a
  /// confirmed dialog 486, an unparsable one 400. Middleware runs before this handler.
  void replaces(Handler handler);

  /// Answers `req` with 200 OK + options.local_sdp and completes when the ACK
  /// arrives. Fails with RequestCancelled if the caller CANCELled first, and with
  /// AckTimeout if the ACK never comes (the call is then ended with BYE). Cancelled
  /// while waiting for the ACK, it ends the call with BYE (operation_aborted).
  template <typename CompletionToken>
  auto async_create_uas(Request req, Response res, UasOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::shared_ptr<Dialog>)>(
        [this](auto handler, Request q, Response s, UasOptions o) {
          start_uas(std::move(q), std::move(s), std::move(o), DialogHandler(std::move(handler)));
        },
        token, std::move(req), std::move(res), std::move(options));
  }

  /// Places a call. Completes with the Dialog on a 2xx (ACK sent), fails with
  /// SipFailure on a final non-2xx, with CallCancelled when options.timeout passes
  /// (a CANCEL is sent). Cancelled, it completes at once with operation_aborted and
  /// sends CANCEL; a 2xx that races the CANCEL is ACKed and ended with BYE.
  template <typename CompletionToken>
  auto async_create_uac(std::string uri, UacOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::shared_ptr<Dialog>)>(
        [this](auto handler, std::string u, UacOptions o) {
          start_uac(std::move(u), std::move(o), DialogHandler(std::move(handler)));
        },
        token, std::move(uri), std::move(options));
  }

  /// Calls `uri` for `req` and bridges the signaling of both legs: provisionals
  /// are relayed, a CANCEL from the caller cancels the B leg, B's failure is
  /// relayed to the caller (status and reason), and BYE on either leg ends the
  /// other (options.end_together). Completes once both legs are up. Cancelled, it
  /// completes with operation_aborted, CANCELs (or BYEs) the B leg and answers the
  /// caller 487 (or BYEs it, when it was answered already).
  template <typename CompletionToken>
  auto async_create_b2bua(Request req, Response res, std::string uri, B2buaOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, B2buaLegs)>(
        [this](auto handler, Request q, Response s, std::string u, B2buaOptions o) {
          start_b2bua(std::move(q), std::move(s), std::move(u), std::move(o), LegsHandler(std::move(handler)));
        },
        token, std::move(req), std::move(res), std::move(uri), std::move(options));
  }

  /// The backend's executor: Srf, its requests and dialogs are used from there.
  [[nodiscard]] boost::asio::any_io_executor get_executor() const;

  /// Draining (for a load balancer in front, e.g. Kamailio's dispatcher): while on, OPTIONS
  /// outside dialogs are answered 503 Service Unavailable with `Retry-After: retry_after`
  /// (before the middleware and any OPTIONS handler), so that the balancer's probe takes
  /// this instance out and sends it no new calls. Everything else goes on as before: calls in
  /// progress finish normally, and a new INVITE still reaches the INVITE handler (a balancer
  /// sends some before its probe notices; refusing them would fail calls that another
  /// instance could have taken after a retry only). A handler that prefers to refuse them
  /// checks draining() and answers 503 itself. Off again: OPTIONS are answered as before.
  void set_draining(bool draining, std::chrono::seconds retry_after = std::chrono::seconds{30});
  /// True while draining (set_draining).
  [[nodiscard]] bool draining() const noexcept;
  /// Calls in progress: INVITEs received and not answered yet, INVITEs sent and not completed
  /// yet, and dialogs not ended (nor dropped).
  [[nodiscard]] std::size_t calls_in_progress() const noexcept;

  /// Completes once calls_in_progress() is 0 (at once when it is): after set_draining(true),
  /// "the last call ended". New calls may start again afterwards (see set_draining). Cancelled,
  /// it completes with operation_aborted. Signature: `void(std::exception_ptr)`.
  template <typename CompletionToken>
  auto async_wait_idle(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler) { start_wait_idle(IdleHandler(std::move(handler))); }, token);
  }

 private:
  using IdleHandler = boost::asio::any_completion_handler<void(std::exception_ptr)>;
  void start_wait_idle(IdleHandler handler);

 private:
  using LegsHandler = boost::asio::any_completion_handler<void(std::exception_ptr, B2buaLegs)>;
  void start_b2bua(Request req, Response res, std::string uri, B2buaOptions options, LegsHandler handler);
  using DialogHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Dialog>)>;
  void start_uas(Request req, Response res, UasOptions options, DialogHandler handler);
  void start_uac(std::string uri, UacOptions options, DialogHandler handler);

  [[nodiscard]] std::shared_ptr<const detail::SrfObservers> observers() const;

  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace astmrf::srf
