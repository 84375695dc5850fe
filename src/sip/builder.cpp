#include "chars.hpp"

#include <astmrf/sip/builder.hpp>
#include <astmrf/sip/parser.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace astmrf::sip {
namespace {

using namespace detail;

// True when one of the 8 bytes of `word` is zero (the classic SWAR test).
constexpr bool has_zero_byte(std::uint64_t word) noexcept {
  return ((word - 0x0101010101010101ULL) & ~word & 0x8080808080808080ULL) != 0;
}

// True when `value` may hold CR, LF or NUL: 8 bytes per step, as every header of
// every message built goes through here.
bool may_hold_line_break(std::string_view value) noexcept {
  constexpr std::uint64_t kCr = 0x0D0D0D0D0D0D0D0DULL, kLf = 0x0A0A0A0A0A0A0A0AULL;
  std::size_t i = 0;
  for (; i + 8 <= value.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, value.data() + i, sizeof word);
    if (has_zero_byte(word) || has_zero_byte(word ^ kCr) || has_zero_byte(word ^ kLf)) return true;
  }
  for (; i < value.size(); ++i) {
    if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0') return true;
  }
  return false;
}

}  // namespace

void check_header_value(std::string_view field, std::string_view value) {
  if (!may_hold_line_break(value)) return;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\r' || c == '\n' || c == '\0') {
      const char* what = c == '\r' ? "CR" : (c == '\n' ? "LF" : "NUL");
      throw HeaderInjectionError(std::string(field), "refusing " + std::string(what) + " at offset " +
                                                         std::to_string(i) + " in " + std::string(field) +
                                                         " (header injection)");
    }
  }
}

namespace {

void check_token(std::string_view field, std::string_view value) {
  if (value.empty() || !all_of(value, kToken)) {
    check_header_value(field, value);
    throw HeaderInjectionError(std::string(field), std::string(field) + " '" + std::string(value) + "' is not a token");
  }
}

}  // namespace

void check_header_name(std::string_view name) { check_token("header name", name); }

void check_method(std::string_view method) { check_token("method", method); }

void check_request_uri(std::string_view request_uri) {
  check_header_value("request-uri", request_uri);
  if (request_uri.empty() || request_uri.find_first_of(" \t") != std::string_view::npos ||
      request_uri.find(':') == std::string_view::npos) {
    throw HeaderInjectionError("request-uri", "Request-URI '" + std::string(request_uri) + "' is not a URI");
  }
}

void check_status_line(int status, std::string_view reason) {
  if (status < 100 || status > 699) {
    throw HeaderInjectionError("status", "status code " + std::to_string(status) + " is outside 100-699");
  }
  check_header_value("reason-phrase", reason);
}

std::string_view default_reason(int status) noexcept {
  switch (status) {
    case 100: return "Trying";
    case 180: return "Ringing";
    case 181: return "Call Is Being Forwarded";
    case 182: return "Queued";
    case 183: return "Session Progress";
    case 200: return "OK";
    case 202: return "Accepted";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Moved Temporarily";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 415: return "Unsupported Media Type";
    case 416: return "Unsupported URI Scheme";
    case 420: return "Bad Extension";
    case 480: return "Temporarily Unavailable";
    case 481: return "Call/Transaction Does Not Exist";
    case 483: return "Too Many Hops";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 488: return "Not Acceptable Here";
    case 491: return "Request Pending";
    case 500: return "Server Internal Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Server Time-out";
    case 505: return "Version Not Supported";
    case 513: return "Message Too Large";
    case 600: return "Busy Everywhere";
    case 603: return "Decline";
    default: return "";
  }
}

MessageBuilder::MessageBuilder() {
  // Typical messages of a call: ~12 headers and ~700 bytes of text with an SDP body.
  text_.reserve(1024);
  fields_.reserve(16);
}

std::uint32_t MessageBuilder::store(std::string_view text) {
  if (text_.size() + text.size() > UINT32_MAX) throw HeaderInjectionError("message", "message too large");
  const auto offset = static_cast<std::uint32_t>(text_.size());
  text_ += text;
  return offset;
}

std::string_view MessageBuilder::name_of(const Field& f) const noexcept {
  if (f.name_size == 0) return header_name(f.id);
  return std::string_view(text_).substr(f.name_offset, f.name_size);
}

std::string_view MessageBuilder::value_of(const Field& f) const noexcept {
  return std::string_view(text_).substr(f.value_offset, f.value_size);
}

MessageBuilder::Field MessageBuilder::make_field(HeaderId id, std::string_view name, std::string_view value) {
  check_header_name(name);
  check_header_value(name, value);
  value = trim(value);
  Field f{id, 0, 0, 0, static_cast<std::uint32_t>(value.size())};
  if (id == HeaderId::other) {
    f.name_size = static_cast<std::uint32_t>(name.size());
    f.name_offset = store(name);
  }
  f.value_offset = store(value);
  return f;
}

void MessageBuilder::push_unchecked(HeaderId id, std::string_view name, std::string_view value) {
  Field f{id, 0, 0, 0, static_cast<std::uint32_t>(value.size())};
  if (id == HeaderId::other) {
    f.name_size = static_cast<std::uint32_t>(name.size());
    f.name_offset = store(name);
  }
  f.value_offset = store(value);
  fields_.push_back(f);
}

MessageBuilder MessageBuilder::request(std::string_view method, std::string_view request_uri) {
  check_method(method);
  check_request_uri(request_uri);
  MessageBuilder b;
  b.text_ += method;
  b.text_ += ' ';
  b.text_ += request_uri;
  b.text_ += " SIP/2.0";
  b.start_line_size_ = static_cast<std::uint32_t>(b.text_.size());
  return b;
}

