#include "chars.hpp"
#include "error_util.hpp"
#include "parse_internal.hpp"

#include <astmrf/sip/header_id.hpp>
#include <astmrf/sip/header_parsers.hpp>

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
  std::string_view take_while(std::uint32_t cls) {
    const auto start = pos;
    pos = skip_class(s.data(), pos, s.size(), cls);
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
  const auto n = c.s.size();
  while (true) {
    c.pos = skip_class(c.s.data(), c.pos, n, kQText);
    if (c.pos >= n) return false;
    const char ch = c.s[c.pos];
    if (ch == '"') {
      inner = c.s.substr(start, c.pos - start);
      ++c.pos;
      return true;
    }
    if (ch != '\\') return false;  // a control character
    if (c.pos + 1 >= n) return false;
    const char next = c.s[c.pos + 1];
    if (next == '\r' || next == '\n') return false;
    c.pos += 2;
  }
}

inline std::size_t skip_wsp(const char* p, std::size_t i, std::size_t n) noexcept {
  while (i < n && is_wsp(p[i])) ++i;
  return i;
}

// generic-param list: *( SEMI token [ EQUAL ( token / host / quoted-string ) ] )
// Stops (without error) at ',' or end; fails on anything else. Whitespace
// around ';' and '=' is allowed but rare, so it is only skipped when seen.
Fail read_params(Cursor& c, ParamList& out) {
  const char* p = c.s.data();
  const std::size_t n = c.s.size();
  std::size_t i = c.pos;
  while (true) {
    if (i < n && is_wsp(p[i])) i = skip_wsp(p, i, n);
    if (i >= n || p[i] != ';') break;
    ++i;
    if (i < n && is_wsp(p[i])) i = skip_wsp(p, i, n);
    Param prm;
    std::size_t start = i;
    i = skip_class(p, i, n, kToken);
    if (i == start) return Fail{"parameter name expected after ';'", i};
    prm.name = std::string_view(p + start, i - start);
    if (i < n && is_wsp(p[i])) i = skip_wsp(p, i, n);
    if (i < n && p[i] == '=') {
      ++i;
      if (i < n && is_wsp(p[i])) i = skip_wsp(p, i, n);
      prm.has_value = true;
      if (i < n && p[i] == '"') {
        c.pos = i;
        if (!read_quoted(c, prm.value)) return Fail{"unterminated quoted parameter value", c.pos};
        i = c.pos;
      } else {
        start = i;
        i = skip_class(p, i, n, kParamValue);
        if (i == start) return Fail{"parameter value expected after '='", i};
        prm.value = std::string_view(p + start, i - start);
      }
    }
    out.push_back(prm);
  }
  c.pos = i;
  return {};
}

Status expect_end_status(Cursor& c, const char* what) {
  c.skip_ws();
  if (!c.done()) return value_error(std::string("unexpected character after ") + what, c.pos);
  return ok();
}

}  // namespace

