#include "chars.hpp"
#include "error_util.hpp"

#include <astmrf/sip/header_id.hpp>
#include <astmrf/sip/stream_framer.hpp>

#include <cstring>

namespace astmrf::sip {
namespace {

using namespace detail;

// If `line` is a Content-Length header ("Content-Length" or compact "l"),
// returns its value; otherwise an empty optional.
std::optional<std::string_view> content_length_value(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && is(line[i], kToken)) ++i;
  const auto name = line.substr(0, i);
  if (!(iequals(name, "content-length") || iequals(name, "l"))) return std::nullopt;
  while (i < line.size() && is_wsp(line[i])) ++i;
  if (i == line.size() || line[i] != ':') return std::nullopt;
  return trim(line.substr(i + 1));
}

}  // namespace

StreamFramer::StreamFramer(FramerLimits limits, ParseOptions options) : limits_(limits), options_(options) {
  options_.max_message_size = limits_.max_message_size;
  options_.max_header_count = limits_.max_header_count;
  options_.max_line_length = limits_.max_line_length;
  options_.require_content_length = true;
}

ParseError StreamFramer::fail(ParseErrc code, std::string reason) {
  failed_ = true;
  error_ = make_error(code, std::move(reason), static_cast<std::uint32_t>(lines_ + 1), 0);
  return error_;
}

Status StreamFramer::feed(std::string_view bytes) {
  if (failed_) return error_;
  if (buffered() > limits_.max_message_size) {
    return fail(ParseErrc::message_too_large,
                "more than " + std::to_string(limits_.max_message_size) + " bytes buffered without a complete message");
  }
  if (pos_ != 0 && (pos_ == buf_.size() || pos_ >= buf_.size() / 2)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes.data(), bytes.size());
  return ok();
}

Result<Frame> StreamFramer::scan_headers() {
  const char* base = buf_.data() + pos_;
  const std::size_t avail = buf_.size() - pos_;
  while (scan_ < avail) {
    const void* nl = std::memchr(base + scan_, '\n', avail - scan_);
    if (nl == nullptr) {
      scan_ = avail;
      break;
    }
    const auto lf = static_cast<std::size_t>(static_cast<const char*>(nl) - base);
    std::size_t end = lf;
    if (end > line_start_ && base[end - 1] == '\r') --end;
    const std::string_view line(base + line_start_, end - line_start_);
    if (line.size() > limits_.max_line_length) {
      return fail(ParseErrc::line_too_long, "line of " + std::to_string(line.size()) + " bytes exceeds the limit of " +
                                                std::to_string(limits_.max_line_length));
    }
    scan_ = lf + 1;
    line_start_ = scan_;
    if (line.empty()) {
      head_end_ = scan_;
      return Frame{};
    }
    ++lines_;
    if (lines_ > limits_.max_header_count + 1) {  // + the start line
      return fail(ParseErrc::too_many_headers, "more than " + std::to_string(limits_.max_header_count) + " headers");
    }
    if (auto v = content_length_value(line)) {
      std::uint64_t n = 0;
      if (!parse_uint(*v, limits_.max_message_size, n)) {
        return fail(ParseErrc::bad_content_length,
                    "Content-Length '" + std::string(*v) + "' is not a number within the message size limit");
      }
      if (has_content_length_ && n != content_length_)
        return fail(ParseErrc::duplicate_header, "conflicting Content-Length values");
      has_content_length_ = true;
      content_length_ = static_cast<std::size_t>(n);
    }
  }
  if (avail - line_start_ > limits_.max_line_length) {
    return fail(ParseErrc::line_too_long,
                "unterminated line exceeds the limit of " + std::to_string(limits_.max_line_length));
  }
  if (avail > limits_.max_message_size) {
    return fail(ParseErrc::message_too_large,
                "header section exceeds the message size limit of " + std::to_string(limits_.max_message_size));
  }
  return Frame{};
}

Result<Frame> StreamFramer::next() {
  if (failed_) return error_;
  if (head_end_ == 0) {
    if (scan_ == 0) {
      // Keep-alives between messages (RFC 5626 4.4.1): a CRLFCRLF ping or a
      // CRLF pong. Count the LFs consumed to tell them apart.
      while (pos_ < buf_.size() && (buf_[pos_] == '\r' || buf_[pos_] == '\n')) {
        keepalive_lfs_ += buf_[pos_] == '\n' ? 1 : 0;
        ++pos_;
        if (keepalive_lfs_ == 2) break;
      }
      if (pos_ < buf_.size() && keepalive_lfs_ < 2) keepalive_lfs_ = 0;  // a message starts
      if (keepalive_lfs_ == 2) {
        keepalive_lfs_ = 0;
        Frame f;
        f.kind = Frame::Kind::keepalive_ping;
        return f;
      }
      if (pos_ == buf_.size()) return Frame{};
    }
    auto r = scan_headers();
    if (!r) return r;
    if (head_end_ == 0) return r;
    if (!has_content_length_) return fail(ParseErrc::missing_header, "Content-Length is required on stream transports");
    total_ = head_end_ + content_length_;
    if (total_ > limits_.max_message_size) {
      return fail(ParseErrc::message_too_large, "message of " + std::to_string(total_) +
                                                    " bytes exceeds the limit of " +
                                                    std::to_string(limits_.max_message_size));
    }
  }
  if (buf_.size() - pos_ < total_) return Frame{};
  auto msg = parse_message(std::string_view(buf_.data() + pos_, total_), options_);
  if (!msg) {
    failed_ = true;
    error_ = std::move(msg).error();
    return error_;
  }
  pos_ += total_;
  scan_ = line_start_ = lines_ = head_end_ = total_ = content_length_ = 0;
  has_content_length_ = false;
  Frame f;
  f.kind = Frame::Kind::message;
  f.message = std::move(*msg);
  return f;
}

}  // namespace astmrf::sip