MessageBuilder MessageBuilder::response(int status, std::string_view reason) {
  check_status_line(status, reason);
  MessageBuilder b;
  const char code[4] = {static_cast<char>('0' + status / 100), static_cast<char>('0' + status / 10 % 10),
                        static_cast<char>('0' + status % 10), ' '};
  b.text_ += "SIP/2.0 ";
  b.text_.append(code, sizeof code);
  b.text_ += reason.empty() ? default_reason(status) : reason;
  b.start_line_size_ = static_cast<std::uint32_t>(b.text_.size());
  return b;
}

MessageBuilder MessageBuilder::response_to(const Message& req, int status, std::string_view reason,
                                           std::string_view to_tag) {
  auto b = response(status, reason);
  const bool copy_rr =
      status > 100 && status < 300 && (req.method_id() == MethodId::invite || req.method_id() == MethodId::subscribe);
  for (const auto& h : req.headers()) {
    switch (h.id) {
      case HeaderId::via:
      case HeaderId::from:
      case HeaderId::call_id:
      case HeaderId::cseq: b.push_unchecked(h.id, {}, h.value); break;
      case HeaderId::record_route:
        if (copy_rr) b.push_unchecked(h.id, {}, h.value);
        break;
      case HeaderId::to: {
        Field f{h.id, 0, 0, b.store(h.value), static_cast<std::uint32_t>(h.value.size())};
        if (!to_tag.empty() && status != 100) {
          auto to = parse_name_addr(h.value);
          if (to && to->tag.empty()) {
            check_header_value("To tag", to_tag);
            b.text_ += ";tag=";
            b.text_ += to_tag;
            f.value_size = static_cast<std::uint32_t>(b.text_.size() - f.value_offset);
          }
        }
        b.fields_.push_back(f);
        break;
      }
      default: break;
    }
  }
  return b;
}

MessageBuilder MessageBuilder::from_message(const Message& msg) {
  MessageBuilder b = msg.is_request() ? request(msg.method(), msg.request_uri()) : response(msg.status(), msg.reason());
  for (const auto& h : msg.headers()) {
    if (h.id == HeaderId::content_length) continue;
    b.push_unchecked(h.id, h.name, h.value);
  }
  b.body_size_ = static_cast<std::uint32_t>(msg.body().size());
  b.body_offset_ = b.store(msg.body());
  return b;
}

MessageBuilder& MessageBuilder::add(HeaderId id, std::string_view value) {
  if (id == HeaderId::other) throw HeaderInjectionError("header name", "HeaderId::other needs a header name");
  if (id == HeaderId::content_length) return *this;
  fields_.push_back(make_field(id, header_name(id), value));
  return *this;
}

MessageBuilder& MessageBuilder::add(std::string_view name, std::string_view value) {
  const auto id = header_id(name);
  if (id == HeaderId::content_length) return *this;
  fields_.push_back(make_field(id, id == HeaderId::other ? name : header_name(id), value));
  return *this;
}

MessageBuilder& MessageBuilder::prepend(HeaderId id, std::string_view value) {
  if (id == HeaderId::other || id == HeaderId::content_length)
    throw HeaderInjectionError("header name", "cannot prepend this header id");
  fields_.insert(fields_.begin(), make_field(id, header_name(id), value));
  return *this;
}

MessageBuilder& MessageBuilder::remove(HeaderId id) {
  std::erase_if(fields_, [id](const Field& f) { return f.id == id; });
  return *this;
}

MessageBuilder& MessageBuilder::remove(std::string_view name) {
  const auto id = header_id(name);
  if (id != HeaderId::other) return remove(id);
  std::erase_if(fields_, [&](const Field& f) { return f.id == HeaderId::other && iequals(name_of(f), name); });
  return *this;
}

MessageBuilder& MessageBuilder::set(HeaderId id, std::string_view value) {
  auto f = make_field(id, header_name(id), value);  // validate before removing
  remove(id);
  fields_.push_back(f);
  return *this;
}

MessageBuilder& MessageBuilder::set(std::string_view name, std::string_view value) {
  const auto id = header_id(name);
  auto f = make_field(id, id == HeaderId::other ? name : header_name(id), value);
  remove(name);
  fields_.push_back(f);
  return *this;
}

MessageBuilder& MessageBuilder::body(std::string_view content_type, std::string_view body) {
  if (content_type.empty()) {
    remove(HeaderId::content_type);
  } else {
    set(HeaderId::content_type, content_type);
  }
  body_size_ = static_cast<std::uint32_t>(body.size());
  body_offset_ = store(body);
  return *this;
}

std::string MessageBuilder::str() const {
  std::size_t size = start_line_size_ + body_size_ + 40;
  for (const auto& f : fields_) size += name_of(f).size() + f.value_size + 4;
  std::string out;
  out.reserve(size);
  out.append(text_.data(), start_line_size_);
  out += "\r\n";
  for (const auto& f : fields_) {
    out += name_of(f);
    out += ": ";
    out += value_of(f);
    out += "\r\n";
  }
  char digits[10];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, body_size_);
  static_cast<void>(ec);  // ten digits hold any uint32
  out += "Content-Length: ";
  out.append(digits, end);
  out += "\r\n\r\n";
  out.append(text_.data() + body_offset_, body_size_);
  return out;
}

Message MessageBuilder::build() const {
  ParseOptions opt;
  opt.require_mandatory_headers = false;
  opt.max_message_size = static_cast<std::size_t>(-1);
  opt.max_line_length = static_cast<std::size_t>(-1);
  opt.max_header_count = static_cast<std::size_t>(-1);
  return parse_message(str(), opt).value();
}

}  // namespace astmrf::sip