namespace detail {

ParseError to_error(const Fail& f) {
  return value_error(f.uri ? std::string("invalid URI: ") + f.reason : std::string(f.reason), f.offset);
}

bool next_list_item(std::string_view value, std::size_t& pos, std::string_view& item) noexcept {
  const std::size_t n = value.size();
  while (pos <= n) {
    const std::size_t start = pos;
    bool quoted = false, angle = false;
    std::size_t i = pos;
    while (true) {
      i = find_class(value.data(), i, n, kListSpecial);
      if (i >= n) break;
      const char ch = value[i];
      if (quoted) {
        if (ch == '\\')
          ++i;
        else if (ch == '"')
          quoted = false;
      } else if (ch == ',') {
        if (!angle) break;
      } else if (ch == '"') {
        quoted = true;
      } else if (ch == '<') {
        angle = true;
      } else if (ch == '>') {
        angle = false;
      }
      ++i;
    }
    if (i > n) {  // a quoted-pair backslash as the last byte: the element is dropped
      pos = n + 1;
      return false;
    }
    pos = i + 1;
    const auto t = trim(value.substr(start, i - start));
    if (!t.empty()) {
      item = t;
      return true;
    }
  }
  return false;
}

Fail parse_via_into(std::string_view element, Via& v, bool stop_at_comma) {
  Cursor c{element};
  c.skip_ws();
  if (element.size() - c.pos > 8 && element.substr(c.pos, 8) == "SIP/2.0/") {  // the usual spelling
    v.protocol_name = element.substr(c.pos, 3);
    v.protocol_version = element.substr(c.pos + 4, 3);
    c.pos += 8;
    c.skip_ws();
  } else {
    v.protocol_name = c.take_while(kToken);
    if (v.protocol_name.empty()) return Fail{"protocol name expected", c.pos};
    if (!c.eat('/')) return Fail{"'/' expected after protocol name", c.pos};
    v.protocol_version = c.take_while(kToken);
    if (v.protocol_version.empty()) return Fail{"protocol version expected", c.pos};
    if (!c.eat('/')) return Fail{"'/' expected after protocol version", c.pos};
  }
  v.transport = c.take_while(kToken);
  if (v.transport.empty()) return Fail{"transport expected", c.pos};
  if (!is_wsp(c.peek())) return Fail{"whitespace expected before sent-by", c.pos};
  c.skip_ws();
  if (c.peek() == '[') {
    const auto close = element.find(']', c.pos);
    if (close == std::string_view::npos) return Fail{"unterminated IPv6 reference in sent-by", c.pos};
    v.host = element.substr(c.pos + 1, close - c.pos - 1);
    if (!valid_ipv6(v.host)) return Fail{"invalid IPv6 sent-by", c.pos};
    v.host_kind = HostKind::ipv6;
    c.pos = close + 1;
  } else {
    const auto start = c.pos;
    c.pos = scan_host(element.data(), start, element.size(), v.host_kind);
    v.host = std::string_view(element.data() + start, c.pos - start);
    if (v.host_kind == HostKind::none) return Fail{"invalid sent-by host", start};
  }
  c.skip_ws();
  if (c.peek() == ':') {
    ++c.pos;
    c.skip_ws();
    const auto start = c.pos;
    std::uint64_t port = 0;
    if (!parse_uint(c.take_while(kDigit), 65535, port)) return Fail{"invalid sent-by port", start};
    v.port = static_cast<std::uint16_t>(port);
    v.has_port = true;
  }
  if (auto f = read_params(c, v.params)) return f;
  c.skip_ws();
  if (!c.done() && !(stop_at_comma && c.peek() == ',')) return Fail{"unexpected character after Via parameters", c.pos};
  for (const auto& p : v.params) {
    switch (p.name.size()) {
      case 6:
        if (iequals(p.name, "branch")) v.branch = p.value;
        break;
      case 8:
        if (iequals(p.name, "received")) {
          // an IPv4 address, or an IPv6 address with or without brackets
          if (classify_host(p.value) == HostKind::none && !valid_ipv6(p.value)) {
            return Fail{"received parameter is not an address", 0};
          }
          v.received = p.value;
        }
        break;
      case 5:
        if (iequals(p.name, "rport")) {
          v.has_rport = true;
          if (p.has_value) {
            std::uint64_t port = 0;
            if (!parse_uint(p.value, 65535, port)) return Fail{"rport is not a port number", 0};
            v.rport = static_cast<std::uint16_t>(port);
          }
        }
        break;
      case 3:
        if (iequals(p.name, "ttl")) {
          std::uint64_t ttl = 0;
          if (!parse_uint(p.value, 255, ttl)) return Fail{"ttl is not in 0..255", 0};
        }
        break;
      default: break;
    }
  }
  return {};
}

Fail parse_name_addr_into(std::string_view value, NameAddr& na, std::size_t* comma) {
  Cursor c{value};
  const std::size_t n = value.size();
  c.skip_ws();
  if (c.peek() == '"') {
    if (!read_quoted(c, na.display_name)) return Fail{"unterminated quoted display name", c.pos};
    na.display_name_quoted = true;
    c.skip_ws();
    if (c.peek() != '<') return Fail{"'<' expected after quoted display name", c.pos};
  } else {
    // display-name = *(token LWS): look ahead for '<'
    std::size_t p = c.pos;
    p = skip_class(value.data(), p, n, kToken | kWsp);
    if (p < n && value[p] == '<') {
      na.display_name = trim(value.substr(c.pos, p - c.pos));
      c.pos = p;
    }
  }
  if (c.peek() == '<') {
    const auto close = find_char(value, '>', c.pos);
    if (close == std::string_view::npos) return Fail{"'>' missing after URI", c.pos};
    na.uri_text = value.substr(c.pos + 1, close - c.pos - 1);
    na.angle_brackets = true;
    if (const char* err = parse_uri_into(na.uri_text, na.uri)) return Fail{err, c.pos + 1, true};
    c.pos = close + 1;
  } else {
    // addr-spec without brackets: the URI cannot contain ';', ',', '?' or spaces
    const auto start = c.pos;
    bool question = false;
    while (c.pos < n && !is(value[c.pos], kAddrStop)) question |= value[c.pos++] == '?';
    na.uri_text = value.substr(start, c.pos - start);
    if (na.uri_text.empty()) return Fail{"address expected", start};
    if (question) return Fail{"URI with headers must be enclosed in <>", start};
    if (const char* err = parse_uri_into(na.uri_text, na.uri)) return Fail{err, start, true};
  }
  if (auto f = read_params(c, na.params)) return f;
  c.skip_ws();
  if (!c.done()) {
    if (comma == nullptr || c.peek() != ',') return Fail{"unexpected character after address", c.pos};
    *comma = c.pos;
  } else if (comma != nullptr) {
    *comma = value.size();
  }
  for (const auto& p : na.params) {
    if (p.name.size() == 3 && iequals(p.name, "tag")) {
      na.tag = p.value;
      break;
    }
  }
  return {};
}

Fail append_name_addrs(std::string_view value, std::vector<NameAddr>& out) {
  // Fast path: parse each element in place and let it end at its ','. The
  // name-addr grammar never steps over a comma that split_list() would cut
  // at (quotes and <> are honoured the same way), so a success yields the
  // same elements; on any failure the list is parsed again element by element
  // as split_list() cuts it, for the exact same error.
  const std::size_t first = out.size();
  {
    const char* p = value.data();
    const std::size_t n = value.size();
    std::size_t pos = 0;
    bool ok = false;
    while (true) {
      while (pos < n && (is_wsp(p[pos]) || p[pos] == ',')) ++pos;
      if (pos >= n) break;
      std::size_t stop = 0;
      if (parse_name_addr_into(value.substr(pos), out.emplace_back(), &stop)) {
        ok = false;
        break;
      }
      ok = true;
      pos += stop;
    }
    if (ok) return {};
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
  }
  std::size_t pos = 0;
  std::string_view item;
  bool any = false;
  while (next_list_item(value, pos, item)) {
    any = true;
    auto& na = out.emplace_back();
    if (auto f = parse_name_addr_into(item, na)) {
      f.offset += static_cast<std::size_t>(item.data() - value.data());
      return f;
    }
  }
  if (!any) return Fail{"empty address list", 0};
  return {};
}

}  // namespace detail

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
  std::size_t pos = 0;
  std::string_view item;
  while (next_list_item(value, pos, item)) out.push_back(item);
  return out;
}

