#include "chars.hpp"
#include "error_util.hpp"

#include <astmrf/sip/dtmf.hpp>
#include <astmrf/sip/header_id.hpp>
#include <astmrf/sip/header_parsers.hpp>

#include <charconv>
#include <limits>
#include <string>

namespace astmrf::sip {

namespace {

constexpr std::string_view kEventKeys = "0123456789*#ABCD";  // RFC 4733 events 0-15, in order

ParseError dtmf_error(std::string reason) { return detail::make_error(ParseErrc::bad_dtmf, std::move(reason)); }

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// A key as a character or as its event number; 0 when it is neither.
char read_key(std::string_view text) {
  if (text.size() == 1) {
    const char c = text[0];
    if (c >= 'a' && c <= 'd') return static_cast<char>(c - 'a' + 'A');
    if (kEventKeys.find(c) != std::string_view::npos) return c;
    return 0;
  }
  unsigned event = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), event);
  if (ec != std::errc{} || end != text.data() + text.size() || event >= kEventKeys.size()) return 0;
  return kEventKeys[event];
}

Result<InfoDtmf> parse_relay(std::string_view body) {
  InfoDtmf out;
  bool have_signal = false;
  while (!body.empty()) {
    const auto eol = body.find('\n');
    const auto line = trim_blanks(body.substr(0, eol));
    body = eol == std::string_view::npos ? std::string_view{} : body.substr(eol + 1);
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;  // not a name=value line: not ours to judge
    const auto name = trim_blanks(line.substr(0, eq));
    const auto value = trim_blanks(line.substr(eq + 1));
    if (iequals(name, "Signal")) {
      out.digit = read_key(value);
      if (out.digit == 0) return dtmf_error("Signal '" + std::string(value) + "' is not a DTMF key");
      have_signal = true;
    } else if (iequals(name, "Duration")) {
      unsigned ms = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (ec != std::errc{} || end != value.data() + value.size() || value.empty())
        return dtmf_error("Duration '" + std::string(value) + "' is not a number of milliseconds");
      out.duration = std::chrono::milliseconds(ms);
    }
  }
  if (!have_signal) return dtmf_error("no Signal line in application/dtmf-relay");
  return out;
}

}  // namespace

bool is_info_dtmf(std::string_view content_type) {
  auto type = parse_media_type(content_type);
  return type && (type->is("application", "dtmf-relay") || type->is("application", "dtmf"));
}

Result<InfoDtmf> parse_info_dtmf(std::string_view content_type, std::string_view body) {
  auto type = parse_media_type(content_type);
  if (!type) return dtmf_error("Content-Type '" + std::string(content_type) + "' is not a media type");
  if (type->is("application", "dtmf-relay")) return parse_relay(body);
  if (type->is("application", "dtmf")) {
    const auto key = trim_blanks(body);
    InfoDtmf out;
    out.digit = read_key(key);
    if (out.digit == 0) return dtmf_error("application/dtmf body '" + std::string(key) + "' is not a DTMF key");
    return out;
  }
  return dtmf_error("Content-Type '" + std::string(content_type) + "' carries no DTMF");
}

}  // namespace astmrf::sip
