// Transfer signaling (RFC 3515 REFER, RFC 3891 Replaces): the notifier side of a
// REFER received in a dialog (accept_refer → ReferNotifier), and what
// Dialog::async_refer (dialog.hpp) takes and yields when this side sends one.
#pragma once

#include <astmrf/srf/backend.hpp>
#include <astmrf/srf/request.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace astmrf::srf {

class Dialog;

/// The dialog a Replaces names (RFC 3891), as carried by a Refer-To's `?Replaces=`.
struct ReplacesTarget {
  /// The dialog's Call-ID.
  std::string call_id{};
  /// The to-tag: the tag of the side that will receive the INVITE with Replaces.
  std::string to_tag{};
  /// The from-tag: the other side's tag.
  std::string from_tag{};
  /// `early-only`: only an early dialog may be replaced.
  bool early_only{false};
};

/// A Refer-To header, parsed: where to send the referred request.
struct ReferTo {
  /// The target URI without its embedded headers (what to INVITE).
  std::string uri{};
  /// The `?Replaces=` embedded header, unescaped and parsed (attended transfer).
  std::optional<ReplacesTarget> replaces{};
  /// The other embedded headers (`?name=value&...`), unescaped, in order.
  HeaderList headers{};
};

/// Parses a Refer-To value (name-addr or addr-spec, with header parameters); nullopt
/// when it holds no sip, sips or tel URI, or when its `Replaces` cannot be parsed.
std::optional<ReferTo> parse_refer_to(std::string_view value);

/// The Refer-To value for `refer_to`: `<uri?Replaces=...&Name=value>`, the embedded headers
/// %-escaped (what parse_refer_to reads back). For Dialog::async_refer.
std::string format_refer_to(const ReferTo& refer_to);

/// The Replaces header value of `target`: `call-id;to-tag=..;from-tag=..[;early-only]`.
std::string format_replaces(const ReplacesTarget& target);

/// The Replaces that names `dialog` at its peer (attended transfer: the peer receives the
/// INVITE, so the to-tag is the peer's tag and the from-tag ours).
ReplacesTarget replaces_at_peer(const Dialog& dialog);

/// The notifier side of a REFER's implicit subscription (RFC 3515): reports the
/// progress of the referred request to the referrer with NOTIFYs (Event: refer,
/// Content-Type message/sipfrag;version=2.0). NOTIFYs go out one at a time, in the
/// order asked. Made by accept_refer; belongs to the dialog's executor.
class ReferNotifier {
 public:
  ReferNotifier(const ReferNotifier&) = delete;
  ReferNotifier& operator=(const ReferNotifier&) = delete;
  /// No final NOTIFY sent yet: sends "503 Service Unavailable" (terminated), so that the
  /// referrer is never left waiting.
  ~ReferNotifier();

  /// The Refer-To of the REFER.
  [[nodiscard]] const ReferTo& refer_to() const noexcept { return refer_to_; }
  /// Its Referred-By value as received (empty when absent).
  [[nodiscard]] const std::string& referred_by() const noexcept { return referred_by_; }
  /// The REFER's Call-ID (the dialog's).
  [[nodiscard]] const std::string& call_id() const noexcept { return call_id_; }

  /// Sends NOTIFY with the sipfrag "SIP/2.0 <status> <reason>" (the status's default phrase
  /// when `reason` is empty); a status >= 200 ends the subscription (Subscription-State:
  /// terminated;reason=noresource), later calls then fail with std::logic_error. Completes
  /// with `(std::exception_ptr)` once the NOTIFY got its final response: a non-2xx fails
  /// with SipFailure, a dialog that ended with DialogGone. Cancelled, it completes with
  /// operation_aborted; the NOTIFY still goes out.
  template <typename CompletionToken>
  auto async_notify(int status, std::string reason, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [this](auto handler, int s, std::string r) {
          start_notify(s, std::move(r), NotifyHandler(std::move(handler)));
        },
        token, status, std::move(reason));
  }

  /// True once the final NOTIFY (status >= 200) was asked for.
  [[nodiscard]] bool finished() const noexcept;

 private:
  struct State;  // what outlives the notifier: the queue of NOTIFYs (refer.cpp)
  friend std::shared_ptr<ReferNotifier> accept_refer(const std::shared_ptr<Dialog>& dialog, Request req, Response res);
  ReferNotifier(std::shared_ptr<State> state, ReferTo refer_to, std::string referred_by, std::string call_id);
  using NotifyHandler = boost::asio::any_completion_handler<void(std::exception_ptr)>;
  void start_notify(int status, std::string reason, NotifyHandler handler);

  std::shared_ptr<State> state_;
  ReferTo refer_to_;
  std::string referred_by_;
  std::string call_id_;
};

/// Answers the REFER `req` received on `dialog` 202 Accepted and sends NOTIFY "100 Trying"
/// (Subscription-State: active). A REFER without a usable Refer-To (none, several, or one
/// parse_refer_to refuses) gets 400 and yields null; so does one whose dialog has ended
/// (481). Use it from the dialog's REFER handler: `dialog->on("REFER", ...)`.
std::shared_ptr<ReferNotifier> accept_refer(const std::shared_ptr<Dialog>& dialog, Request req, Response res);

/// What Dialog::async_refer sends, and how long it waits.
struct ReferOptions {
  /// Extra headers on the REFER.
  HeaderList headers{};
  /// The Referred-By value (RFC 3892); none when empty.
  std::string referred_by{};
  /// From sending the REFER to the final NOTIFY; past it the operation fails with
  /// SipFailure 408 (local). 0: no limit.
  std::chrono::milliseconds timeout{32000};
  /// Called with each sipfrag status reported by a NOTIFY (the final one included).
  std::function<void(int status, const std::string& reason)> on_progress{};
};

/// What the referred request came to: the status of the final sipfrag.
struct ReferOutcome {
  /// The status line's code (e.g. 200); 0 when the final NOTIFY carried no sipfrag.
  int status{0};
  /// Its reason phrase.
  std::string reason{};
};

/// Splits a sipfrag body's status line ("SIP/2.0 180 Ringing"); nullopt when it is none.
std::optional<ReferOutcome> parse_sipfrag_status(std::string_view body);

}  // namespace astmrf::srf
