// Dialog: a call leg the application owns (drachtio's Dialog). It carries the SIP
// dialog and the SDP of both sides, reports its end once with who ended it and
// why, and offers in-dialog operations with Asio completion tokens.
#pragma once

#include <astmrf/detail/async.hpp>
#include <astmrf/srf/backend.hpp>
#include <astmrf/srf/refer.hpp>
#include <astmrf/srf/request.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace astmrf::srf {

namespace detail {
struct SessionTimer;
struct SessionTimerPlan;
}  // namespace detail

/// Who ended a dialog, and the signaling backend's reason.
struct DestroyedInfo {
  /// `local`: this application (destroy(), a dropped last reference); `remote`: the peer's BYE; `system`: the backend
  /// (no ACK, time-out, transport loss, shutdown).
  enum class Who : std::uint8_t { local, remote, system };
  /// Who ended it.
  Who who{Who::system};
  /// How it ended, in the backend's terms.
  DialogEndReason reason{DialogEndReason::backend_stopped};
};
/// The name, e.g. "remote".
std::string_view to_string(DestroyedInfo::Who who) noexcept;

/// What Dialog::async_request sends besides the method.
struct RequestOptions {
  /// Extra headers.
  HeaderList headers;
  /// Content-Type of the body (none when empty).
  std::string content_type;
  /// The message body.
  std::string body;
};

/// A SIP dialog (INVITE usage) of the application, as UAS or UAC. Shared by the
/// application; dropping the last reference to a dialog that is up sends BYE.
/// Belongs to the Srf's executor.
class Dialog : public std::enable_shared_from_this<Dialog> {
 public:
  /// Which side of the INVITE this application was.
  enum class Role : std::uint8_t { uac, uas };

  /// The backend's dialog id (Call-ID and tags).
  [[nodiscard]] std::string id() const { return backend_->id(); }
  /// The dialog's Call-ID.
  [[nodiscard]] std::string call_id() const { return backend_->call_id(); }
  /// Our tag (From tag as UAC, To tag as UAS).
  [[nodiscard]] std::string local_tag() const { return backend_->local_tag(); }
  /// The peer's tag.
  [[nodiscard]] std::string remote_tag() const { return backend_->remote_tag(); }
  /// Our URI (From as UAC, To as UAS).
  [[nodiscard]] std::string local_uri() const { return backend_->local_uri(); }
  /// The peer's URI.
  [[nodiscard]] std::string remote_uri() const { return backend_->remote_uri(); }
  /// UAC or UAS.
  [[nodiscard]] Role role() const noexcept { return role_; }
  /// Our current SDP.
  [[nodiscard]] const std::string& local_sdp() const noexcept { return local_sdp_; }
  /// The peer's current SDP.
  [[nodiscard]] const std::string& remote_sdp() const noexcept { return remote_sdp_; }
  /// Whether the dialog has ended.
  [[nodiscard]] bool destroyed() const noexcept { return destroyed_.ended(); }
  /// Who ended it and why, once it has.
  [[nodiscard]] std::optional<DestroyedInfo> destroyed_info() const noexcept { return destroyed_.value(); }

  /// Sends BYE (with optional headers) and ends the dialog. Idempotent.
  void destroy(HeaderList headers = {});

  /// Runs once when the dialog ends, whoever ends it.
  void on_destroy(std::function<void(const DestroyedInfo&)> handler);
  /// An incoming re-INVITE. Without a handler it is answered 200 with the current
  /// local SDP. Whoever answers it, a 2xx makes its offer the remote SDP and the 2xx's
  /// body the local SDP (for an offerless re-INVITE the 2xx body is our offer and the
  /// ACK's body becomes the remote SDP); a non-2xx changes neither. UPDATE likewise.
  void on_modify(std::function<void(Request, Response)> handler);
  /// Incoming in-dialog requests of `method` (INFO, NOTIFY, REFER, MESSAGE,
  /// UPDATE, OPTIONS). Without a handler they are answered 200 (an UPDATE with an
  /// offer: 200 with the current local SDP), except REFER: 603 Declined (a 2xx would
  /// promise NOTIFYs nobody sends; answer it with srf::accept_refer, refer.hpp). While
  /// async_refer runs, its NOTIFYs (Event: refer) go to it, not to the NOTIFY handler.
  void on(const std::string& method, std::function<void(Request, Response)> handler);

