#include <astmrf/util/base64.hpp>

#include <openssl/evp.h>

#include <limits>
#include <stdexcept>

namespace astmrf::util {

std::string base64_encode(std::string_view data) {
  if (data.size() > static_cast<std::size_t>(std::numeric_limits<int>::max() / 4 * 3)) {
    throw std::length_error("base64_encode: input too large");
  }
  // EVP_EncodeBlock writes 4 characters per 3 bytes (padded) and a terminating NUL.
  std::string out((data.size() + 2) / 3 * 4 + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(data.data()),
                      static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

}  // namespace astmrf::util
