// Datagram / whole-message parser. Single pass over the start line and the
// header section; header values are parsed later, on demand (message.hpp).
#pragma once

#include <astmrf/sip/message.hpp>
#include <astmrf/sip/result.hpp>

#include <cstddef>
#include <string_view>

namespace astmrf::sip {

/// Limits and checks of parse_message().
struct ParseOptions {
  /// Largest message accepted, in bytes.
  std::size_t max_message_size{64 * 1024};
  /// Most header lines accepted.
  std::size_t max_header_count{256};
  /// Longest header line accepted, in bytes.
  std::size_t max_line_length{8 * 1024};
  /// Reject messages without Via, From, To, Call-ID and CSeq (RFC 3261 8.1.1).
  bool require_mandatory_headers{true};
  /// Stream transports must carry Content-Length (RFC 3261 18.3).
  bool require_content_length{false};
  /// Also run Message::validate() (parses every well-known header).
  bool validate_headers{false};
};

/// Parses one complete message. The bytes are copied into the message's own
/// buffer. Leading CRLFs are skipped; bytes past Content-Length are ignored
/// (RFC 3261 18.3); without Content-Length the body is the rest of the input.
Result<Message> parse_message(std::string_view data, const ParseOptions& options = {});

}  // namespace astmrf::sip
