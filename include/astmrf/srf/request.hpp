// Request and Response: the two faces of one incoming request, as a handler sees
// them (drachtio's req/res). Both are cheap handles; copy them freely.
#pragma once

#include <astmrf/srf/backend.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace astmrf::srf {

class Dialog;

namespace detail {
struct ServerState;
struct SrfObservers;
struct Access;  // Srf's own access to the private parts below
}  // namespace detail

/// An incoming request, as the handler receives it (a cheap shared handle).
/// Its Response answers it.
class Request {
 public:
  /// The parsed message, typed headers included.
  [[nodiscard]] const sip::Message& msg() const;
  /// The method, e.g. "INVITE".
  [[nodiscard]] std::string_view method() const { return msg().method(); }
  /// The Request-URI.
  [[nodiscard]] std::string_view uri() const { return msg().request_uri(); }
  /// The first value of header `name` (compact forms included); empty when absent.
  [[nodiscard]] std::string_view header(std::string_view name) const { return msg().header(name); }
  /// The body (e.g. the SDP offer).
  [[nodiscard]] std::string_view body() const { return msg().body(); }
  /// The Call-ID.
  [[nodiscard]] std::string_view call_id() const { return msg().call_id(); }
  /// "udp:1.2.3.4:5060"
  [[nodiscard]] std::string source() const;
  /// An INVITE with Replaces (RFC 3891) given to the Srf::replaces handler: the dialog it
  /// replaces (include <astmrf/srf/dialog.hpp>). Null for every other request, and once
  /// that dialog is gone.
  [[nodiscard]] std::shared_ptr<Dialog> replaced_dialog() const;
  /// The user name an authentication middleware (srf::DigestAuth) verified for this request;
  /// empty when none did.
  [[nodiscard]] std::string_view authenticated_user() const;

  /// True once the caller CANCELled (the backend has answered 487 already).
  [[nodiscard]] bool cancelled() const;
  /// Runs when the caller CANCELs; at once if that already happened.
  void on_cancel(std::function<void()> handler);

  /// Completes with `(std::exception_ptr, bool cancelled)`: `true` when the caller CANCELs,
  /// `false` once the request got a final response without a CANCEL (at once if either
  /// happened). Cancelling the wait completes it with operation_aborted.
  template <typename CompletionToken>
  auto async_wait_cancelled(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, bool)>(
        [this](auto handler) { wait_cancelled(CancelHandler(std::move(handler))); }, token);
  }

 private:
  friend struct detail::Access;
  // Made by Srf for each incoming request.
  explicit Request(std::shared_ptr<detail::ServerState> state) : state_(std::move(state)) {}
  using CancelHandler = boost::asio::any_completion_handler<void(std::exception_ptr, bool)>;
  void wait_cancelled(CancelHandler handler);
  std::shared_ptr<detail::ServerState> state_;
};

/// What Response::send sends besides the status.
struct ResponseOptions {
  std::string reason;  ///< empty: the status's default phrase
  /// Extra headers.
  HeaderList headers;
  /// Content-Type of the body (none when empty).
  std::string content_type;
  /// The message body.
  std::string body;
  /// A 101-199 to an INVITE: send it reliably (RFC 3262: `Require: 100rel`, RSeq,
  /// retransmitted until the caller's PRACK) when the caller supports 100rel; unreliably
  /// otherwise. A provisional to an INVITE that requires 100rel is reliable anyway.
  bool reliable{false};
};

/// The answer side of an incoming request: provisional and final responses.
class Response {
 public:
  /// Sends a provisional or final response. After a CANCEL a final response is
  /// silently dropped (the caller already got 487). Throws std::logic_error for a
  /// second final response, sip::HeaderInjectionError for CR/LF/NUL in a header.
  void send(int status, ResponseOptions options = {});
  /// True once a final response was sent (by the application, or 487 after a CANCEL).
  [[nodiscard]] bool finished() const;

 private:
  friend struct detail::Access;
  // Made by Srf for each incoming request.
  explicit Response(std::shared_ptr<detail::ServerState> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::ServerState> state_;
};

}  // namespace astmrf::srf
