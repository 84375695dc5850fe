// drachtio-server's framing, as pure code (no Asio, standard library only) so that
// the fuzz build can compile it: `<decimal byte length>#<payload>`, where the
// payload is `<msgId>|<type>|<field>...`, optionally followed by CRLF and a SIP
// message. Fields may be empty; a trailing '|' is an empty last field, so
// decode + encode gives back the same bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::srf::drachtio::wire {

struct Frame {
  /// fields[0] is the message id, fields[1] the type ("sip", "response"...).
  std::vector<std::string> fields;
  bool has_sip{false};
  std::string sip;  ///< the SIP message after the CRLF (when has_sip)

  [[nodiscard]] std::string_view field(std::size_t i) const noexcept {
    return i < fields.size() ? std::string_view(fields[i]) : std::string_view{};
  }
  [[nodiscard]] std::string_view id() const noexcept { return field(0); }
  [[nodiscard]] std::string_view type() const noexcept { return field(1); }
};

/// The payload (what follows '#').
std::string encode_payload(const Frame& frame);
/// The whole frame, length prefix included.
std::string encode(const Frame& frame);
/// Splits a payload; never fails (a payload without '|' is a lone field).
Frame decode_payload(std::string_view payload);

/// Streaming decoder: feed() bytes as they arrive, then next() until it reports
/// need_more. After an error the decoder stays failed (the connection must go).
class FrameDecoder {
 public:
  enum class Status { frame, need_more, error };

  explicit FrameDecoder(std::size_t max_frame_bytes = 1024 * 1024) : max_frame_bytes_(max_frame_bytes) {}

  void feed(std::string_view bytes);
  Status next(Frame& out);
  [[nodiscard]] const std::string& error() const noexcept { return error_; }
  [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size() - consumed_; }

 private:
  Status fail(std::string why);

  std::size_t max_frame_bytes_;
  std::string buffer_;
  std::size_t consumed_{0};
  std::string error_;
};

}  // namespace astmrf::srf::drachtio::wire
