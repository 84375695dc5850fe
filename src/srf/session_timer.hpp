// Session timers (RFC 4028) inside srf: header parsing, the UAS and UAC negotiation, and the
// per-dialog timer state (Dialog's refresh and expiry live in session_timer.cpp).
#pragma once

#include <astmrf/sip/message.hpp>
#include <astmrf/srf/backend.hpp>
#include <astmrf/srf/session_timer.hpp>

#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace astmrf::srf::detail {

/// A Session-Expires value: delta-seconds and the refresher parameter ("uac", "uas" or empty).
struct SessionExpires {
  std::uint32_t seconds{0};
  std::string refresher;
};
/// Parses "1800;refresher=uac"; nothing when the value is not delta-seconds.
std::optional<SessionExpires> parse_session_expires(std::string_view value);
/// Parses a Min-SE value ("90", parameters ignored).
std::optional<std::uint32_t> parse_min_se(std::string_view value);
/// True when a header `name` of `message` lists option tag / method `token` (comma lists,
/// repeated headers, any case).
bool lists_token(const sip::Message& message, std::string_view name, std::string_view token);

/// What a dialog's session timer runs with.
struct SessionTimerPlan {
  std::uint32_t interval{0};  ///< seconds
  std::uint32_t min_se{0};    ///< seconds, our Min-SE on refreshes
  bool local_refresher{false};
  bool use_update{false};  ///< refresh with UPDATE (else re-INVITE)
  bool peer_supports{false};
};

/// The UAS side: 422 (reject_min_se set) or the plan and the 2xx headers.
struct UasNegotiation {
  std::uint32_t reject_min_se{0};  ///< non-zero: answer 422 with this Min-SE
  SessionTimerPlan plan;
  HeaderList headers;  ///< Session-Expires (and Require: timer) for the 2xx
};
UasNegotiation negotiate_uas(const sip::Message& invite, const SessionTimerOptions& options);
/// The UAC side, from the 2xx: nothing when the 2xx has no Session-Expires (no timer).
std::optional<SessionTimerPlan> negotiate_uac(const sip::Message& response, const SessionTimerOptions& options,
                                              std::uint32_t min_se);

/// A dialog's running session timer.
struct SessionTimer {
  SessionTimer(const boost::asio::any_io_executor& executor, SessionTimerPlan p) : plan(p), timer(executor) {}
  SessionTimerPlan plan;
  boost::asio::steady_timer timer;
  bool refresh_pending{false};  // our refresh is out: the next expiry ends the session
  /// This side refreshes next (else it waits for the peer's refresh).
  [[nodiscard]] bool local_refresher_due() const noexcept { return plan.local_refresher; }
};

}  // namespace astmrf::srf::detail
