#include <astmrf/sip/header_parsers.hpp>

#include <astmrf/sip/header_id.hpp>

#include "chars.hpp"
#include "error_util.hpp"

namespace astmrf::sip {
namespace {

using namespace detail;

ParseError value_error(std::string reason, std::size_t offset) {
  // column is filled as an offset within the value; Message rebases it.
  return make_error(ParseErrc::bad_header_value, std::move(reason), 0, static_cast<std::uint32_t>(offset + 1));
}

// A cursor over one header value.
struct Cursor {
  std::string_view s;
  std::size_t pos{0};

  [[nodiscard]] bool done() const { return pos >= s.size(); }
  [[nodiscard]] char peek() const { return pos < s.size() ? s[pos] : '\0'; }
  void skip_ws() {
    while (pos < s.size() && is_wsp(s[pos])) ++pos;
  }
  std::string_view take_while(std::uint16_t cls) {
    const auto start = pos;
    while (pos < s.size() && is(s[pos], cls)) ++pos;
    return s.substr(start, pos - start);
  }
  bool eat(char c) {
    skip_ws();
    if (peek() != c) return false;
    ++pos;
    skip_ws();
    return true;
  }
};

// Reads a quoted-string starting at '"'; returns the inside (escapes kept).
bool read_quoted(Cursor& c, std::string_view& inner) {
  if (c.peek() != '"') return false;
  const auto start = ++c.pos;
  while (c.pos < c.s.size()) {
    const char ch = c.s[c.pos];
    if (ch == '\\') {
      if (c.pos + 1 >= c.s.size()) return false;
      const char next = c.s[c.pos + 1];
      if (next == '\r' || next == '\n') return false;
      c.pos += 2;
      continue;
    }
    if (ch == '"') {
      inner = c.s.substr(start, c.pos - start);
      ++c.pos;
      return true;
    }
    if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t') return false;
    ++c.pos;
  }
  return false;
}

// generic-param list: *( SEMI token [ EQUAL ( token / host / quoted-string ) ] )
// Stops (without error) at ',' or end; errors on anything else.
Status read_params(Cursor& c, ParamList& out) {
  while (true) {
    c.skip_ws();
    if (c.peek() != ';') return ok();
    ++c.pos;
    c.skip_ws();
    Param p;
    p.name = c.take_while(kToken);
    if (p.name.empty()) return value_error("parameter name expected after ';'", c.pos);
    c.skip_ws();
    if (c.peek() == '=') {
      ++c.pos;
      c.skip_ws();
      p.has_value = true;
      if (c.peek() == '"') {
        if (!read_quoted(c, p.value)) return value_error("unterminated quoted parameter value", c.pos);
      } else {
        const auto start = c.pos;
        while (c.pos < c.s.size() && (is(c.s[c.pos], kToken) || c.s[c.pos] == ':' || c.s[c.pos] == '[' || c.s[c.pos] == ']')) ++c.pos;
        p.value = c.s.substr(start, c.pos - start);
        if (p.value.empty()) return value_error("parameter value expected after '='", c.pos);
      }
    }
    out.push_back(p);
  }
}

Status expect_end(Cursor& c, const char* what) {
  c.skip_ws();
  if (!c.done()) return value_error(std::string("unexpected character after ") + what, c.pos);
  return ok();
}

}  // namespace

std::optional<std::string_view> find_param(const ParamList& params, std::string_view name) {
  for (const auto& p : params) {
    if (iequals(p.name, name)) return p.value;
  }
  return std::nullopt;
}

std::string unquote(std::string_view inner) {
  std::string out;
  out.reserve(inner.size());
  for (std::size_t i = 0; i < inner.size(); ++i) {
    if (inner[i] == '\\' && i + 1 < inner.size()) ++i;
    out += inner[i];
  }
  return out;
}

std::vector<std::string_view> split_list(std::string_view value) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  bool in_quotes = false;
  bool in_angle = false;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || (value[i] == ',' && !in_quotes && !in_angle)) {
      const auto item = trim(value.substr(start, i - start));
      if (!item.empty()) out.push_back(item);
      start = i + 1;
      continue;
    }
    const char ch = value[i];
    if (in_quotes) {
      if (ch == '\\') ++i;
      else if (ch == '"') in_quotes = false;
    } else if (ch == '"') {
      in_quotes = true;
    } else if (ch == '<') {
      in_angle = true;
    } else if (ch == '>') {
      in_angle = false;
    }
  }
  return out;
}

