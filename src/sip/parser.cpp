#include "chars.hpp"
#include "error_util.hpp"
#include "header_lookup.hpp"

#include <astmrf/sip/parser.hpp>

#include <algorithm>
#include <bit>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace astmrf::sip {

static_assert(static_cast<int>(HeaderId::count_) <= 64, "mandatory-header bitmask needs <= 64 ids");

namespace {

using namespace detail;

// Index of the first byte < 0x20 (CR, LF, HT or another control) at or after
// `i`, or `n`. Eight bytes per step: a byte b < 0x20 makes (b - 0x20) borrow
// into bit 7 while ~b keeps it; bytes >= 0x80 are masked out by ~b. Borrows
// only ever flag bytes above a true hit, so the lowest flagged byte is exact.
inline std::size_t find_control(const char* p, std::size_t i, std::size_t n) noexcept {
#if defined(__SSE2__)
  // Sixteen bytes per step: unsigned b <= 0x1f exactly when min(b, 0x1f) == b.
  const __m128i limit = _mm_set1_epi8(0x1f);
  while (i + 16 <= n) {
    __m128i x;
    std::memcpy(&x, p + i, 16);
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(x, limit), x)));
    if (mask != 0) return i + static_cast<std::size_t>(std::countr_zero(mask));
    i += 16;
  }
#endif
  if constexpr (std::endian::native == std::endian::little) {
    while (i + 8 <= n) {
      std::uint64_t x;
      std::memcpy(&x, p + i, 8);
      const std::uint64_t t = (x - 0x2020202020202020ULL) & ~x & 0x8080808080808080ULL;
      if (t != 0) return i + static_cast<std::size_t>(std::countr_zero(t) >> 3);
      i += 8;
    }
  }
  while (i < n && static_cast<unsigned char>(p[i]) >= 0x20) ++i;
  return i;
}

constexpr std::uint64_t bit(HeaderId id) { return 1ULL << static_cast<unsigned>(id); }

}  // namespace

MethodId method_id(std::string_view m) noexcept {
  switch (m.size()) {
    case 3:
      if (m == "ACK") return MethodId::ack;
      if (m == "BYE") return MethodId::bye;
      break;
    case 4:
      if (m == "INFO") return MethodId::info;
      break;
    case 5:
      if (m == "PRACK") return MethodId::prack;
      if (m == "REFER") return MethodId::refer;
      break;
    case 6:
      if (m == "INVITE") return MethodId::invite;
      if (m == "CANCEL") return MethodId::cancel;
      if (m == "NOTIFY") return MethodId::notify;
      if (m == "UPDATE") return MethodId::update;
      break;
    case 7:
      if (m == "OPTIONS") return MethodId::options;
      if (m == "PUBLISH") return MethodId::publish;
      if (m == "MESSAGE") return MethodId::message;
      break;
    case 8:
      if (m == "REGISTER") return MethodId::register_;
      break;
    case 9:
      if (m == "SUBSCRIBE") return MethodId::subscribe;
      break;
    default: break;
  }
  return MethodId::unknown;
}

class MessageParser {
 public:
  MessageParser(std::string_view data, const ParseOptions& opt) : opt_(opt), n_(data.size()) {
    msg_.buf_ = std::make_unique_for_overwrite<char[]>(n_ == 0 ? 1 : n_);
    if (n_ != 0) std::memcpy(msg_.buf_.get(), data.data(), n_);
    p_ = msg_.buf_.get();
  }

  Result<Message> run() {
    if (n_ > opt_.max_message_size) {
      return make_error(
          ParseErrc::message_too_large,
          "message of " + std::to_string(n_) + " bytes exceeds the limit of " + std::to_string(opt_.max_message_size));
    }
    // RFC 3261 7.5: ignore CRLFs before the start line.
    while (pos_ < n_ && (p_[pos_] == '\r' || p_[pos_] == '\n')) {
      if (p_[pos_] == '\n') ++line_;
      ++pos_;
    }
    if (pos_ == n_) return make_error(ParseErrc::empty_message, "no start line");
    if (auto st = start_line(); !st) return std::move(st).error();
    if (auto st = header_lines(); !st) return std::move(st).error();
    if (auto st = body(); !st) return std::move(st).error();
    if (opt_.validate_headers) {
      if (auto st = msg_.validate(); !st) return std::move(st).error();
    }
    return std::move(msg_);
  }

