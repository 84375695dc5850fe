#include <astmrf/sip/uri.hpp>

#include <astmrf/sip/header_id.hpp>

#include "chars.hpp"
#include "error_util.hpp"

namespace astmrf::sip {
namespace {

using namespace detail;

ParseError uri_error(std::string reason) {
  return make_error(ParseErrc::bad_uri, std::move(reason));
}

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

bool valid_hostname(std::string_view s) noexcept {
  if (s.empty() || s.size() > 255) return false;
  if (s.back() == '.') s.remove_suffix(1);
  if (s.empty()) return false;
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      const auto label = s.substr(label_start, i - label_start);
      if (label.empty() || label.front() == '-' || label.back() == '-') return false;
      if (i == s.size() && !((label[0] >= 'a' && label[0] <= 'z') || (label[0] >= 'A' && label[0] <= 'Z'))) return false;
      label_start = i + 1;
    } else if (!is(s[i], kAlnum) && s[i] != '-') {
      return false;
    }
  }
  return true;
}

// Validates ";name[=value]" items (params) or "name=value&..." (headers).
bool valid_items(std::string_view s, char sep, std::uint16_t cls, bool require_value) {
  std::size_t i = 0;
  while (i <= s.size()) {
    std::size_t end = s.find(sep, i);
    if (end == std::string_view::npos) end = s.size();
    const auto item = s.substr(i, end - i);
    const auto eq = item.find('=');
    const auto name = item.substr(0, eq);
    if (name.empty() || !all_escaped_of(name, cls)) return false;
    if (eq == std::string_view::npos) {
      if (require_value) return false;
    } else {
      const auto value = item.substr(eq + 1);
      if (!require_value && value.empty()) return false;
      if (!all_escaped_of(value, cls)) return false;
    }
    i = end + 1;
  }
  return true;
}

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

Status parse_params_and_headers(std::string_view rest, Uri& uri) {
  // rest starts at ';' or '?' or is empty
  std::string_view params = rest, headers;
  const auto q = rest.find('?');
  if (q != std::string_view::npos) {
    params = rest.substr(0, q);
    headers = rest.substr(q + 1);
    if (!valid_items(headers, '&', kUnreserved | kHeaderExtra, true)) return uri_error("malformed URI header");
    uri.headers = headers;
  }
  if (!params.empty()) {
    if (params[0] != ';' || !valid_items(params.substr(1), ';', kUnreserved | kParamExtra, false)) {
      return uri_error("malformed URI parameter");
    }
    uri.params = params;
  }
  return ok();
}

Result<Uri> parse_sip_uri(std::string_view text, std::string_view rest, Uri uri) {
  // userinfo: everything before the first '@' (neither host nor params may hold one)
  const auto at = rest.find('@');
  if (at != std::string_view::npos) {
    const auto userinfo = rest.substr(0, at);
    const auto colon = userinfo.find(':');
    uri.user = userinfo.substr(0, colon);
    if (uri.user.empty()) return uri_error("empty user part before '@'");
    if (!all_escaped_of(uri.user, kUnreserved | kUserExtra)) return uri_error("invalid character in URI user part");
    if (colon != std::string_view::npos) {
      uri.password = userinfo.substr(colon + 1);
      uri.has_password = true;
      if (!all_escaped_of(uri.password, kUnreserved | kPassExtra)) return uri_error("invalid character in URI password");
    }
    rest = rest.substr(at + 1);
  }
  std::size_t host_end;
  if (!rest.empty() && rest[0] == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return uri_error("unterminated IPv6 reference");
    uri.host = rest.substr(1, close - 1);
    if (!valid_ipv6(uri.host)) return uri_error("invalid IPv6 reference");
    uri.host_kind = HostKind::ipv6;
    host_end = close + 1;
  } else {
    host_end = rest.find_first_of(":;?");
    if (host_end == std::string_view::npos) host_end = rest.size();
    uri.host = rest.substr(0, host_end);
    if (uri.host.empty()) return uri_error("missing host");
    uri.host_kind = classify_host(uri.host);
    if (uri.host_kind == HostKind::none) return uri_error("invalid host");
  }
  rest = rest.substr(host_end);
  if (!rest.empty() && rest[0] == ':') {
    auto end = rest.find_first_of(";?");
    if (end == std::string_view::npos) end = rest.size();
    std::uint64_t port = 0;
    if (!parse_uint(rest.substr(1, end - 1), 65535, port)) return uri_error("invalid port");
    uri.port = static_cast<std::uint16_t>(port);
    uri.has_port = true;
    rest = rest.substr(end);
  }
  if (!rest.empty() && rest[0] != ';' && rest[0] != '?') return uri_error("unexpected character after host");
  auto st = parse_params_and_headers(rest, uri);
  if (!st) return std::move(st).error();
  uri.text = text;
  return uri;
}

}  // namespace

