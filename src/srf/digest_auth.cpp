#include "digest.hpp"
#include "digest_auth_detail.hpp"
#include "server_state.hpp"

#include <astmrf/sip/header_id.hpp>
#include <astmrf/sip/header_parsers.hpp>
#include <astmrf/srf/digest_auth.hpp>
#include <astmrf/util/hex.hpp>
#include <astmrf/util/random.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <deque>
#include <stdexcept>
#include <unordered_map>

namespace astmrf::srf {

const char* to_string(DigestAlgorithm algorithm) noexcept {
  return algorithm == DigestAlgorithm::sha256 ? "SHA-256" : "MD5";
}

namespace detail {

std::optional<std::string> digest_response(std::string_view algorithm, std::string_view ha1, std::string_view nonce,
                                           std::string_view nc, std::string_view cnonce, std::string_view method,
                                           std::string_view uri) {
  auto ha2 = hash_hex(algorithm, std::string(method) + ":" + std::string(uri));
  if (!ha2) return std::nullopt;
  return hash_hex(algorithm, std::string(ha1) + ":" + std::string(nonce) + ":" + std::string(nc) + ":" +
                                 std::string(cnonce) + ":auth:" + *ha2);
}

bool hex_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(a[i])) ^
                                       std::tolower(static_cast<unsigned char>(b[i])));
  }
  return diff == 0;
}

}  // namespace detail

namespace {

constexpr std::size_t kMacBytes = 16;  // HMAC-SHA-256 truncated: 128 bits are plenty for a nonce

std::optional<std::uint64_t> parse_hex64(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace

struct DigestAuth::State {
  DigestAuthOptions options;
  std::array<unsigned char, 32> key{};
  util::Random random;
  // Nonces in use: the last nonce-count seen, and when the nonce was made.
  struct Seen {
    std::uint32_t nc{0};
    std::uint64_t issued{0};
  };
  std::unordered_map<std::string, Seen> seen;
  std::deque<std::string> seen_order;  // first use order: the oldest are forgotten first
  std::uint64_t forgotten_up_to{0};    // nonces made at or before this may have been forgotten

  std::uint64_t now() const {
    auto t = options.clock ? options.clock() : std::chrono::steady_clock::now();
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  }

  std::string mac(std::string_view text) const {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
         text.size(), out, &size);
    return util::to_hex(out, std::min<std::size_t>(size, kMacBytes));
  }

  // timestamp (16 hex) + salt (16 hex) + MAC of both (32 hex).
  std::string make_nonce() {
    std::string body;
    body.reserve(64);
    char stamp[17];
    auto [end, ec] = std::to_chars(stamp, stamp + 16, now(), 16);
    body.append(16 - static_cast<std::size_t>(end - stamp), '0');
    body.append(stamp, end);
    random.append_hex(body, 16);
    return body + mac(body);
  }

  // The nonce's timestamp when it was made here; nullopt otherwise.
  std::optional<std::uint64_t> check_nonce(std::string_view nonce) const {
    if (nonce.size() != 32 + kMacBytes * 2) return std::nullopt;
    if (!detail::hex_equal(mac(nonce.substr(0, 32)), nonce.substr(32))) return std::nullopt;
    return parse_hex64(nonce.substr(0, 16));
  }

  bool expired(std::uint64_t issued) const {
    return now() > issued + static_cast<std::uint64_t>(options.nonce_lifetime.count());
  }

  // Records `nc` for `nonce`; false for a replay (not above the last one) or a forgotten nonce.
  bool accept_count(const std::string& nonce, std::uint64_t issued, std::uint32_t nc) {
    auto it = seen.find(nonce);
    if (it != seen.end()) {
      if (nc <= it->second.nc) return false;
      it->second.nc = nc;
      return true;
    }
    if (issued <= forgotten_up_to) return false;
    // Expired ones first: forgetting them costs nothing (they are refused anyway).
    while (!seen_order.empty()) {
      auto front = seen.find(seen_order.front());
      if (front != seen.end() && !expired(front->second.issued)) break;
      if (front != seen.end()) seen.erase(front);
      seen_order.pop_front();
    }
    while (!seen_order.empty() && seen.size() >= std::max<std::size_t>(options.max_tracked_nonces, 1)) {
      auto front = seen.find(seen_order.front());
      if (front != seen.end()) {
        forgotten_up_to = std::max(forgotten_up_to, front->second.issued);
        seen.erase(front);
      }
      seen_order.pop_front();
    }
    seen.emplace(nonce, Seen{nc, issued});
    seen_order.push_back(nonce);
    return true;
  }

  bool challenged(std::string_view method) const {
    if (options.methods.empty()) return method != "ACK" && method != "CANCEL";
    return std::any_of(options.methods.begin(), options.methods.end(),
                       [&](const std::string& m) { return sip::iequals(m, method); });
  }

  void challenge(Response& res, bool stale) {
    const std::string nonce = make_nonce();
    HeaderList headers;
    const char* name = options.proxy ? "Proxy-Authenticate" : "WWW-Authenticate";
    for (auto algorithm : options.algorithms) {
      std::string value = "Digest realm=" + quoted(options.realm) + ", nonce=\"" + nonce +
                          "\", algorithm=" + to_string(algorithm) + ", qop=\"auth\"";
      if (stale) value += ", stale=true";
      headers.emplace_back(name, std::move(value));
    }
    res.send(
        options.proxy ? 407 : 401,
        ResponseOptions{options.proxy ? "Proxy Authentication Required" : "Unauthorized", std::move(headers), {}, {}});
  }
};

namespace {

// The credentials being checked while the application looks the user up. Dropped without an
// answer (every copy of `done` gone), the request gets 500 rather than waiting forever.
struct Pending {
  Request req;
  Response res;
  std::function<void()> next;
  std::string username, nonce, nc_text, cnonce, uri, response, algorithm;
  std::uint64_t issued{0};
  std::uint32_t nc{0};
  bool answered{false};

