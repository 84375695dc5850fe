// A parsed SIP message: one owned buffer and string_view spans into it.
// Parsing (see parser.hpp) only splits the start line and the header lines;
// the structured accessors below parse a header's value when asked.
#pragma once

#include <astmrf/sip/header_id.hpp>
#include <astmrf/sip/header_parsers.hpp>
#include <astmrf/sip/result.hpp>
#include <astmrf/sip/uri.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::sip {

/// The methods the library knows (unknown for extension methods).
enum class MethodId : std::uint8_t {
  unknown,
  invite,
  ack,
  bye,
  cancel,
  options,
  register_,
  prack,
  subscribe,
  notify,
  publish,
  info,
  refer,
  message,
  update
};

/// Maps a method name (case-sensitive, as RFC 3261 requires) to its id.
MethodId method_id(std::string_view method) noexcept;

/// One header line. `name` is spelled as received; `value` is trimmed and,
/// when the line was folded, the fold was replaced by spaces in place.
struct HeaderField {
  /// The well-known header's id (HeaderId::other for the rest).
  HeaderId id{HeaderId::other};
  /// The name as received (full or compact form, any case).
  std::string_view name;
  /// The value, trimmed.
  std::string_view value;
  std::uint32_t line{0};  ///< 1-based line of the header in the input
};

/// A parsed SIP request or response. It owns one buffer; every string_view it
/// returns points into it and stays valid as long as the message (moves included).
/// Structured accessors parse a header on each call and return a Result: the value,
/// or a ParseError located at the header's line.
class Message {
 public:
  Message() = default;
  /// Copies the buffer and rebases the views onto the copy.
  Message(const Message& other);
  /// Copies the buffer and rebases the views onto the copy.
  Message& operator=(const Message& other);
  // The views point into the heap buffer, which does not move on a move.
  /// Moves the buffer; views stay valid.
  Message(Message&&) noexcept = default;
  /// Moves the buffer; views stay valid.
  Message& operator=(Message&&) noexcept = default;
  ~Message() = default;

  // -- start line --
  /// True for a request.
  [[nodiscard]] bool is_request() const noexcept { return status_ == 0; }
  /// True for a response.
  [[nodiscard]] bool is_response() const noexcept { return status_ != 0; }
  [[nodiscard]] std::string_view method() const noexcept { return method_; }  ///< requests
  [[nodiscard]] MethodId method_id() const noexcept { return method_id_; }    ///< requests
  /// The Request-URI as text (requests).
  [[nodiscard]] std::string_view request_uri() const noexcept { return request_uri_; }
  [[nodiscard]] int status() const noexcept { return status_; }               ///< responses
  [[nodiscard]] std::string_view reason() const noexcept { return reason_; }  ///< responses
  /// "SIP/2.0".
  [[nodiscard]] std::string_view version() const noexcept { return version_; }

