#include <astmrf/sip/errors.hpp>

namespace astmrf::sip {

std::string_view to_string(ParseErrc code) noexcept {
  switch (code) {
    case ParseErrc::empty_message: return "empty_message";
    case ParseErrc::bad_start_line: return "bad_start_line";
    case ParseErrc::bad_method: return "bad_method";
    case ParseErrc::bad_request_uri: return "bad_request_uri";
    case ParseErrc::bad_version: return "bad_version";
    case ParseErrc::unsupported_version: return "unsupported_version";
    case ParseErrc::bad_status_code: return "bad_status_code";
    case ParseErrc::bad_header_line: return "bad_header_line";
    case ParseErrc::bad_header_name: return "bad_header_name";
    case ParseErrc::bad_header_value: return "bad_header_value";
    case ParseErrc::control_character: return "control_character";
    case ParseErrc::missing_header: return "missing_header";
    case ParseErrc::duplicate_header: return "duplicate_header";
    case ParseErrc::bad_content_length: return "bad_content_length";
    case ParseErrc::body_truncated: return "body_truncated";
    case ParseErrc::message_too_large: return "message_too_large";
    case ParseErrc::too_many_headers: return "too_many_headers";
    case ParseErrc::line_too_long: return "line_too_long";
    case ParseErrc::bad_uri: return "bad_uri";
    case ParseErrc::bad_sdp: return "bad_sdp";
    case ParseErrc::bad_dtmf: return "bad_dtmf";
    case ParseErrc::framing_failed: return "framing_failed";
  }
  return "unknown";
}

std::string ParseError::message() const {
  std::string out(to_string(code));
  out += ": ";
  out += reason;
  if (!header.empty() || line != 0) {
    out += " (";
    if (!header.empty()) {
      out += "header ";
      out += header;
      if (line != 0) out += ", ";
    }
    if (line != 0) {
      out += "line ";
      out += std::to_string(line);
      out += ", column ";
      out += std::to_string(column);
    }
    out += ')';
  }
  return out;
}

}  // namespace astmrf::sip