 private:
  ParseError error_at(ParseErrc code, std::string reason, std::size_t at, std::string_view header = {}) const {
    return make_error(code, std::move(reason), line_, static_cast<std::uint32_t>(at - line_start_ + 1), header);
  }

  // Finds the end of the line starting at pos_: sets line_end_ (first byte of
  // the terminator) and next_ (first byte of the following line).
  Status find_line_end() {
    std::size_t e = find_control(p_, pos_, n_);
    // HT is text; any other control byte is allowed only as a quoted-pair
    // ("\" %x00-09 / %x0B-0C / %x0E-7F, RFC 3261 25.1), never CR or LF.
    while (e < n_ && (p_[e] == '\t' || (p_[e] != '\r' && p_[e] != '\n' && e > pos_ && p_[e - 1] == '\\'))) {
      e = find_control(p_, e + 1, n_);
    }
    if (e >= n_) {
      return error_at(ParseErrc::bad_header_line, "header section is not terminated by an empty line", n_);
    }
    if (p_[e] == '\r') {
      if (e + 1 >= n_ || p_[e + 1] != '\n') return error_at(ParseErrc::control_character, "CR not followed by LF", e);
      next_ = e + 2;
    } else if (p_[e] == '\n') {
      next_ = e + 1;  // bare LF: tolerated line end
    } else {
      return error_at(ParseErrc::control_character,
                      "control character 0x" +
                          std::to_string(static_cast<unsigned>(static_cast<unsigned char>(p_[e]))) +
                          " (decimal) in header section",
                      e);
    }
    line_end_ = e;
    if (line_end_ - pos_ > opt_.max_line_length) {
      return error_at(ParseErrc::line_too_long,
                      "line of " + std::to_string(line_end_ - pos_) + " bytes exceeds the limit of " +
                          std::to_string(opt_.max_line_length),
                      pos_);
    }
    return ok();
  }

  // The common case of find_line_end(): the first control byte is the CR of
  // a CRLF and the line is within the limit. False means "take the slow path".
  bool find_line_end_fast() noexcept {
    const std::size_t e = find_control(p_, pos_, n_);
    if (e + 1 < n_ && p_[e] == '\r' && p_[e + 1] == '\n' && e - pos_ <= opt_.max_line_length) {
      line_end_ = e;
      next_ = e + 2;
      return true;
    }
    return false;
  }

  void advance_line() {
    pos_ = next_;
    line_start_ = pos_;
    ++line_;
  }

  Status start_line() {
    line_start_ = pos_;
    if (auto st = find_line_end(); !st) return st;
    const std::string_view line(p_ + pos_, line_end_ - pos_);
    if (line.size() >= 4 && iequals(line.substr(0, 4), "SIP/")) {
      if (auto st = status_line(line); !st) return st;
    } else {
      if (auto st = request_line(line); !st) return st;
    }
    advance_line();
    return ok();
  }

  Status check_version(std::string_view v, std::size_t col) {
    if (iequals(v, "SIP/2.0")) return ok();
    // SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT
    const auto dot = v.find('.');
    if (v.size() > 4 && iequals(v.substr(0, 4), "SIP/") && dot != std::string_view::npos && dot > 4 &&
        dot + 1 < v.size() && all_of(v.substr(4, dot - 4), kDigit) && all_of(v.substr(dot + 1), kDigit)) {
      return error_at(ParseErrc::unsupported_version, "SIP version " + std::string(v.substr(4)) + " is not supported",
                      col);
    }
    return error_at(ParseErrc::bad_version, "malformed SIP version '" + std::string(v) + "'", col);
  }

