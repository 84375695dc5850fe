// Well-known SIP header names mapped to an enum, so that lookups compare one
// byte instead of case-folding strings. Compact forms map to the same id.
#pragma once

#include <astmrf/util/ascii.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace astmrf::sip {

/// ASCII case-insensitive equality (header names, params, schemes): util::iequals.
using util::iequals;

/// The headers the parser knows by name (full and compact forms), for lookups without string compares.
enum class HeaderId : std::uint8_t {
  other = 0,  ///< extension header: compare by name
  accept,
  accept_contact,
  accept_encoding,
  accept_language,
  alert_info,
  allow,
  allow_events,
  authentication_info,
  authorization,
  call_id,
  call_info,
  contact,
  content_disposition,
  content_encoding,
  content_language,
  content_length,
  content_type,
  cseq,
  date,
  error_info,
  event,
  expires,
  from,
  identity,
  in_reply_to,
  max_forwards,
  min_expires,
  min_se,
  mime_version,
  organization,
  p_asserted_identity,
  priority,
  proxy_authenticate,
  proxy_authorization,
  proxy_require,
  rack,
  reason,
  record_route,
  refer_to,
  referred_by,
  reply_to,
  require,
  retry_after,
  route,
  rseq,
  server,
  session_expires,
  subject,
  subscription_state,
  supported,
  timestamp,
  to,
  unsupported,
  user_agent,
  via,
  warning,
  www_authenticate,
  count_  ///< number of ids, not a header
};

/// Maps a header name (any case, full or compact form) to its id;
/// HeaderId::other for extension headers.
HeaderId header_id(std::string_view name) noexcept;

/// Canonical full name ("Call-ID", "CSeq", "WWW-Authenticate"); empty for other.
std::string_view header_name(HeaderId id) noexcept;

/// Compact form letter, or '\0' when the header has none.
char compact_form(HeaderId id) noexcept;

/// True when RFC 3261 (or the defining RFC) allows several comma-separated
/// values in one header line, so that splitting on top-level commas is legal.
bool is_list_header(HeaderId id) noexcept;

}  // namespace astmrf::sip
