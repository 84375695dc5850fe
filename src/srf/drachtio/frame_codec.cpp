#include "frame_codec.hpp"

#include <astmrf/util/hex.hpp>

namespace astmrf::srf::drachtio::wire {

namespace {
constexpr std::string_view kCrlf = "\r\n";
}

std::string encode_payload(const Frame& frame) {
  std::string out;
  for (std::size_t i = 0; i < frame.fields.size(); ++i) {
    if (i > 0) out += '|';
    out += frame.fields[i];
  }
  if (frame.has_sip) {
    out += kCrlf;
    out += frame.sip;
  }
  return out;
}

std::string encode(const Frame& frame) {
  std::string payload = encode_payload(frame);
  std::string out = std::to_string(payload.size());
  out += '#';
  out += payload;
  return out;
}

Frame decode_payload(std::string_view payload) {
  Frame frame;
  std::string_view head = payload;
  if (auto crlf = payload.find(kCrlf); crlf != std::string_view::npos) {
    head = payload.substr(0, crlf);
    frame.has_sip = true;
    frame.sip.assign(payload.substr(crlf + kCrlf.size()));
  }
  std::size_t start = 0;
  while (true) {
    auto bar = head.find('|', start);
    frame.fields.emplace_back(head.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return frame;
}

void FrameDecoder::feed(std::string_view bytes) {
  if (!error_.empty()) return;
  // Drop what was consumed before growing, so the buffer holds at most one frame
  // plus what arrived with it.
  if (consumed_ > 0) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

FrameDecoder::Status FrameDecoder::fail(std::string why) {
  error_ = std::move(why);
  buffer_.clear();
  consumed_ = 0;
  return Status::error;
}

FrameDecoder::Status FrameDecoder::next(Frame& out) {
  if (!error_.empty()) return Status::error;
  const std::string_view rest = std::string_view(buffer_).substr(consumed_);
  // The length prefix: 1..N decimal digits, then '#'. Its digit count is bounded by
  // the largest allowed frame, so a garbage stream fails fast instead of buffering.
  const std::size_t max_digits = std::to_string(max_frame_bytes_).size();
  std::size_t length = 0;
  std::size_t i = 0;
  for (; i < rest.size(); ++i) {
    const char c = rest[i];
    if (c == '#') break;
    if (c < '0' || c > '9') {
      std::string hex;
      util::append_hex_byte(hex, static_cast<unsigned char>(c));
      return fail("bad frame length prefix: byte 0x" + hex + " where a digit or '#' was expected");
    }
    if (i >= max_digits) return fail("frame length prefix too long");
    length = length * 10 + static_cast<std::size_t>(c - '0');
  }
  if (i == rest.size()) return Status::need_more;
  if (i == 0) return fail("frame without a length before '#'");
  if (length == 0) return fail("empty frame (length 0)");
  if (length > max_frame_bytes_) {
    return fail("frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                std::to_string(max_frame_bytes_));
  }
  if (rest.size() - (i + 1) < length) return Status::need_more;
  out = decode_payload(rest.substr(i + 1, length));
  consumed_ += i + 1 + length;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  return Status::frame;
}

}  // namespace astmrf::srf::drachtio::wire
