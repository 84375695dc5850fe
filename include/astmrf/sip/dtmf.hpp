// DTMF carried in the body of a SIP INFO, the way many phones and gateways send it
// instead of (or besides) RFC 4733 events: application/dtmf-relay ("Signal=5",
// "Duration=160" lines) and application/dtmf (the key alone).
#pragma once

#include <astmrf/sip/result.hpp>

#include <chrono>
#include <string_view>

namespace astmrf::sip {

/// One key press read from an INFO body.
struct InfoDtmf {
  /// '0'-'9', '*', '#' or 'A'-'D' (upper case).
  char digit{0};
  /// How long the key was held; 0 when the body does not say.
  std::chrono::milliseconds duration{0};
};

/// True when `content_type` (a Content-Type value, parameters allowed) is one of the DTMF
/// INFO body types: application/dtmf-relay or application/dtmf.
[[nodiscard]] bool is_info_dtmf(std::string_view content_type);

/// Reads the key press in the body of an INFO of type `content_type`.
///   application/dtmf-relay: lines `Signal=<key>` (required) and `Duration=<ms>` (optional),
///     names in any case, blanks around '=', CRLF or LF, other lines ignored;
///   application/dtmf: the key alone (blanks and a line end around it allowed).
/// A key is one of 0-9 * # A-D (a-d accepted), or its RFC 4733 event number 0-15 (10 is '*',
/// 11 is '#', 12-15 are A-D), which some senders write instead. Fails with ParseErrc::bad_dtmf
/// for any other body, and for a content type that is_info_dtmf() refuses.
Result<InfoDtmf> parse_info_dtmf(std::string_view content_type, std::string_view body);

}  // namespace astmrf::sip