  Status status_line(std::string_view line) {
    const auto sp = line.find(' ');
    if (sp == std::string_view::npos)
      return error_at(ParseErrc::bad_start_line, "status line has no status code", pos_ + line.size());
    if (auto st = check_version(line.substr(0, sp), pos_); !st) return st;
    const auto code = line.substr(sp + 1, 3);
    if (code.size() != 3 || !all_of(code, kDigit) || code[0] < '1' || code[0] > '6') {
      return error_at(ParseErrc::bad_status_code, "status code must be three digits 100-699", pos_ + sp + 1);
    }
    if (line.size() > sp + 4 && line[sp + 4] != ' ') {
      return error_at(ParseErrc::bad_status_code, "status code must be followed by a space", pos_ + sp + 4);
    }
    msg_.version_ = line.substr(0, sp);
    msg_.status_ = static_cast<std::uint16_t>((code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0'));
    msg_.reason_ = line.size() > sp + 5 ? line.substr(sp + 5) : std::string_view(p_ + pos_ + line.size(), 0);
    return ok();
  }

  Status request_line(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && is(line[i], kToken)) ++i;
    if (i == 0) return error_at(ParseErrc::bad_method, "request method expected", pos_);
    if (i == line.size() || line[i] != ' ') {
      return error_at(ParseErrc::bad_method, "invalid character in method or missing space after it", pos_ + i);
    }
    if (is_wsp(line.back())) {
      return error_at(ParseErrc::bad_start_line, "whitespace at the end of the Request-Line", pos_ + line.size() - 1);
    }
    const auto method = line.substr(0, i);
    const auto uri_start = i + 1;
    const auto last_sp = line.rfind(' ');
    if (last_sp <= uri_start)
      return error_at(ParseErrc::bad_request_uri, "Request-URI and SIP version expected", pos_ + uri_start);
    const auto uri = line.substr(uri_start, last_sp - uri_start);
    if (is_wsp(uri.front())) {
      return error_at(ParseErrc::bad_request_uri, "Request-Line elements must be separated by a single SP",
                      pos_ + uri_start);
    }
    if (const auto j = skip_class(uri.data(), 0, uri.size(), kVisible); j != uri.size()) {
      return error_at(ParseErrc::bad_request_uri, "whitespace or control character inside the Request-URI",
                      pos_ + uri_start + j);
    }
    if (uri.find(':') == std::string_view::npos)
      return error_at(ParseErrc::bad_request_uri, "Request-URI has no scheme", pos_ + uri_start);
    const auto version = line.substr(last_sp + 1);
    if (auto st = check_version(version, pos_ + last_sp + 1); !st) return st;
    msg_.method_ = method;
    msg_.method_id_ = method_id(method);
    msg_.request_uri_ = uri;
    msg_.version_ = version;
    return ok();
  }

  Status header_lines() {
    auto& headers = msg_.headers_;
    headers.reserve(16);
    std::uint64_t seen = 0;
    while (true) {
      if (!find_line_end_fast()) {
        if (auto st = find_line_end(); !st) return st;
      }
      if (line_end_ == pos_) {  // empty line: end of the header section
        pos_ = next_;
        break;
      }
      const char first = p_[pos_];
      if (first == ' ' || first == '\t') {
        if (auto st = unfold(); !st) return st;
        advance_line();
        continue;
      }
      std::size_t i = skip_class(p_, pos_, line_end_, kToken);
      if (i == pos_) return error_at(ParseErrc::bad_header_name, "header name expected", pos_);
      const std::string_view name(p_ + pos_, i - pos_);
      while (i < line_end_ && is_wsp(p_[i])) ++i;
      if (i == line_end_ || p_[i] != ':') {
        return error_at(ParseErrc::bad_header_line, "':' expected after header name", i, name);
      }
      ++i;
      while (i < line_end_ && is_wsp(p_[i])) ++i;
      std::size_t e = line_end_;
      while (e > i && is_wsp(p_[e - 1])) --e;
      if (headers.size() >= opt_.max_header_count) {
        return error_at(ParseErrc::too_many_headers, "more than " + std::to_string(opt_.max_header_count) + " headers",
                        pos_, name);
      }
      const auto id = header_id(name);
      seen |= bit(id);
      headers.push_back(HeaderField{id, name, std::string_view(p_ + i, e - i), line_});
      if (auto& slot = msg_.first_[static_cast<std::size_t>(id)]; slot == 0) {
        slot = static_cast<std::uint16_t>(std::min<std::size_t>(headers.size(), 0xffff));  // 0xffff: look it up
      }
      advance_line();
    }
    if (opt_.require_mandatory_headers) {
      static constexpr HeaderId kRequired[] = {HeaderId::via, HeaderId::from, HeaderId::to, HeaderId::call_id,
                                               HeaderId::cseq};
      for (auto id : kRequired) {
        if ((seen & bit(id)) == 0) {
          return make_error(ParseErrc::missing_header,
                            "mandatory header " + std::string(header_name(id)) + " is missing");
        }
      }
    }
    has_content_length_ = (seen & bit(HeaderId::content_length)) != 0;
    return ok();
  }

  // Obsolete line folding (RFC 3261 7.3.1): the CRLF and the leading
  // whitespace are equivalent to one SP, so the terminator of the previous
  // line is overwritten with spaces and the previous value is extended.
  Status unfold() {
    auto& headers = msg_.headers_;
    if (headers.empty()) return error_at(ParseErrc::bad_header_line, "continuation line before the first header", pos_);
    auto& h = headers.back();
    std::size_t e = line_end_;
    while (e > pos_ && is_wsp(p_[e - 1])) --e;
    if (e == pos_) return ok();  // whitespace-only continuation adds nothing
    for (std::size_t k = prev_line_end_(); k < pos_; ++k) p_[k] = ' ';
    const char* start = h.value.empty() ? p_ + pos_ : h.value.data();
    while (start < p_ + e && is_wsp(*start)) ++start;
    h.value = std::string_view(start, static_cast<std::size_t>(p_ + e - start));
    return ok();
  }

  // First byte of the previous line's terminator (pos_ is the current line).
  std::size_t prev_line_end_() const {
    std::size_t k = pos_;
    if (k > 0 && p_[k - 1] == '\n') --k;
    if (k > 0 && p_[k - 1] == '\r') --k;
    return k;
  }

  Status body() {
    const std::size_t available = n_ - pos_;
    const char* body_start = p_ + pos_;
    if (has_content_length_) {
      const HeaderField* cl = nullptr;
      for (const auto& h : msg_.headers_) {
        if (h.id != HeaderId::content_length) continue;
        if (cl != nullptr && trim(h.value) != trim(cl->value)) {
          return make_error(ParseErrc::duplicate_header, "conflicting Content-Length values", h.line, 1, h.name);
        }
        cl = &h;
      }
      std::uint64_t len = 0;
      if (!parse_uint(cl->value, 0xffffffffULL, len)) {
        return make_error(ParseErrc::bad_content_length,
                          "Content-Length '" + std::string(cl->value) + "' is not a decimal number", cl->line,
                          static_cast<std::uint32_t>(cl->value.data() - cl->name.data() + 1), cl->name);
      }
      if (len > available) {
        return make_error(ParseErrc::body_truncated,
                          "Content-Length " + std::to_string(len) + " exceeds the " + std::to_string(available) +
                              " body bytes available",
                          cl->line, static_cast<std::uint32_t>(cl->value.data() - cl->name.data() + 1), cl->name);
      }
      msg_.body_ = std::string_view(body_start, static_cast<std::size_t>(len));
    } else {
      if (opt_.require_content_length) {
        return make_error(ParseErrc::missing_header, "Content-Length is required on stream transports");
      }
      msg_.body_ = std::string_view(body_start, available);
    }
    msg_.size_ = pos_ + msg_.body_.size();
    return ok();
  }

  const ParseOptions& opt_;
  Message msg_;
  char* p_{nullptr};
  std::size_t n_;
  std::size_t pos_{0};
  std::size_t line_start_{0};
  std::size_t line_end_{0};
  std::size_t next_{0};
  std::uint32_t line_{1};
  bool has_content_length_{false};
};

Result<Message> parse_message(std::string_view data, const ParseOptions& options) {
  return MessageParser(data, options).run();
}

}  // namespace astmrf::sip
