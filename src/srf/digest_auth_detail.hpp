// The computations of DigestAuth, exposed for the unit tests (RFC 7616 vectors).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace astmrf::srf::detail {

/// The qop=auth request-digest (RFC 7616 3.4.1): H(HA1:nonce:nc:cnonce:auth:H(method:uri)),
/// nullopt for an unknown algorithm.
std::optional<std::string> digest_response(std::string_view algorithm, std::string_view ha1, std::string_view nonce,
                                           std::string_view nc, std::string_view cnonce, std::string_view method,
                                           std::string_view uri);

/// Constant-time comparison of two hex strings (case-insensitive).
bool hex_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace astmrf::srf::detail