std::string Via::sent_by() const {
  std::string out;
  if (host_kind == HostKind::ipv6) {
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

Result<Via> parse_via(std::string_view element) {
  Cursor c{element};
  Via v;
  c.skip_ws();
  v.protocol_name = c.take_while(kToken);
  if (v.protocol_name.empty()) return value_error("protocol name expected", c.pos);
  if (!c.eat('/')) return value_error("'/' expected after protocol name", c.pos);
  v.protocol_version = c.take_while(kToken);
  if (v.protocol_version.empty()) return value_error("protocol version expected", c.pos);
  if (!c.eat('/')) return value_error("'/' expected after protocol version", c.pos);
  v.transport = c.take_while(kToken);
  if (v.transport.empty()) return value_error("transport expected", c.pos);
  if (!is_wsp(c.peek())) return value_error("whitespace expected before sent-by", c.pos);
  c.skip_ws();
  if (c.peek() == '[') {
    const auto close = element.find(']', c.pos);
    if (close == std::string_view::npos) return value_error("unterminated IPv6 reference in sent-by", c.pos);
    v.host = element.substr(c.pos + 1, close - c.pos - 1);
    if (classify_host(element.substr(c.pos, close - c.pos + 1)) != HostKind::ipv6) return value_error("invalid IPv6 sent-by", c.pos);
    v.host_kind = HostKind::ipv6;
    c.pos = close + 1;
  } else {
    const auto start = c.pos;
    v.host = c.take_while(kHost);
    v.host_kind = classify_host(v.host);
    if (v.host_kind == HostKind::none) return value_error("invalid sent-by host", start);
  }
  c.skip_ws();
  if (c.peek() == ':') {
    ++c.pos;
    c.skip_ws();
    const auto start = c.pos;
    std::uint64_t port = 0;
    if (!parse_uint(c.take_while(kDigit), 65535, port)) return value_error("invalid sent-by port", start);
    v.port = static_cast<std::uint16_t>(port);
    v.has_port = true;
  }
  if (auto st = read_params(c, v.params); !st) return std::move(st).error();
  if (auto st = expect_end(c, "Via parameters"); !st) return std::move(st).error();
  for (const auto& p : v.params) {
    if (iequals(p.name, "branch")) {
      v.branch = p.value;
    } else if (iequals(p.name, "received")) {
      std::string bracketed;
      bracketed.reserve(p.value.size() + 2);
      bracketed.append(1, '[').append(p.value).append(1, ']');
      if (classify_host(p.value) == HostKind::none && classify_host(bracketed) == HostKind::none) {
        return value_error("received parameter is not an address", 0);
      }
      v.received = p.value;
    } else if (iequals(p.name, "rport")) {
      v.has_rport = true;
      if (p.has_value) {
        std::uint64_t port = 0;
        if (!parse_uint(p.value, 65535, port)) return value_error("rport is not a port number", 0);
        v.rport = static_cast<std::uint16_t>(port);
      }
    } else if (iequals(p.name, "ttl")) {
      std::uint64_t ttl = 0;
      if (!parse_uint(p.value, 255, ttl)) return value_error("ttl is not in 0..255", 0);
    }
  }
  return v;
}

Result<std::vector<Via>> parse_via_list(std::string_view value) {
  std::vector<Via> out;
  for (auto item : split_list(value)) {
    auto v = parse_via(item);
    if (!v) {
      auto err = std::move(v).error();
      err.column += static_cast<std::uint32_t>(item.data() - value.data());
      return err;
    }
    out.push_back(std::move(*v));
  }
  if (out.empty()) return value_error("empty Via", 0);
  return out;
}

std::string NameAddr::display_name_text() const {
  return display_name_quoted ? unquote(display_name) : std::string(display_name);
}

Result<NameAddr> parse_name_addr(std::string_view value) {
  Cursor c{value};
  NameAddr na;
  c.skip_ws();
  if (c.peek() == '"') {
    if (!read_quoted(c, na.display_name)) return value_error("unterminated quoted display name", c.pos);
    na.display_name_quoted = true;
    c.skip_ws();
    if (c.peek() != '<') return value_error("'<' expected after quoted display name", c.pos);
  } else {
    // display-name = *(token LWS): look ahead for '<'
    std::size_t p = c.pos;
    while (p < value.size() && (is(value[p], kToken) || is_wsp(value[p]))) ++p;
    if (p < value.size() && value[p] == '<') {
      na.display_name = trim(value.substr(c.pos, p - c.pos));
      c.pos = p;
    }
  }
  if (c.peek() == '<') {
    const auto close = value.find('>', c.pos);
    if (close == std::string_view::npos) return value_error("'>' missing after URI", c.pos);
    na.uri_text = value.substr(c.pos + 1, close - c.pos - 1);
    na.angle_brackets = true;
    auto uri = parse_uri(na.uri_text);
    if (!uri) return value_error("invalid URI: " + uri.error().reason, c.pos + 1);
    na.uri = *uri;
    c.pos = close + 1;
  } else {
    // addr-spec without brackets: the URI cannot contain ';', ',', '?' or spaces
    const auto start = c.pos;
    while (c.pos < value.size() && value[c.pos] != ';' && value[c.pos] != ',' && !is_wsp(value[c.pos])) ++c.pos;
    na.uri_text = value.substr(start, c.pos - start);
    if (na.uri_text.empty()) return value_error("address expected", start);
    if (na.uri_text.find('?') != std::string_view::npos) return value_error("URI with headers must be enclosed in <>", start);
    auto uri = parse_uri(na.uri_text);
    if (!uri) return value_error("invalid URI: " + uri.error().reason, start);
    na.uri = *uri;
  }
  if (auto st = read_params(c, na.params); !st) return std::move(st).error();
  if (auto st = expect_end(c, "address"); !st) return std::move(st).error();
  if (auto tag = find_param(na.params, "tag")) na.tag = *tag;
  return na;
}

Result<std::vector<NameAddr>> parse_name_addr_list(std::string_view value) {
  std::vector<NameAddr> out;
  for (auto item : split_list(value)) {
    auto na = parse_name_addr(item);
    if (!na) {
      auto err = std::move(na).error();
      err.column += static_cast<std::uint32_t>(item.data() - value.data());
      return err;
    }
    out.push_back(std::move(*na));
  }
  if (out.empty()) return value_error("empty address list", 0);
  return out;
}

Result<ContactList> parse_contact_list(std::string_view value) {
  ContactList list;
  if (trim(value) == "*") {
    list.star = true;
    return list;
  }
  auto addrs = parse_name_addr_list(value);
  if (!addrs) return std::move(addrs).error();
  list.contacts = std::move(*addrs);
  return list;
}

Result<CSeq> parse_cseq(std::string_view value) {
  Cursor c{value};
  c.skip_ws();
  const auto start = c.pos;
  std::uint64_t n = 0;
  if (!parse_uint(c.take_while(kDigit), 0x7fffffffULL, n)) return value_error("CSeq number is not an integer below 2^31", start);
  if (!is_wsp(c.peek())) return value_error("whitespace expected after CSeq number", c.pos);
  c.skip_ws();
  CSeq cs;
  cs.number = static_cast<std::uint32_t>(n);
  cs.method = c.take_while(kToken);
  if (cs.method.empty()) return value_error("CSeq method expected", c.pos);
  if (auto st = expect_end(c, "CSeq method"); !st) return std::move(st).error();
  return cs;
}

bool MediaType::is(std::string_view t, std::string_view s) const { return iequals(type, t) && iequals(subtype, s); }

Result<MediaType> parse_media_type(std::string_view value) {
  Cursor c{value};
  c.skip_ws();
  MediaType mt;
  mt.type = c.take_while(kToken);
  if (mt.type.empty()) return value_error("media type expected", c.pos);
  if (!c.eat('/')) return value_error("'/' expected in media type", c.pos);
  mt.subtype = c.take_while(kToken);
  if (mt.subtype.empty()) return value_error("media subtype expected", c.pos);
  if (auto st = read_params(c, mt.params); !st) return std::move(st).error();
  if (auto st = expect_end(c, "media type"); !st) return std::move(st).error();
  return mt;
}

Result<AuthParams> parse_auth_params(std::string_view value) {
  Cursor c{value};
  c.skip_ws();
  AuthParams ap;
  ap.scheme = c.take_while(kToken);
  if (ap.scheme.empty()) return value_error("authentication scheme expected", c.pos);
  if (!c.done() && !is_wsp(c.peek())) return value_error("whitespace expected after authentication scheme", c.pos);
  c.skip_ws();
  while (!c.done()) {
    Param p;
    p.name = c.take_while(kToken);
    if (p.name.empty()) return value_error("auth-param name expected", c.pos);
    if (!c.eat('=')) return value_error("'=' expected after auth-param name", c.pos);
    p.has_value = true;
    if (c.peek() == '"') {
      if (!read_quoted(c, p.value)) return value_error("unterminated quoted auth-param value", c.pos);
    } else {
      p.value = c.take_while(kToken);
      if (p.value.empty()) return value_error("auth-param value expected", c.pos);
    }
    ap.params.push_back(p);
    c.skip_ws();
    if (c.done()) break;
    if (c.peek() != ',') return value_error("',' expected between auth-params", c.pos);
    ++c.pos;
    c.skip_ws();
  }
  return ap;
}

Result<std::vector<std::string_view>> parse_token_list(std::string_view value) {
  std::vector<std::string_view> out;
  for (auto item : split_list(value)) {
    if (!all_of(item, kToken)) {
      return value_error("token expected in list", static_cast<std::size_t>(item.data() - value.data()));
    }
    out.push_back(item);
  }
  return out;
}

Result<std::uint32_t> parse_uint32(std::string_view value) {
  const auto t = trim(value);
  std::uint64_t n = 0;
  if (!parse_uint(t, 0xffffffffULL, n)) return value_error("not a non-negative 32-bit decimal number", 0);
  return static_cast<std::uint32_t>(n);
}

}  // namespace astmrf::sip
