#include "sip_text.hpp"

#include <astmrf/sip/builder.hpp>
#include <astmrf/sip/errors.hpp>

namespace astmrf::srf::drachtio {

namespace {

// The checks of MessageBuilder (a token as name; no CR, LF or NUL in the value) without
// its canonical ordering: drachtio reads the text as is.
void add_line(std::string& out, std::string_view name, std::string_view value) {
  sip::check_header_name(name);
  sip::check_header_value(name, value);
  out.append(name).append(": ").append(value).append("\r\n");
}

bool is_sdp(const std::string& content_type) { return content_type.empty() || content_type == "application/sdp"; }

void add_headers(std::string& out, const sip::HeaderList& headers) {
  for (const auto& [name, value] : headers) {
    if (name == "Content-Length" || name == "Content-Type") continue;
    add_line(out, name, value);
  }
}

// drachtio names an SDP body itself; any other type must be given.
void add_content_type(std::string& out, const std::string& content_type, const std::string& body) {
  if (!body.empty() && !is_sdp(content_type)) add_line(out, "Content-Type", content_type);
}

void add_body(std::string& out, const std::string& body) {
  out += "\r\n";
  out += body;
}

}  // namespace

std::string bare_response(const sip::Message& request, const sip::ResponseSpec& spec) {
  std::string reason = spec.reason.empty() ? std::string(sip::default_reason(spec.status)) : spec.reason;
  sip::check_status_line(spec.status, reason);
  std::string out = "SIP/2.0 " + std::to_string(spec.status) + " " + reason + "\r\n";
  add_line(out, "Call-ID", request.call_id());
  add_line(out, "cseq", request.header(sip::HeaderId::cseq));
  add_line(out, "from", request.header(sip::HeaderId::from));
  add_line(out, "to", request.header(sip::HeaderId::to));
  add_content_type(out, spec.content_type, spec.body);
  add_line(out, "Content-Length", std::to_string(spec.body.size()));
  add_headers(out, spec.headers);
  add_body(out, spec.body);
  return out;
}

std::string bare_request(const sip::RequestSpec& spec) {
  sip::check_method(spec.method);
  sip::check_request_uri(spec.uri);
  std::string out = spec.method + " " + spec.uri + " SIP/2.0\r\n";
  add_headers(out, spec.headers);
  if (!spec.from.empty()) {
    std::string from = spec.from_display.empty() ? "" : "\"" + spec.from_display + "\" ";
    add_line(out, "From", from + "<" + spec.from + ">");
  }
  if (!spec.to.empty()) add_line(out, "To", "<" + spec.to + ">");
  add_content_type(out, spec.content_type, spec.body);
  add_line(out, "Content-Length", std::to_string(spec.body.size()));
  add_body(out, spec.body);
  return out;
}

std::string in_dialog_request(const std::string& method, const sip::HeaderList& headers,
                              const std::string& content_type, const std::string& body) {
  sip::check_method(method);
  std::string out = method + " sip:placeholder SIP/2.0\r\n";
  add_headers(out, headers);
  add_content_type(out, content_type, body);
  add_line(out, "Content-Length", std::to_string(body.size()));
  add_body(out, body);
  return out;
}

sip::Message local_response(int status, const std::string& reason, const std::string& method) {
  return sip::MessageBuilder::response(status, reason).add(sip::HeaderId::cseq, "1 " + method).build();
}

}  // namespace astmrf::srf::drachtio