std::string Via::sent_by() const { return detail::host_port_text(host, host_kind, has_port, port); }

namespace {

// One element parsed in place by `parse_into` (Via, name-addr), its failure as a ParseError.
template <typename T, typename ParseInto>
Result<T> parse_element(std::string_view text, ParseInto parse_into) {
  Result<T> r{std::in_place};
  if (auto f = parse_into(text, *r)) return to_error(f);
  return r;
}

}  // namespace

Result<Via> parse_via(std::string_view element) {
  return parse_element<Via>(element, [](std::string_view t, Via& v) { return parse_via_into(t, v); });
}

Result<std::vector<Via>> parse_via_list(std::string_view value) {
  std::vector<Via> out;
  std::size_t pos = 0;
  std::string_view item;
  while (next_list_item(value, pos, item)) {
    if (auto f = parse_via_into(item, out.emplace_back())) {
      f.offset += static_cast<std::size_t>(item.data() - value.data());
      return to_error(f);
    }
  }
  if (out.empty()) return value_error("empty Via", 0);
  return out;
}

std::string NameAddr::display_name_text() const {
  return display_name_quoted ? unquote(display_name) : std::string(display_name);
}

Result<NameAddr> parse_name_addr(std::string_view value) {
  return parse_element<NameAddr>(value, [](std::string_view t, NameAddr& n) { return parse_name_addr_into(t, n); });
}