HostKind classify_host(std::string_view host) noexcept {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return valid_ipv6(host.substr(1, host.size() - 2)) ? HostKind::ipv6 : HostKind::none;
  }
  if (!host.empty() && is_digit(host.back()) && valid_ipv4(host)) return HostKind::ipv4;
  if (valid_hostname(host)) return HostKind::hostname;
  return HostKind::none;
}

Result<Uri> parse_uri(std::string_view text) {
  if (text.empty()) return uri_error("empty URI");
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return uri_error("missing URI scheme");
  const auto scheme = text.substr(0, colon);
  if (!((scheme[0] >= 'a' && scheme[0] <= 'z') || (scheme[0] >= 'A' && scheme[0] <= 'Z'))) {
    return uri_error("URI scheme must start with a letter");
  }
  for (char c : scheme) {
    if (!is(c, kAlnum) && c != '+' && c != '-' && c != '.') return uri_error("invalid character in URI scheme");
  }
  Uri uri;
  uri.scheme_text = scheme;
  const auto rest = text.substr(colon + 1);
  if (iequals(scheme, "sip") || iequals(scheme, "sips")) {
    uri.scheme = scheme.size() == 3 ? UriScheme::sip : UriScheme::sips;
    return parse_sip_uri(text, rest, uri);
  }
  // SIP URIs are checked component by component; the rest only here.
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"') {
      return uri_error("whitespace, control or delimiter character inside URI");
    }
  }
  uri.text = text;
  uri.opaque = rest;
  if (iequals(scheme, "tel")) {
    uri.scheme = UriScheme::tel;
    const auto semi = rest.find(';');
    uri.user = rest.substr(0, semi);
    if (uri.user.empty()) return uri_error("empty telephone number");
    if (!all_escaped_of(uri.user.substr(uri.user[0] == '+' ? 1 : 0), kPhone)) return uri_error("invalid character in telephone number");
    if (semi != std::string_view::npos) {
      auto st = parse_params_and_headers(rest.substr(semi), uri);
      if (!st) return std::move(st).error();
    }
    return uri;
  }
  uri.scheme = UriScheme::other;
  if (rest.empty()) return uri_error("empty URI after scheme");
  return uri;
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
  if (params.size() > 1) for_each_item(params.substr(1), ';', [&](const Param& p) { out.push_back(p); return false; });
  return out;
}

std::vector<Param> Uri::header_list() const {
  std::vector<Param> out;
  for_each_item(headers, '&', [&](const Param& p) { out.push_back(p); return false; });
  return out;
}

std::string Uri::host_port() const {
  std::string out;
  if (host_kind == HostKind::ipv6) {
    out.reserve(host.size() + 8);
    out += '[';
    out += host;
    out += ']';
  } else {
    out = host;
  }
  if (has_port) {
    out += ':';
    out += std::to_string(port);
  }
  return out;
}

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
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (is(c, kUnreserved | kUserExtra)) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

}  // namespace astmrf::sip
