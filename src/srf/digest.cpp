#include "digest.hpp"

#include <astmrf/util/hex.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace astmrf::srf::detail {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// qop is a comma-separated list in the challenge; we speak "auth" only.
bool offers_auth(std::string_view qop) {
  while (!qop.empty()) {
    auto comma = qop.find(',');
    auto token = qop.substr(0, comma);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (iequals(token, "auth")) return true;
    if (comma == std::string_view::npos) break;
    qop.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::optional<std::string> hash_hex(std::string_view algorithm, std::string_view data) {
  const EVP_MD* md = nullptr;
  if (algorithm.empty() || iequals(algorithm, "MD5"))
    md = EVP_md5();
  else if (iequals(algorithm, "SHA-256"))
    md = EVP_sha256();
  else
    return std::nullopt;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, md, nullptr) != 1) return std::nullopt;
  return util::to_hex(digest, size);
}

std::optional<std::string> digest_credentials(const sip::AuthParams& challenge, const DigestInput& input) {
  if (!iequals(challenge.scheme, "Digest")) return std::nullopt;
  const std::string_view realm = challenge.param("realm").value_or("");
  const std::string_view nonce = challenge.param("nonce").value_or("");
  const std::string_view algorithm = challenge.param("algorithm").value_or("MD5");
  const bool qop_auth = offers_auth(challenge.param("qop").value_or(""));

  auto ha1 =
      hash_hex(algorithm, std::string(input.username) + ":" + std::string(realm) + ":" + std::string(input.password));
  auto ha2 = hash_hex(algorithm, std::string(input.method) + ":" + std::string(input.uri));
  if (!ha1 || !ha2) return std::nullopt;
  std::string to_hash = *ha1 + ":" + std::string(nonce) + ":";
  if (qop_auth) to_hash += std::string(input.nc) + ":" + std::string(input.cnonce) + ":auth:";
  to_hash += *ha2;
  auto response = hash_hex(algorithm, to_hash);
  if (!response) return std::nullopt;

  std::string value = "Digest username=\"" + std::string(input.username) + "\", realm=\"" + std::string(realm) +
                      "\", nonce=\"" + std::string(nonce) + "\", uri=\"" + std::string(input.uri) + "\", response=\"" +
                      *response + "\", algorithm=" + std::string(algorithm);
  if (qop_auth) {
    value += ", qop=auth, nc=" + std::string(input.nc) + ", cnonce=\"" + std::string(input.cnonce) + "\"";
  }
  if (auto opaque = challenge.param("opaque")) value += ", opaque=\"" + std::string(*opaque) + "\"";
  return value;
}

}  // namespace astmrf::srf::detail