  /// Completes once the dialog ends (at once if it has). Cancelling it ends the wait
  /// only (operation_aborted).
  template <typename CompletionToken>
  auto async_wait_destroyed(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, DestroyedInfo)>(
        [this](auto handler) { wait_destroyed(DestroyedHandler(std::move(handler))); }, token);
  }

  /// Sends a request in the dialog; completes with its final response (any status).
  /// Cancelling it completes it with operation_aborted; the request still runs its course.
  template <typename CompletionToken>
  auto async_request(std::string method, RequestOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, sip::Message)>(
        [this](auto handler, std::string m, RequestOptions o) {
          start_request(std::move(m), std::move(o), MessageHandler(std::move(handler)));
        },
        token, std::move(method), std::move(options));
  }

  /// re-INVITE with a new local SDP; completes with the remote SDP of the 2xx.
  /// A non-2xx fails with SipFailure and leaves the dialog as it was. Cancelling it
  /// completes it with operation_aborted; a later 2xx still updates both SDPs.
  template <typename CompletionToken>
  auto async_modify(std::string sdp, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::string)>(
        [this](auto handler, std::string s) { start_modify(std::move(s), SdpHandler(std::move(handler))); }, token,
        std::move(sdp));
  }
  /// Puts the peer on hold (local SDP with a=sendonly) / takes it off (a=sendrecv).
  template <typename CompletionToken>
  auto async_hold(CompletionToken&& token) {
    return async_modify(with_direction("sendonly"), std::forward<CompletionToken>(token));
  }
  /// Takes the peer off hold (local SDP with a=sendrecv).
  template <typename CompletionToken>
  auto async_unhold(CompletionToken&& token) {
    return async_modify(with_direction("sendrecv"), std::forward<CompletionToken>(token));
  }

  /// Asks the peer to transfer (RFC 3515): sends REFER with `Refer-To: <refer_to>` (and
  /// Referred-By when options.referred_by is set); a non-2xx fails with SipFailure. Then the
  /// peer's NOTIFYs (Event: refer) are answered 200 and each sipfrag goes to
  /// options.on_progress, also those that overtake the 202; it completes with
  /// `(std::exception_ptr, ReferOutcome)` — the final sipfrag's status — when a NOTIFY says
  /// Subscription-State: terminated. Past options.timeout it fails with SipFailure 408
  /// (local); when the dialog ends, with DialogGone; a second async_refer while one runs,
  /// with std::logic_error. Cancelled, it completes with operation_aborted; later NOTIFYs
  /// are still answered 200.
  template <typename CompletionToken>
  auto async_refer(std::string refer_to, ReferOptions options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, ReferOutcome)>(
        [this](auto handler, std::string r, ReferOptions o) {
          start_refer(std::move(r), std::move(o), ReferHandler(std::move(handler)));
        },
        token, std::move(refer_to), std::move(options));
  }

  /// Sends BYE when the dialog is still up: a call nobody holds could never be hung up.
  ~Dialog();

 private:
  friend struct detail::Access;  // applications get dialogs from Srf
  Dialog(std::shared_ptr<BackendDialog> backend, Role role, std::string local_sdp, std::string remote_sdp,
         boost::asio::any_io_executor executor);
  void attach();  // installs the backend handlers (needs shared_from_this)
  using DestroyedHandler = boost::asio::any_completion_handler<void(std::exception_ptr, DestroyedInfo)>;
  using MessageHandler = boost::asio::any_completion_handler<void(std::exception_ptr, sip::Message)>;
  using SdpHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::string)>;
  using ReferHandler = boost::asio::any_completion_handler<void(std::exception_ptr, ReferOutcome)>;
  void start_refer(std::string refer_to, ReferOptions options, ReferHandler handler);  // refer.cpp
  void wait_destroyed(DestroyedHandler handler);
  void start_request(std::string method, RequestOptions options, MessageHandler handler);
  void start_modify(std::string sdp, SdpHandler handler);
  [[nodiscard]] std::string with_direction(std::string_view direction) const;
  void ended(DialogEndReason reason);
  void incoming(const std::shared_ptr<BackendServerTransaction>& transaction);
  void record_answer(detail::ServerState& state, std::string offer);
  // Session timers (RFC 4028), session_timer.cpp.
  void start_session_timer(const detail::SessionTimerPlan& plan);
  void arm_session_timer();
  void session_timer_fired();
  void session_refresh_received(detail::ServerState& state);  // a 2xx to it re-arms the timer
  void session_expired();

  std::shared_ptr<BackendDialog> backend_;
  Role role_;
  std::string local_sdp_;
  std::string remote_sdp_;
  boost::asio::any_io_executor executor_;
  bool destroy_requested_{false};
  astmrf::detail::EndState<DestroyedInfo> destroyed_;
  std::function<void(Request, Response)> on_modify_;
  std::map<std::string, std::function<void(Request, Response)>> handlers_;
  std::function<void(Request, Response)> refer_notify_;    // the NOTIFYs of the running async_refer
  std::uint32_t refers_accepted_{0};                       // accept_refer: the NOTIFYs of the 2nd REFER on carry an id
  std::shared_ptr<const detail::SrfObservers> observers_;  // the Srf's metrics and logger (null: none)
  std::shared_ptr<detail::SessionTimer> session_timer_;    // null: no session timer
  bool session_expired_{false};                            // our BYE ends it as session_timer
};

}  // namespace astmrf::srf
