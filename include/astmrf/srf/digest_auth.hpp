// DigestAuth: caller authentication for Srf (UAS digest, RFC 3261 22, RFC 7616, RFC 8760) as a
// middleware. It challenges requests with 401/WWW-Authenticate (or 407/Proxy-Authenticate),
// checks the credentials of the retry against a password or HA1 the application looks up
// asynchronously, and hands the request on with Request::authenticated_user() set.
//
// Nonces are stateless: a timestamp and a salt, signed with HMAC-SHA-256 under a key each
// DigestAuth draws at random, so that nothing grows with the challenges sent. Only the
// nonce-counts of nonces in use are remembered, in a bounded table.
#pragma once

#include <astmrf/srf/srf.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace astmrf::srf {

/// A digest algorithm (RFC 7616 / RFC 8760).
enum class DigestAlgorithm {
  md5,     ///< "MD5"
  sha256,  ///< "SHA-256"
};

/// A user's secret: the password, or HA1 = H(username ":" realm ":" password) per algorithm
/// (so that passwords need not be stored). With a password, the HA1s are ignored.
struct Credential {
  std::string password;    ///< the password; empty: use the HA1 of the request's algorithm
  std::string ha1_md5;     ///< MD5 HA1, lowercase hex
  std::string ha1_sha256;  ///< SHA-256 HA1, lowercase hex
};

/// Looks up `username` in `realm` and calls `done` once — now or later, on the Srf's executor —
/// with its Credential, or nullopt for an unknown user (answered like a wrong password). If every
/// copy of `done` is dropped without a call, the request gets 500.
using CredentialsLookup = std::function<void(const std::string& username, const std::string& realm,
                                             std::function<void(std::optional<Credential>)> done)>;

/// Options of DigestAuth.
struct DigestAuthOptions {
  /// The realm of the challenges (RFC 3261 22.1: e.g. the domain).
  std::string realm;
  /// The algorithms offered, one challenge each, in this order (RFC 8760 lists SHA-256 first).
  /// MD5 alone by default: many deployed UAs fail on a SHA-256 challenge even when an MD5 one
  /// follows (Debian's sipp and baresip do); offer {sha256, md5} when every UA copes.
  std::vector<DigestAlgorithm> algorithms{DigestAlgorithm::md5};
  /// How long a nonce is accepted; later a correct response gets a new challenge with stale=true.
  std::chrono::seconds nonce_lifetime{std::chrono::seconds(300)};
  /// Proxy authentication: 407 with Proxy-Authenticate, credentials in Proxy-Authorization.
  /// Otherwise 401 with WWW-Authenticate and Authorization.
  bool proxy{false};
  /// The methods challenged; empty: every method but ACK and CANCEL (which cannot be challenged).
  std::vector<std::string> methods;
  /// Where passwords or HA1s come from (required).
  CredentialsLookup credentials;
  /// How many nonces in use have their last nonce-count remembered (replay protection). Beyond
  /// it the oldest are forgotten, and a forgotten nonce gets a new challenge with stale=true.
  std::size_t max_tracked_nonces{10000};
  /// The clock of the nonces' timestamps (tests); null: std::chrono::steady_clock.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

/// UAS digest authentication as an Srf middleware: `srf.use(auth.middleware())`.
///
/// Answers: no credentials (or a nonce not issued here, another realm, an algorithm not
/// offered) → 401/407 with a fresh challenge; credentials with a missing field or without
/// qop=auth → 400 naming the field; a wrong response (or an unknown user) for a nonce issued
/// here → 403; an expired nonce with a correct response, or a nonce-count not above the last one
/// seen for that nonce (a replay) → 401/407 with stale=true and a fresh nonce. A request that
/// passes goes on to the next middleware with Request::authenticated_user() set.
class DigestAuth {
 public:
  /// Draws a random HMAC key for the nonces. Throws std::invalid_argument without a realm or a
  /// credentials callback, or with no algorithm.
  explicit DigestAuth(DigestAuthOptions options);
  ~DigestAuth();
  DigestAuth(const DigestAuth&) = delete;
  DigestAuth& operator=(const DigestAuth&) = delete;

  /// The middleware for Srf::use (it refers to this DigestAuth's state, shared).
  [[nodiscard]] Middleware middleware() const;

  /// A fresh nonce (what the challenges carry).
  [[nodiscard]] std::string make_nonce() const;

  struct State;  ///< internal

 private:
  std::shared_ptr<State> state_;
};

/// "MD5" or "SHA-256".
const char* to_string(DigestAlgorithm algorithm) noexcept;

}  // namespace astmrf::srf
