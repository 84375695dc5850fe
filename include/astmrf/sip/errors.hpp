// Error types of the SIP core: parse failures are values (ParseError inside a
// Result), misuse of the builder is an exception (HeaderInjectionError).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace astmrf::sip {

/// What went wrong. The precise, human-readable reason is ParseError::reason.
enum class ParseErrc : std::uint8_t {
  empty_message,
  bad_start_line,
  bad_method,
  bad_request_uri,
  bad_version,
  unsupported_version,
  bad_status_code,
  bad_header_line,
  bad_header_name,
  bad_header_value,
  control_character,
  missing_header,
  duplicate_header,
  bad_content_length,
  body_truncated,
  message_too_large,
  too_many_headers,
  line_too_long,
  bad_uri,
  bad_sdp,
  framing_failed,
  bad_dtmf,  ///< a SIP INFO DTMF body (application/dtmf-relay, application/dtmf)
};

/// Stable short name of an error code ("bad_start_line", ...).
std::string_view to_string(ParseErrc code) noexcept;

/// A parse failure: what (code + reason) and where (1-based line/column of the
/// offending text in the input, and the header it belongs to, if any).
struct ParseError {
  /// What kind of failure.
  ParseErrc code{ParseErrc::bad_start_line};
  std::string reason;       ///< e.g. "CSeq number is not a 32-bit integer"
  std::uint32_t line{0};    ///< 0 when not applicable
  std::uint32_t column{0};  ///< 0 when not applicable
  std::string header;       ///< header name as written, empty for the start line/body

  /// "bad_header_value: CSeq number ... (header CSeq, line 5, column 7)".
  [[nodiscard]] std::string message() const;
};

/// Base of the exceptions this module throws.
class SipError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Thrown by Result<T>::value() when the result holds an error.
class ParseFailure : public SipError {
 public:
  /// An exception carrying `err`.
  explicit ParseFailure(ParseError err) : SipError(err.message()), error_(std::move(err)) {}
  /// The parse error.
  [[nodiscard]] const ParseError& error() const noexcept { return error_; }

 private:
  ParseError error_;
};

/// Thrown by the builder when a value would smuggle CR, LF or NUL into the
/// wire text (header injection), or a name/method/URI is not valid.
class HeaderInjectionError : public SipError {
 public:
  /// `field`: the offending header name or part; `what_arg`: the message.
  HeaderInjectionError(std::string field, const std::string& what_arg) : SipError(what_arg), field_(std::move(field)) {}
  /// The header name (or "request-uri", "method", "reason-phrase").
  [[nodiscard]] const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

}  // namespace astmrf::sip
