// Session timers (RFC 4028): what UasOptions, UacOptions and B2buaOptions carry to keep a
// call's session refreshed, and to end it with BYE (DialogEndReason::session_timer) when
// the refreshes stop.
#pragma once

#include <chrono>
#include <cstdint>

namespace astmrf::srf {

/// Session timer settings (RFC 4028) of one call.
struct SessionTimerOptions {
  /// Who this side would like to refresh, when the peer leaves the choice open.
  enum class Refresher : std::uint8_t {
    uac,   ///< the side that sent the INVITE
    uas,   ///< the side that answered it
    none,  ///< no preference (a UAS then picks uac, as RFC 4028 9 suggests)
  };
  /// How this side refreshes, when it is the refresher.
  enum class Method : std::uint8_t {
    automatic,  ///< UPDATE when the peer's Allow lists it, else re-INVITE with the current SDP
    invite,     ///< always re-INVITE with the current SDP
    update,     ///< always UPDATE without a body
  };
  /// The session interval asked for (Session-Expires of the INVITE; a UAS lowers a larger
  /// request to it, never below either Min-SE).
  std::chrono::seconds interval{1800};
  /// The smallest interval accepted (Min-SE). RFC 4028 forbids less than 90 s on the wire;
  /// tests may set less to run in seconds.
  std::chrono::seconds min_se{90};
  /// Who should refresh.
  Refresher refresher{Refresher::none};
  /// How to refresh.
  Method method{Method::automatic};
};

}  // namespace astmrf::srf
