// Builds canonical SIP messages. Every name and value is checked: CR, LF or
// NUL inside a value (header injection) throws HeaderInjectionError, as do
// invalid methods, header names, status codes and Request-URIs.
// Content-Length is always computed from the body.
#pragma once

#include <astmrf/sip/header_id.hpp>
#include <astmrf/sip/message.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::sip {

/// The checks MessageBuilder applies, for writers of SIP text that build no Message (the
/// drachtio-server backend). Each throws HeaderInjectionError naming what it refused.
/// A header value (or reason phrase, or URI) holding CR, LF or NUL; `field` names it in the error.
void check_header_value(std::string_view field, std::string_view value);
/// A header name that is not an RFC 3261 token (empty, or with ':', space, CR, LF, NUL...).
void check_header_name(std::string_view name);
/// A method that is not an RFC 3261 token.
void check_method(std::string_view method);
/// A Request-URI with CR, LF, NUL, white space, or no scheme.
void check_request_uri(std::string_view request_uri);
/// A status code outside 100-699, or a reason phrase with CR, LF or NUL.
void check_status_line(int status, std::string_view reason);

/// Default reason phrase of a status code ("OK", "Ringing"...), or "".
std::string_view default_reason(int status) noexcept;

/// Builds a canonical SIP message, header by header, and checks every name and value
/// (CR/LF/NUL, invalid names, methods, status codes and URIs throw HeaderInjectionError).
/// Content-Length is always computed from the body.
class MessageBuilder {
 public:
  /// A request with this method and Request-URI.
  static MessageBuilder request(std::string_view method, std::string_view request_uri);
  /// A response; an empty reason uses default_reason(status).
  static MessageBuilder response(int status, std::string_view reason = {});
  /// A response to `req` (RFC 3261 8.2.6.2): copies Via, From, To, Call-ID,
  /// CSeq (and Record-Route for 101-299 to dialog-creating requests); adds
  /// `to_tag` to To when it has none and a tag is given.
  static MessageBuilder response_to(const Message& req, int status, std::string_view reason = {},
                                    std::string_view to_tag = {});
  /// Starts from an existing message (start line, headers and body).
  static MessageBuilder from_message(const Message& msg);

  /// Appends a header. Content-Length is ignored (it is always recomputed).
  MessageBuilder& add(HeaderId id, std::string_view value);
  /// Appends a header by name. Content-Length is ignored (it is always recomputed).
  MessageBuilder& add(std::string_view name, std::string_view value);
  /// Inserts before every other header (e.g. a proxy's Via).
  MessageBuilder& prepend(HeaderId id, std::string_view value);
  /// Removes every header of that id / name.
  MessageBuilder& remove(HeaderId id);
  /// Removes every header of that name (case-insensitive, compact forms too).
  MessageBuilder& remove(std::string_view name);
  /// Replaces every header of that id by one with `value`.
  MessageBuilder& set(HeaderId id, std::string_view value);
  /// Replaces every header of that name by one with `value`.
  MessageBuilder& set(std::string_view name, std::string_view value);
  /// Sets the body and its Content-Type (an empty type removes Content-Type).
  MessageBuilder& body(std::string_view content_type, std::string_view body);

  /// Wire text.
  [[nodiscard]] std::string str() const;
  /// Parsed message (mandatory-header checks disabled, so partial messages
  /// can be built in tests).
  [[nodiscard]] Message build() const;

 private:
  // One header. Its value (and the name of an unknown header) live in text_, so that a
  // message is built with a few allocations instead of two per header.
  struct Field {
    HeaderId id;
    std::uint32_t name_offset;  // into text_; name_size 0: header_name(id)
    std::uint32_t name_size;
    std::uint32_t value_offset;
    std::uint32_t value_size;
  };
  MessageBuilder();
  // Appends to text_ and returns where it starts.
  std::uint32_t store(std::string_view text);
  // A checked field (its text stored); `name` is kept only for HeaderId::other.
  Field make_field(HeaderId id, std::string_view name, std::string_view value);
  // Stores the field without checks (values copied from a parsed message).
  void push_unchecked(HeaderId id, std::string_view name, std::string_view value);
  std::string_view name_of(const Field& f) const noexcept;
  std::string_view value_of(const Field& f) const noexcept;

  std::string text_;                   // start line, then values, unknown names and the body, in any order
  std::uint32_t start_line_size_ = 0;  // the start line is text_'s first bytes
  std::vector<Field> fields_;
  std::uint32_t body_offset_ = 0;
  std::uint32_t body_size_ = 0;
};

}  // namespace astmrf::sip
