#include "chars.hpp"
#include "error_util.hpp"

#include <astmrf/sip/header_id.hpp>
#include <astmrf/sip/sdp.hpp>

#include <algorithm>

namespace astmrf::sip::sdp {
namespace {

using namespace detail;

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    const auto start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

ParseError sdp_error(std::string reason, std::uint32_t line, char type) {
  return make_error(ParseErrc::bad_sdp, std::move(reason), line, 1, std::string(1, type) + "=");
}

Attribute parse_attribute(std::string_view v) {
  Attribute a;
  const auto colon = v.find(':');
  a.name = std::string(v.substr(0, colon));
  if (colon != std::string_view::npos) {
    a.value = std::string(v.substr(colon + 1));
    a.has_value = true;
  }
  return a;
}

std::optional<Connection> parse_connection(std::string_view v) {
  const auto f = split_ws(v);
  if (f.size() != 3) return std::nullopt;
  return Connection{std::string(f[0]), std::string(f[1]), std::string(f[2])};
}

std::string_view static_encoding(std::string_view pt) {
  if (pt == "0") return "PCMU";
  if (pt == "3") return "GSM";
  if (pt == "4") return "G723";
  if (pt == "8") return "PCMA";
  if (pt == "9") return "G722";
  if (pt == "13") return "CN";
  if (pt == "18") return "G729";
  return {};
}

// Payload type that an a=rtpmap / a=fmtp value refers to ("96 opus/48000/2").
std::string_view attr_payload(const Attribute& a) {
  const std::string_view v = a.value;
  return v.substr(0, v.find(' '));
}

void append_attr(std::string& out, const Attribute& a) {
  out += "a=";
  out += a.name;
  if (a.has_value) {
    out += ':';
    out += a.value;
  }
  out += "\r\n";
}

void append_conn(std::string& out, const Connection& c) {
  out += "c=";
  out += c.net_type;
  out += ' ';
  out += c.addr_type;
  out += ' ';
  out += c.address;
  out += "\r\n";
}

bool is_direction(std::string_view name) {
  return name == "sendrecv" || name == "sendonly" || name == "recvonly" || name == "inactive";
}

Direction direction_of(const std::vector<Attribute>& attrs, Direction def) {
  for (const auto& a : attrs) {
    if (a.has_value) continue;
    if (a.name == "sendrecv") return Direction::sendrecv;
    if (a.name == "sendonly") return Direction::sendonly;
    if (a.name == "recvonly") return Direction::recvonly;
    if (a.name == "inactive") return Direction::inactive;
  }
  return def;
}

}  // namespace

std::string_view to_string(Direction d) noexcept {
  switch (d) {
    case Direction::sendrecv: return "sendrecv";
    case Direction::sendonly: return "sendonly";
    case Direction::recvonly: return "recvonly";
    case Direction::inactive: return "inactive";
  }
  return "sendrecv";
}

const Attribute* Media::attribute(std::string_view name) const {
  for (const auto& a : attributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::optional<RtpMap> Media::rtpmap(std::string_view pt) const {
  for (const auto& a : attributes) {
    if (a.name != "rtpmap" || attr_payload(a) != pt) continue;
    const std::string_view v = a.value;
    const auto sp = v.find(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    const auto enc = trim(v.substr(sp + 1));
    RtpMap m;
    std::uint64_t n = 0;
    if (!parse_uint(pt, 127, n)) return std::nullopt;
    m.payload_type = static_cast<int>(n);
    const auto s1 = enc.find('/');
    m.encoding = std::string(enc.substr(0, s1));
    if (s1 != std::string_view::npos) {
      const auto rest = enc.substr(s1 + 1);
      const auto s2 = rest.find('/');
      if (!parse_uint(rest.substr(0, s2), 0xffffffffULL, n)) return std::nullopt;
      m.clock_rate = static_cast<std::uint32_t>(n);
      if (s2 != std::string_view::npos) m.channels = std::string(rest.substr(s2 + 1));
    }
    return m;
  }
  return std::nullopt;
}

std::optional<std::string_view> Media::fmtp(std::string_view pt) const {
  for (const auto& a : attributes) {
    if (a.name == "fmtp" && attr_payload(a) == pt) {
      const std::string_view v = a.value;
      const auto sp = v.find(' ');
      return sp == std::string_view::npos ? std::string_view{} : trim(v.substr(sp + 1));
    }
  }
  return std::nullopt;
}

std::string Media::encoding(std::string_view pt) const {
  if (auto m = rtpmap(pt)) return m->encoding;
  return std::string(static_encoding(pt));
}

Direction Media::direction(Direction session_default) const { return direction_of(attributes, session_default); }

void Media::set_direction(Direction d) {
  std::erase_if(attributes, [](const Attribute& a) { return !a.has_value && is_direction(a.name); });
  attributes.push_back(Attribute{std::string(to_string(d)), {}, false});
}

std::size_t Media::filter_codecs(const std::vector<std::string_view>& keep) {
  std::vector<std::string> dropped;
  std::vector<std::string> kept;
  for (const auto& f : formats) {
    const auto enc = encoding(f);
    const bool wanted = std::any_of(keep.begin(), keep.end(), [&](std::string_view k) { return iequals(k, enc); });
    (wanted ? kept : dropped).push_back(f);
  }
  std::erase_if(attributes, [&](const Attribute& a) {
    if (a.name != "rtpmap" && a.name != "fmtp" && a.name != "rtcp-fb") return false;
    const auto pt = attr_payload(a);
    return std::find(dropped.begin(), dropped.end(), pt) != dropped.end();
  });
  formats = std::move(kept);
  return formats.size();
}

void Media::reorder_codecs(const std::vector<std::string_view>& preferred) {
  auto rank = [&](const std::string& f) {
    const auto enc = encoding(f);
    for (std::size_t i = 0; i < preferred.size(); ++i) {
      if (iequals(preferred[i], enc)) return i;
    }
    return preferred.size();
  };
  std::stable_sort(formats.begin(), formats.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
}

const Attribute* SessionDescription::attribute(std::string_view name) const {
  for (const auto& a : attributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

Direction SessionDescription::direction() const { return direction_of(attributes, Direction::sendrecv); }

const Connection* SessionDescription::connection_for(std::size_t i) const {
  if (i < media.size() && media[i].connection) return &*media[i].connection;
  return connection ? &*connection : nullptr;
}

std::string SessionDescription::to_string() const {
  std::string out;
  out.reserve(256 + media.size() * 256);
  out += "v=" + std::to_string(version) + "\r\n";
  out += "o=" + origin.username + ' ' + origin.session_id + ' ' + origin.session_version + ' ' + origin.net_type + ' ' +
         origin.addr_type + ' ' + origin.address + "\r\n";
  out += "s=" + session_name + "\r\n";
  // RFC 4566 order: i u e p c b t r z k a; `lines` keeps i u e p before c.
  for (const auto& [type, value] : lines) {
    if (type == 'i' || type == 'u' || type == 'e' || type == 'p') out += std::string(1, type) + '=' + value + "\r\n";
  }
  if (connection) append_conn(out, *connection);
  for (const auto& [type, value] : lines) {
    if (type == 'b') out += "b=" + value + "\r\n";
  }
  for (const auto& t : times) out += "t=" + t + "\r\n";
  for (const auto& [type, value] : lines) {
    if (type != 'i' && type != 'u' && type != 'e' && type != 'p' && type != 'b')
      out += std::string(1, type) + '=' + value + "\r\n";
  }
  for (const auto& a : attributes) append_attr(out, a);
  for (const auto& m : media) {
    out += "m=" + m.type + ' ' + std::to_string(m.port);
    if (m.port_count != 0) out += '/' + std::to_string(m.port_count);
    out += ' ' + m.proto;
    for (const auto& f : m.formats) out += ' ' + f;
    out += "\r\n";
    for (const auto& [type, value] : m.lines) {
      if (type == 'i') out += "i=" + value + "\r\n";
    }
    if (m.connection) append_conn(out, *m.connection);
    for (const auto& [type, value] : m.lines) {
      if (type != 'i') out += std::string(1, type) + '=' + value + "\r\n";
    }
    for (const auto& a : m.attributes) append_attr(out, a);
  }
  return out;
}

Result<SessionDescription> parse(std::string_view text) {
  SessionDescription sd;
  sd.times.clear();
  std::uint32_t line_no = 0;
  bool have_v = false, have_o = false, have_s = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z') {
      return make_error(ParseErrc::bad_sdp, "line is not of the form <letter>=<value>", line_no, 1);
    }
    for (char c : line) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
        return sdp_error("control character in line", line_no, line[0]);
      }
    }
    const char type = line[0];
    const auto value = line.substr(2);
    if (!have_v) {
      if (type != 'v') return sdp_error("SDP must start with v=", line_no, type);
      if (value != "0") return sdp_error("unsupported SDP version '" + std::string(value) + "'", line_no, type);
      have_v = true;
      continue;
    }
    Media* m = sd.media.empty() ? nullptr : &sd.media.back();
    switch (type) {
      case 'v': return sdp_error("duplicate v= line", line_no, type);
      case 'o': {
        const auto f = split_ws(value);
        if (f.size() != 6 || m != nullptr) return sdp_error("o= needs 6 fields at session level", line_no, type);
        sd.origin = Origin{std::string(f[0]), std::string(f[1]), std::string(f[2]),
                           std::string(f[3]), std::string(f[4]), std::string(f[5])};
        have_o = true;
        break;
      }
      case 's':
        if (m != nullptr) return sdp_error("s= inside a media section", line_no, type);
        sd.session_name = std::string(value);
        have_s = true;
        break;
      case 'c': {
        auto c = parse_connection(value);
        if (!c) return sdp_error("c= needs <nettype> <addrtype> <address>", line_no, type);
        (m != nullptr ? m->connection : sd.connection) = std::move(*c);
        break;
      }
      case 't':
        if (m != nullptr) return sdp_error("t= inside a media section", line_no, type);
        if (split_ws(value).size() != 2) return sdp_error("t= needs <start> <stop>", line_no, type);
        sd.times.emplace_back(value);
        break;
      case 'a':
        if (value.empty()) return sdp_error("empty attribute", line_no, type);
        (m != nullptr ? m->attributes : sd.attributes).push_back(parse_attribute(value));
        break;
      case 'm': {
        const auto f = split_ws(value);
        if (f.size() < 4) return sdp_error("m= needs <media> <port> <proto> <fmt>...", line_no, type);
        Media media;
        media.type = std::string(f[0]);
        const auto slash = f[1].find('/');
        std::uint64_t n = 0;
        if (!parse_uint(f[1].substr(0, slash), 65535, n)) return sdp_error("invalid media port", line_no, type);
        media.port = static_cast<std::uint16_t>(n);
        if (slash != std::string_view::npos) {
          if (!parse_uint(f[1].substr(slash + 1), 65535, n)) return sdp_error("invalid port count", line_no, type);
          media.port_count = static_cast<std::uint16_t>(n);
        }
        media.proto = std::string(f[2]);
        for (std::size_t i = 3; i < f.size(); ++i) media.formats.emplace_back(f[i]);
        sd.media.push_back(std::move(media));
        break;
      }
      default: (m != nullptr ? m->lines : sd.lines).emplace_back(type, std::string(value)); break;
    }
  }
  if (!have_v) return make_error(ParseErrc::bad_sdp, "empty SDP", 0, 0);
  if (!have_o) return make_error(ParseErrc::bad_sdp, "missing o= line", 0, 0, "o=");
  if (!have_s) return make_error(ParseErrc::bad_sdp, "missing s= line", 0, 0, "s=");
  if (sd.times.empty()) return make_error(ParseErrc::bad_sdp, "missing t= line", 0, 0, "t=");
  return sd;
}

SessionDescription make_inactive_offer(std::string_view address, std::uint16_t port) {
  SessionDescription sd;
  const bool v6 = address.find(':') != std::string_view::npos;
  sd.origin.address = std::string(address);
  sd.origin.addr_type = v6 ? "IP6" : "IP4";
  sd.connection = Connection{"IN", v6 ? "IP6" : "IP4", std::string(address)};
  Media m;
  m.port = port;
  m.formats = {"0", "8", "101"};
  m.attributes = {{"rtpmap", "0 PCMU/8000", true},
                  {"rtpmap", "8 PCMA/8000", true},
                  {"rtpmap", "101 telephone-event/8000", true},
                  {"fmtp", "101 0-16", true}};
  m.set_direction(Direction::inactive);
  sd.media.push_back(std::move(m));
  return sd;
}

SessionDescription make_inactive_offer(const SessionDescription& base, std::string_view address) {
  SessionDescription sd = base;
  const bool v6 = address.find(':') != std::string_view::npos;
  const std::string addr_type = v6 ? "IP6" : "IP4";
  sd.origin.address = std::string(address);
  sd.origin.addr_type = addr_type;
  std::uint64_t ver = 0;
  if (parse_uint(sd.origin.session_version, ~0ULL / 10 - 1, ver)) sd.origin.session_version = std::to_string(ver + 1);
  sd.connection = Connection{"IN", addr_type, std::string(address)};
  std::erase_if(sd.attributes, [](const Attribute& a) { return !a.has_value && is_direction(a.name); });
  for (auto& m : sd.media) {
    m.connection.reset();
    m.set_direction(Direction::inactive);
  }
  return sd;
}

}  // namespace astmrf::sip::sdp