  Pending(Request q, Response s, std::function<void()> n) : req(std::move(q)), res(std::move(s)), next(std::move(n)) {}
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;
  ~Pending() {
    if (answered || res.finished()) return;
    try {
      res.send(500, ResponseOptions{"Credentials Lookup Failed", {}, {}, {}});
    } catch (...) {  // nothing to do: the transaction is gone
    }
  }
};

// The digest-uri names the Request-URI (RFC 3261 22.4). Some UAs (sipp) leave out its user part:
// "sip:host:port" for "sip:user@host:port" is taken too (the method and the nonce-count are in the
// response, so this lets no request through that the UA did not sign).
bool same_uri(std::string_view digest_uri, std::string_view request_uri) {
  if (digest_uri == request_uri) return true;
  auto colon = request_uri.find(':');
  auto at = request_uri.find('@');
  if (colon == std::string_view::npos || at == std::string_view::npos || at < colon) return false;
  return digest_uri.size() == colon + 1 + (request_uri.size() - at - 1) &&
         digest_uri.substr(0, colon + 1) == request_uri.substr(0, colon + 1) &&
         digest_uri.substr(colon + 1) == request_uri.substr(at + 1);
}

void bad_request(Response& res, std::string reason) { res.send(400, ResponseOptions{std::move(reason), {}, {}, {}}); }

}  // namespace

DigestAuth::DigestAuth(DigestAuthOptions options) : state_(std::make_shared<State>()) {
  if (options.realm.empty()) throw std::invalid_argument("DigestAuth: a realm is required");
  if (!options.credentials) throw std::invalid_argument("DigestAuth: a credentials callback is required");
  if (options.algorithms.empty()) throw std::invalid_argument("DigestAuth: at least one algorithm is required");
  state_->options = std::move(options);
  if (RAND_bytes(state_->key.data(), static_cast<int>(state_->key.size())) != 1)
    throw std::runtime_error("DigestAuth: no random key");
}

DigestAuth::~DigestAuth() = default;

std::string DigestAuth::make_nonce() const { return state_->make_nonce(); }

Middleware DigestAuth::middleware() const {
  return [state = state_](Request& req, Response& res, const std::function<void()>& next) {
    const auto& options = state->options;
    if (!state->challenged(req.method())) {
      next();
      return;
    }
    // The credentials for our realm (a UA may send one per realm it knows).
    const char* header = options.proxy ? "Proxy-Authorization" : "Authorization";
    std::optional<sip::AuthParams> credentials;
    for (const auto& field : req.msg().headers()) {
      if (!sip::iequals(field.name, header)) continue;
      auto parsed = sip::parse_auth_params(field.value);
      if (!parsed) return bad_request(res, std::string("Malformed ") + header);
      if (!sip::iequals(parsed->scheme, "Digest")) continue;
      if (parsed->param("realm").value_or("") != options.realm) continue;
      credentials = std::move(*parsed);
      break;
    }
    if (!credentials) return state->challenge(res, false);
    for (const char* field : {"username", "nonce", "uri", "response", "qop", "nc", "cnonce"}) {
      if (!credentials->param(field)) return bad_request(res, std::string("Missing ") + field + " in " + header);
    }
    if (!sip::iequals(*credentials->param("qop"), "auth")) return bad_request(res, "Unsupported qop (auth only)");
    auto nc_text = *credentials->param("nc");
    auto nc = parse_hex64(nc_text);
    if (nc_text.size() != 8 || !nc) return bad_request(res, "Malformed nc in " + std::string(header));
    if (!same_uri(*credentials->param("uri"), req.uri()))
      return bad_request(res, "Digest uri does not match the Request-URI");
    const std::string_view algorithm = credentials->param("algorithm").value_or("MD5");
    const bool offered = std::any_of(options.algorithms.begin(), options.algorithms.end(),
                                     [&](DigestAlgorithm a) { return sip::iequals(to_string(a), algorithm); });
    if (!offered) return state->challenge(res, false);
    auto issued = state->check_nonce(*credentials->param("nonce"));
    if (!issued) return state->challenge(res, false);  // not one of ours (or made with another key)

    auto pending = std::make_shared<Pending>(req, res, next);
    pending->username = std::string(*credentials->param("username"));
    pending->nonce = std::string(*credentials->param("nonce"));
    pending->nc_text = std::string(nc_text);
    pending->nc = static_cast<std::uint32_t>(*nc);
    pending->cnonce = std::string(*credentials->param("cnonce"));
    pending->uri = std::string(*credentials->param("uri"));
    pending->response = std::string(*credentials->param("response"));
    pending->algorithm = std::string(algorithm);
    pending->issued = *issued;
    std::weak_ptr<State> weak = state;
    options.credentials(pending->username, options.realm, [pending, weak](std::optional<Credential> credential) {
      if (pending->answered) return;  // only the first answer counts
      auto s = weak.lock();
      if (!s) return;  // the DigestAuth is gone: Pending answers 500
      pending->answered = true;
      if (pending->res.finished()) return;  // CANCELled meanwhile
      std::optional<std::string> ha1;
      if (credential && !credential->password.empty()) {
        ha1 = detail::hash_hex(pending->algorithm,
                               pending->username + ":" + s->options.realm + ":" + credential->password);
      } else if (credential) {
        const auto& stored = sip::iequals(pending->algorithm, "SHA-256") ? credential->ha1_sha256 : credential->ha1_md5;
        if (!stored.empty()) ha1 = stored;
      }
      std::optional<std::string> expected;
      if (ha1) {
        expected = detail::digest_response(pending->algorithm, *ha1, pending->nonce, pending->nc_text, pending->cnonce,
                                           pending->req.method(), pending->uri);
      }
      const bool correct = expected && detail::hex_equal(*expected, pending->response);
      if (!correct) {
        // An expired nonce proves nothing about the password: challenge again. A fresh one: the
        // UA answered our challenge with a wrong password (or for an unknown user).
        if (s->expired(pending->issued))
          s->challenge(pending->res, false);
        else
          pending->res.send(403, ResponseOptions{"Forbidden", {}, {}, {}});
        return;
      }
      // Right password, but a nonce too old or a count already used: a new nonce (stale=true
      // tells the UA to retry with the same credentials).
      if (s->expired(pending->issued) || !s->accept_count(pending->nonce, pending->issued, pending->nc)) {
        s->challenge(pending->res, true);
        return;
      }
      detail::Access::state(pending->req)->authenticated_user = pending->username;
      pending->next();
    });
  };
}

}  // namespace astmrf::srf
