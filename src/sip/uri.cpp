#include "chars.hpp"
#include "error_util.hpp"
#include "parse_internal.hpp"

#include <astmrf/sip/header_id.hpp>
#include <astmrf/sip/uri.hpp>

namespace astmrf::sip {
namespace detail {

namespace {

bool valid_ipv4(std::string_view s) noexcept {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    unsigned v = 0;
    while (i < s.size() && is_digit(s[i])) {
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
      if (i - start >= 3 || v > 255) return false;
      ++i;
    }
    if (i == start) return false;
    ++parts;
    if (i == s.size()) return parts == 4;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
}

// hostname = *( domainlabel "." ) toplabel [ "." ] (RFC 3261 25.1): labels of
// alnum and '-', not starting or ending with '-', the last one starting with a
// letter. One pass, no substrings.
bool valid_hostname(std::string_view s) noexcept {
  std::size_t n = s.size();
  if (n == 0 || n > 255) return false;
  if (s[n - 1] == '.') --n;
  if (n == 0) return false;
  std::size_t label = 0;
  for (std::size_t i = skip_class(s.data(), 0, n, kAlnum); i < n; i = skip_class(s.data(), i + 1, n, kAlnum)) {
    const char c = s[i];
    if (c == '.') {
      if (i == label || s[i - 1] == '-') return false;
      label = i + 1;
    } else if (c != '-' || i == label) {
      return false;
    }
  }
  return label < n && s[n - 1] != '-' && is(s[label], kAlpha);
}

// True when every byte of s is in `cls` or a valid %HH escape, and s is not
// empty; a table lookup per byte.
inline bool escaped_run(std::string_view s, std::uint32_t cls) noexcept { return !s.empty() && all_escaped_of(s, cls); }

// Validates ";name[=value]" items (params, `s` without the leading ';') or
// "name=value&..." (headers) in one pass.
bool valid_items(std::string_view s, char sep, std::uint32_t cls, bool require_value) noexcept {
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (true) {
    const std::size_t name_start = i;
    while (i < n && s[i] != sep && s[i] != '=') ++i;
    if (!escaped_run(s.substr(name_start, i - name_start), cls)) return false;
    if (i < n && s[i] == '=') {
      const std::size_t value_start = ++i;
      while (i < n && s[i] != sep) ++i;
      const auto value = s.substr(value_start, i - value_start);
      if (value.empty()) {
        if (!require_value) return false;
      } else if (!all_escaped_of(value, cls)) {
        return false;
      }
    } else if (require_value) {
      return false;
    }
    if (i >= n) return true;
    ++i;  // separator; a trailing one leaves an empty name, which fails above
  }
}

const char* parse_params_and_headers(std::string_view rest, Uri& uri) noexcept {
  // rest starts at ';' or '?' or is empty
  std::string_view params = rest;
  const auto q = find_char(rest, '?');
  if (q != std::string_view::npos) {
    params = rest.substr(0, q);
    const auto headers = rest.substr(q + 1);
    if (!valid_items(headers, '&', kUnreserved | kHeaderExtra, true)) return "malformed URI header";
    uri.headers = headers;
  }
  if (!params.empty()) {
    if (params[0] != ';' || !valid_items(params.substr(1), ';', kUnreserved | kParamExtra, false)) {
      return "malformed URI parameter";
    }
    uri.params = params;
  }
  return nullptr;
}

const char* parse_sip_uri(std::string_view rest, Uri& uri) noexcept {
  // userinfo: everything before the first '@' (neither host nor params may
  // hold one). Fast path: scan user characters and escapes; when that stops
  // at '@', the user part is found and checked in the same pass.
  {
    const char* p = rest.data();
    const std::size_t n = rest.size();
    std::size_t i = 0;
    while (true) {
      i = skip_class(p, i, n, kUnreserved | kUserExtra);
      if (i + 2 < n && p[i] == '%' && hex_value(p[i + 1]) >= 0 && hex_value(p[i + 2]) >= 0) {
        i += 3;
        continue;
      }
      break;
    }
    std::size_t at = std::string_view::npos;
    if (i < n && p[i] == '@') {
      if (i == 0) return "empty user part before '@'";
      uri.user = std::string_view(p, i);
      rest = rest.substr(i + 1);
    } else if ((at = find_char(rest, '@', i)) != std::string_view::npos) {
      const auto userinfo = rest.substr(0, at);
      const auto colon = find_char(userinfo, ':');
      uri.user = userinfo.substr(0, colon);
      if (uri.user.empty()) return "empty user part before '@'";
      if (!all_escaped_of(uri.user, kUnreserved | kUserExtra)) return "invalid character in URI user part";
      if (colon != std::string_view::npos) {
        uri.password = userinfo.substr(colon + 1);
        uri.has_password = true;
        if (!all_escaped_of(uri.password, kUnreserved | kPassExtra)) return "invalid character in URI password";
      }
      rest = rest.substr(at + 1);
    }
  }
  const std::size_t n = rest.size();
  std::size_t i = 0;
  if (n != 0 && rest[0] == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return "unterminated IPv6 reference";
    uri.host = rest.substr(1, close - 1);
    if (!valid_ipv6(uri.host)) return "invalid IPv6 reference";
    uri.host_kind = HostKind::ipv6;
    i = close + 1;
  } else {
    i = scan_host(rest.data(), 0, n, uri.host_kind);
    if (i < n && rest[i] != ':' && rest[i] != ';' && rest[i] != '?') return "invalid host";
    if (i == 0) return "missing host";
    uri.host = std::string_view(rest.data(), i);
    if (uri.host_kind == HostKind::none) return "invalid host";
  }
  if (i < n && rest[i] == ':') {
    std::uint32_t port = 0;
    const std::size_t start = ++i;
    while (i < n && is_digit(rest[i])) {
      port = port * 10 + static_cast<std::uint32_t>(rest[i++] - '0');
      if (port > 65535) return "invalid port";
    }
    if (i == start || (i < n && rest[i] != ';' && rest[i] != '?')) return "invalid port";
    uri.port = static_cast<std::uint16_t>(port);
    uri.has_port = true;
  }
  if (i < n && rest[i] != ';' && rest[i] != '?') return "unexpected character after host";
  return parse_params_and_headers(rest.substr(i), uri);
}

}  // namespace

bool valid_ipv6(std::string_view s) noexcept {
  if (s.empty()) return false;
  int groups = 0;
  bool compressed = false;
  std::size_t i = 0;
  if (s.substr(0, 2) == "::") {
    compressed = true;
    i = 2;
    if (i == s.size()) return true;
  } else if (s[0] == ':') {
    return false;
  }
  while (i < s.size()) {
    std::size_t start = i;
    while (i < s.size() && hex_value(s[i]) >= 0 && i - start < 5) ++i;
    if (i < s.size() && s[i] == '.') {  // embedded IPv4 tail counts as two groups
      if (!valid_ipv4(s.substr(start))) return false;
      groups += 2;
      i = s.size();
      break;
    }
    const std::size_t len = i - start;
    if (len == 0 || len > 4) return false;
    ++groups;
    if (i == s.size()) break;
    if (s[i] != ':') return false;
    ++i;
    if (i < s.size() && s[i] == ':') {
      if (compressed) return false;
      compressed = true;
      ++i;
      if (i == s.size()) break;
    } else if (i == s.size()) {
      return false;  // trailing single ':'
    }
  }
  return compressed ? groups <= 7 : groups == 8;
}

std::size_t scan_host(const char* p, std::size_t start, std::size_t n, HostKind& kind) noexcept {
  // Dotted-quad fast path: four 1-3 digit octets <= 255 not followed by
  // another hostname character.
  if (start < n && is_digit(p[start])) {
    std::size_t i = start;
    int parts = 0;
    while (true) {
      unsigned v = 0;
      const std::size_t s0 = i;
      while (i < n && is_digit(p[i]) && i - s0 < 3) v = v * 10 + static_cast<unsigned>(p[i++] - '0');
      if (i == s0 || v > 255 || ++parts == 4 || i >= n || p[i] != '.') break;
      ++i;
    }
    if (parts == 4 && (i >= n || !is(p[i], kHost))) {
      kind = HostKind::ipv4;
      return i;
    }
  }
  // One pass over alnum runs; '-' and '.' are checked against the label
  // rules of valid_hostname() on the way.
  bool ok = true;
  std::size_t label = start, prev_label = start;
  std::size_t i = skip_class(p, start, n, kAlnum);
  while (i < n) {
    const char c = p[i];
    if (c == '.') {
      if (i == label || p[i - 1] == '-') ok = false;
      prev_label = label;
      label = i + 1;
    } else if (c == '-') {
      if (i == label) ok = false;
    } else {
      break;
    }
    i = skip_class(p, i + 1, n, kAlnum);
  }
  const std::string_view s(p + start, i - start);
  kind = HostKind::none;
  if (s.empty()) return i;
  if (is_digit(s.back()) && valid_ipv4(s)) {
    kind = HostKind::ipv4;
  } else if (ok && s.size() <= 255) {
    // hostname: the last label (before an optional trailing '.') starts with
    // a letter and does not end with '-'
    const std::size_t top = s.back() == '.' ? prev_label : label;
    if (s.back() == '.' ? s.size() > 1 : (label < i && p[i - 1] != '-')) {
      if (is(p[top], kAlpha)) kind = HostKind::hostname;
    }
  }
  return i;
}

HostKind classify_plain_host(std::string_view s) noexcept {
  if (!s.empty() && is_digit(s.back()) && valid_ipv4(s)) return HostKind::ipv4;
  return valid_hostname(s) ? HostKind::hostname : HostKind::none;
}

const char* parse_uri_into(std::string_view text, Uri& uri) noexcept {
  if (text.empty()) return "empty URI";
  std::size_t colon = 0;
  colon = skip_class(text.data(), 0, text.size(), kScheme);
  if (colon == text.size() || text[colon] != ':') {
    // Same diagnostics as a scheme check after locating the first ':'.
    const auto c = text.find(':');
    if (c == std::string_view::npos || c == 0) return "missing URI scheme";
    if (!is(text[0], kAlpha)) return "URI scheme must start with a letter";
    return "invalid character in URI scheme";
  }
  if (colon == 0) return "missing URI scheme";
  if (!is(text[0], kAlpha)) return "URI scheme must start with a letter";
  const auto scheme = text.substr(0, colon);
  uri.scheme_text = scheme;
  const auto rest = text.substr(colon + 1);
  if ((colon == 3 || colon == 4) && to_lower(scheme[0]) == 's' && to_lower(scheme[1]) == 'i' &&
      to_lower(scheme[2]) == 'p' && (colon == 3 || to_lower(scheme[3]) == 's')) {
    uri.scheme = colon == 3 ? UriScheme::sip : UriScheme::sips;
    if (const char* err = parse_sip_uri(rest, uri)) return err;
    uri.text = text;
    return nullptr;
  }
  // SIP URIs are checked component by component; the rest only here.
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"') {
      return "whitespace, control or delimiter character inside URI";
    }
  }
  uri.text = text;
  uri.opaque = rest;
  if (iequals(scheme, "tel")) {
    uri.scheme = UriScheme::tel;
    const auto semi = rest.find(';');
    uri.user = rest.substr(0, semi);
    if (uri.user.empty()) return "empty telephone number";
    if (!all_escaped_of(uri.user.substr(uri.user[0] == '+' ? 1 : 0), kPhone))
      return "invalid character in telephone number";
    if (semi != std::string_view::npos) {
      if (const char* err = parse_params_and_headers(rest.substr(semi), uri)) return err;
    }
    return nullptr;
  }
  uri.scheme = UriScheme::other;
  if (rest.empty()) return "empty URI after scheme";
  return nullptr;
}

}  // namespace detail