Result<std::vector<NameAddr>> parse_name_addr_list(std::string_view value) {
  std::vector<NameAddr> out;
  if (auto f = append_name_addrs(value, out)) return to_error(f);
  return out;
}

Result<ContactList> parse_contact_list(std::string_view value) {
  ContactList list;
  if (trim(value) == "*") {
    list.star = true;
    return list;
  }
  if (auto f = append_name_addrs(value, list.contacts)) return to_error(f);
  return list;
}

Result<CSeq> parse_cseq(std::string_view value) {
  Cursor c{value};
  c.skip_ws();
  const auto start = c.pos;
  std::uint64_t n = 0;
  if (!parse_uint(c.take_while(kDigit), 0x7fffffffULL, n))
    return value_error("CSeq number is not an integer below 2^31", start);
  if (!is_wsp(c.peek())) return value_error("whitespace expected after CSeq number", c.pos);
  c.skip_ws();
  CSeq cs;
  cs.number = static_cast<std::uint32_t>(n);
  cs.method = c.take_while(kToken);
  if (cs.method.empty()) return value_error("CSeq method expected", c.pos);
  if (auto st = expect_end_status(c, "CSeq method"); !st) return std::move(st).error();
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
  if (auto f = read_params(c, mt.params)) return to_error(f);
  if (auto st = expect_end_status(c, "media type"); !st) return std::move(st).error();
  return mt;
}

// Starts like parse_media_type (a token, then a separator), as `duplicates` notes; the two
// grammars part after the first token, so they stay two straight-line parsers.
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

Result<Replaces> parse_replaces(std::string_view value) {
  Cursor c{value};
  c.skip_ws();
  Replaces r;
  // callid = word [ "@" word ]
  const auto start = c.pos;
  c.take_while(kWord);
  if (c.pos == start) return value_error("Call-ID expected in Replaces", c.pos);
  if (c.peek() == '@') {
    ++c.pos;
    const auto host = c.pos;
    c.take_while(kWord);
    if (c.pos == host) return value_error("word expected after '@' in the Replaces Call-ID", c.pos);
  }
  r.call_id = value.substr(start, c.pos - start);
  if (auto f = read_params(c, r.params)) return to_error(f);
  if (auto st = expect_end_status(c, "Replaces parameters"); !st) return std::move(st).error();
  int to_tags = 0;
  int from_tags = 0;
  for (const auto& p : r.params) {
    if (iequals(p.name, "to-tag")) {
      ++to_tags;
      r.to_tag = p.value;
    } else if (iequals(p.name, "from-tag")) {
      ++from_tags;
      r.from_tag = p.value;
    } else if (iequals(p.name, "early-only")) {
      r.early_only = true;
    }
  }
  if (to_tags != 1 || r.to_tag.empty()) return value_error("Replaces needs exactly one to-tag", 0);
  if (from_tags != 1 || r.from_tag.empty()) return value_error("Replaces needs exactly one from-tag", 0);
  return r;
}

Result<std::uint32_t> parse_uint32(std::string_view value) {
  const auto t = trim(value);
  std::uint64_t n = 0;
  if (!parse_uint(t, 0xffffffffULL, n)) return value_error("not a non-negative 32-bit decimal number", 0);
  return static_cast<std::uint32_t>(n);
}

}  // namespace astmrf::sip
