// Base64 (RFC 4648, with padding), for HTTP Basic credentials. OpenSSL's encoder,
// not a hand-written one (docs/DEPENDENCIES.md).
#pragma once

#include <string>
#include <string_view>

namespace astmrf::util {

/// `data` in standard base64 with padding, e.g. "user:pass" → "dXNlcjpwYXNz".
std::string base64_encode(std::string_view data);

}  // namespace astmrf::util
