// Extracts complete SIP messages from a TCP/TLS byte stream (RFC 3261 18.3):
// partial reads, pipelined messages, RFC 5626 keep-alive CRLFs. Every limit
// ends in a ParseError, so a hostile peer cannot make the buffer grow without
// bound. After an error the stream is out of sync: close the connection.
#pragma once

#include <astmrf/sip/message.hpp>
#include <astmrf/sip/parser.hpp>
#include <astmrf/sip/result.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace astmrf::sip {

/// Bounds on what a stream peer may send in one message.
struct FramerLimits {
  std::size_t max_message_size{64 * 1024};  ///< header section + body
  /// Header lines per message.
  std::size_t max_header_count{256};
  /// Bytes per header line.
  std::size_t max_line_length{8 * 1024};
};

/// One result of StreamFramer::next().
struct Frame {
  /// What next() found.
  enum class Kind {
    need_more,       ///< no complete message buffered: feed more bytes
    message,         ///< `message` holds the next message
    keepalive_ping,  ///< a CRLFCRLF ping was consumed: answer with CRLF
  };
  /// What was found.
  Kind kind{Kind::need_more};
  /// The message, when kind is Kind::message.
  Message message;
};

/// Extracts complete SIP messages from a TCP/TLS byte stream: partial reads,
/// pipelined messages, RFC 5626 keep-alives. After an error the stream is out of sync.
class StreamFramer {
 public:
  /// A framer with these limits, parsing each message with `options`.
  explicit StreamFramer(FramerLimits limits = {}, ParseOptions options = {});

  /// Appends received bytes. Fails (and stays failed) when the bytes
  /// buffered but not yet framed would exceed the message size limit.
  Status feed(std::string_view bytes);

  /// Returns the next frame; call until Kind::need_more. Errors are sticky.
  Result<Frame> next();

  /// Bytes buffered but not yet returned as a frame.
  [[nodiscard]] std::size_t buffered() const noexcept { return buf_.size() - pos_; }
  /// True after an error (errors are sticky: close the connection).
  [[nodiscard]] bool failed() const noexcept { return failed_; }

 private:
  ParseError fail(ParseErrc code, std::string reason);
  Result<Frame> scan_headers();

  FramerLimits limits_;
  ParseOptions options_;
  std::string buf_;
  std::size_t pos_{0};         // start of the current (unframed) message
  std::size_t scan_{0};        // where the header scan resumes, relative to pos_
  std::size_t line_start_{0};  // start of the line being scanned, relative to pos_
  std::size_t lines_{0};
  std::size_t head_end_{0};  // 0 until the blank line is found (relative)
  std::size_t total_{0};     // head + Content-Length once known
  bool failed_{false};
  int keepalive_lfs_{0};  // LFs of a keep-alive seen so far, across reads
  std::size_t content_length_{0};
  bool has_content_length_{false};
  ParseError error_;
};

}  // namespace astmrf::sip