namespace {

using namespace detail;

template <class F>
void for_each_item(std::string_view s, char sep, F&& f) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t end = s.find(sep, i);
    if (end == std::string_view::npos) end = s.size();
    const auto item = s.substr(i, end - i);
    if (!item.empty()) {
      const auto eq = item.find('=');
      Param p{item.substr(0, eq), {}, eq != std::string_view::npos};
      if (p.has_value) p.value = item.substr(eq + 1);
      if (f(p)) return;
    }
    i = end + 1;
  }
}

}  // namespace

HostKind classify_host(std::string_view host) noexcept {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return valid_ipv6(host.substr(1, host.size() - 2)) ? HostKind::ipv6 : HostKind::none;
  }
  return classify_plain_host(host);
}

Result<Uri> parse_uri(std::string_view text) {
  Result<Uri> r{std::in_place};
  if (const char* err = parse_uri_into(text, *r)) return make_error(ParseErrc::bad_uri, err);
  return r;
}

std::optional<std::string_view> Uri::param(std::string_view name) const {
  std::optional<std::string_view> found;
  if (params.size() > 1) {
    for_each_item(params.substr(1), ';', [&](const Param& p) {
      if (iequals(p.name, name)) {
        found = p.value;
        return true;
      }
      return false;
    });
  }
  return found;
}

