// HTTP Digest authentication for SIP (RFC 3261 22, RFC 2617, RFC 8760 SHA-256):
// the Authorization / Proxy-Authorization value that answers a challenge.
#pragma once

#include <astmrf/sip/header_parsers.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace astmrf::srf::detail {

struct DigestInput {
  std::string_view method;  ///< "INVITE"
  std::string_view uri;     ///< the Request-URI
  std::string_view username;
  std::string_view password;
  std::string_view cnonce;  ///< client nonce (random)
  std::string_view nc{"00000001"};
};

/// Hex digest of `data` with "MD5" or "SHA-256"; nullopt for another algorithm.
std::optional<std::string> hash_hex(std::string_view algorithm, std::string_view data);

/// The credentials answering `challenge` (a parsed WWW-/Proxy-Authenticate),
/// or nullopt when its scheme or algorithm is not supported.
std::optional<std::string> digest_credentials(const sip::AuthParams& challenge, const DigestInput& input);

}  // namespace astmrf::srf::detail