  // -- raw header access (no allocation) --
  /// Every header line, in order.
  [[nodiscard]] const std::vector<HeaderField>& headers() const noexcept { return headers_; }
  /// The first header of `id`, or null. One load (an index per id).
  [[nodiscard]] const HeaderField* find(HeaderId id) const noexcept;
  /// Case-insensitive by name; compact forms and full names are equivalent.
  [[nodiscard]] const HeaderField* find(std::string_view name) const noexcept;
  /// Value of the first such header, empty when absent.
  [[nodiscard]] std::string_view header(HeaderId id) const noexcept;
  /// Value of the first header named `name` (case-insensitive, compact forms too), empty when absent.
  [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
  /// Whether a header of `id` is present.
  [[nodiscard]] bool has(HeaderId id) const noexcept { return find(id) != nullptr; }
  /// How many header lines of `id` there are.
  [[nodiscard]] std::size_t count(HeaderId id) const noexcept;
  /// Every value of a header over all its lines; list headers are also split
  /// at top-level commas.
  [[nodiscard]] std::vector<std::string_view> values(HeaderId id) const;

  /// The body (exactly Content-Length bytes when the header is present).
  [[nodiscard]] std::string_view body() const noexcept { return body_; }
  /// The body's size.
  [[nodiscard]] std::size_t content_length() const noexcept { return body_.size(); }
  /// The message text (folds replaced by spaces), without trailing bytes
  /// beyond Content-Length.
  [[nodiscard]] std::string_view raw() const noexcept { return {buf_.get(), size_}; }

  // -- structured access, parsed on each call --
  [[nodiscard]] Result<Uri> uri() const;  ///< the Request-URI
  /// Every Via, top first.
  [[nodiscard]] Result<std::vector<Via>> vias() const;
  /// The top Via.
  [[nodiscard]] Result<Via> top_via() const;
  /// The From header.
  [[nodiscard]] Result<NameAddr> from() const;
  /// The To header.
  [[nodiscard]] Result<NameAddr> to() const;
  /// The Contact header(s) (`*` included).
  [[nodiscard]] Result<ContactList> contacts() const;
  /// The Call-ID value (empty when absent).
  [[nodiscard]] std::string_view call_id() const noexcept { return header(HeaderId::call_id); }
  /// The CSeq header.
  [[nodiscard]] Result<CSeq> cseq() const;
  /// The Max-Forwards value.
  [[nodiscard]] Result<std::uint32_t> max_forwards() const;
  /// The Expires value.
  [[nodiscard]] Result<std::uint32_t> expires() const;
  /// The Content-Type header.
  [[nodiscard]] Result<MediaType> content_type() const;
  /// The Route set, in order.
  [[nodiscard]] Result<std::vector<NameAddr>> routes() const;
  /// The Record-Route set, in order.
  [[nodiscard]] Result<std::vector<NameAddr>> record_routes() const;
  /// The Allow methods.
  [[nodiscard]] Result<std::vector<std::string_view>> allow() const;
  /// The Supported option tags.
  [[nodiscard]] Result<std::vector<std::string_view>> supported() const;
  /// The Require option tags.
  [[nodiscard]] Result<std::vector<std::string_view>> require() const;
  /// The WWW-Authenticate challenge.
  [[nodiscard]] Result<AuthParams> www_authenticate() const;
  /// The Proxy-Authenticate challenge.
  [[nodiscard]] Result<AuthParams> proxy_authenticate() const;
  /// The Authorization credentials.
  [[nodiscard]] Result<AuthParams> authorization() const;
  /// The Proxy-Authorization credentials.
  [[nodiscard]] Result<AuthParams> proxy_authorization() const;

  /// Full check: parses every well-known header present, checks that
  /// single-valued ones occur once and that CSeq matches the method.
  [[nodiscard]] Status validate() const;

  /// Canonical text: full header names, ": " separator, CRLF line ends and
  /// a recomputed Content-Length as the last header.
  [[nodiscard]] std::string serialize() const;
  /// serialize(), appended to `out`.
  void serialize_to(std::string& out) const;

 private:
  friend class MessageParser;

  // Rebases a structured-parse error onto the header's line/column/name.
  ParseError locate(ParseError err, const HeaderField& h) const;
  ParseError missing(HeaderId id) const;
  Result<NameAddr> name_addr(HeaderId id) const;  // From, To: one name-addr
  Result<AuthParams> auth(HeaderId id) const;
  Result<std::vector<NameAddr>> addr_list(HeaderId id) const;
  Result<std::vector<std::string_view>> token_list(HeaderId id) const;

  std::unique_ptr<char[]> buf_;
  std::size_t size_{0};
  std::string_view method_;
  std::string_view request_uri_;
  std::string_view version_;
  std::string_view reason_;
  std::uint16_t status_{0};
  MethodId method_id_{MethodId::unknown};
  std::vector<HeaderField> headers_;
  /// 1 + index in headers_ of the first header of each id, 0 when absent:
  /// find(HeaderId) is one load. Indices, so copies need no rebasing.
  std::array<std::uint16_t, static_cast<std::size_t>(HeaderId::count_)> first_{};
  std::string_view body_;
};

}  // namespace astmrf::sip