std::vector<Param> Uri::param_list() const {
  std::vector<Param> out;
  if (params.size() > 1)
    for_each_item(params.substr(1), ';', [&](const Param& p) {
      out.push_back(p);
      return false;
    });
  return out;
}

std::vector<Param> Uri::header_list() const {
  std::vector<Param> out;
  for_each_item(headers, '&', [&](const Param& p) {
    out.push_back(p);
    return false;
  });
  return out;
}

namespace detail {

std::string host_port_text(std::string_view host, HostKind kind, bool has_port, std::uint16_t port) {
  std::string out;
  out.reserve(host.size() + 8);
  if (kind == HostKind::ipv6) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  if (has_port) {
    out += ':';
    out += std::to_string(port);
  }
  return out;
}

}  // namespace detail

std::string Uri::host_port() const { return detail::host_port_text(host, host_kind, has_port, port); }

std::string Uri::to_string() const {
  std::string out;
  switch (scheme) {
    case UriScheme::sip: out = "sip:"; break;
    case UriScheme::sips: out = "sips:"; break;
    case UriScheme::tel: out = "tel:"; break;
    case UriScheme::other:
      out.reserve(text.size());
      for (char c : scheme_text) out += to_lower(c);
      out += ':';
      out += opaque;
      return out;
  }
  if (scheme == UriScheme::tel) {
    out += user;
    out += params;
    if (!headers.empty()) {
      out += '?';
      out += headers;
    }
    return out;
  }
  if (!user.empty()) {
    out += user;
    if (has_password) {
      out += ':';
      out += password;
    }
    out += '@';
  }
  out += host_port();
  out += params;
  if (!headers.empty()) {
    out += '?';
    out += headers;
  }
  return out;
}

std::string unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

std::string escape_user(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (is(c, kUnreserved | kUserExtra)) {
      out += c;
    } else {
      util::append_percent_encoded(out, static_cast<unsigned char>(c));
    }
  }
  return out;
}

}  // namespace astmrf::sip
