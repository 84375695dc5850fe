// Builds canonical SIP messages. Every name and value is checked: CR, LF or
// NUL inside a value (header injection) throws HeaderInjectionError, as do
// invalid methods, header names, status codes and Request-URIs.
// Content-Length is always computed from the body.
#pragma once

#include <astmrf/sip/header_id.hpp>
#include <astmrf/sip/message.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace astmrf::sip {

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
  struct Field {
    HeaderId id;
    std::string name;
    std::string value;
  };
  MessageBuilder() = default;
  static Field make_field(HeaderId id, std::string_view name, std::string_view value);

  std::string start_line_;
  std::vector<Field> fields_;
  std::string body_;
};

}  // namespace astmrf::sip
