// SIP, SIPS and TEL URIs (RFC 3261 section 19.1, RFC 3966), plus opaque
// absolute URIs of other schemes. A Uri is a set of views into the text it was
// parsed from: keep that text (usually the Message) alive while using it.
#pragma once

#include <astmrf/sip/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::sip {

/// The URI schemes the parser tells apart.
enum class UriScheme : std::uint8_t { sip, sips, tel, other };
/// What a host part is.
enum class HostKind : std::uint8_t { none, hostname, ipv4, ipv6 };

/// One `name[=value]` parameter; value is empty when absent (has_value false).
struct Param {
  /// The name, as written.
  std::string_view name;
  /// The value (still %-escaped); empty when absent.
  std::string_view value;
  /// Whether there was a '=' (`;lr` has none).
  bool has_value{false};
};

/// Parameters of one header element. Most elements carry a handful, so the
/// first kInline live inside the object and parsing does not allocate.
class ParamList {
 public:
  /// Parameters stored inline before the list allocates.
  static constexpr std::size_t kInline = 6;
  ParamList() = default;
  /// Appends a parameter.
  void push_back(const Param& p) {
    if (size_ < kInline) {
      inline_[size_] = p;
    } else {
      if (size_ == kInline) overflow_.assign(inline_, inline_ + kInline);
      overflow_.push_back(p);
    }
    ++size_;
  }
  /// The number of parameters.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Whether there are none.
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  /// The first parameter (iteration).
  [[nodiscard]] const Param* begin() const noexcept { return size_ <= kInline ? inline_ : overflow_.data(); }
  /// Past the last parameter (iteration).
  [[nodiscard]] const Param* end() const noexcept { return begin() + size_; }
  /// The parameter at `i` (< size()).
  const Param& operator[](std::size_t i) const noexcept { return begin()[i]; }
  /// The first parameter (not empty()).
  [[nodiscard]] const Param& front() const noexcept { return begin()[0]; }
  /// The last parameter (not empty()).
  [[nodiscard]] const Param& back() const noexcept { return begin()[size_ - 1]; }

 private:
  Param inline_[kInline];
  std::vector<Param> overflow_;
  std::size_t size_{0};
};

/// A parsed URI (RFC 3261 19.1 for sip/sips, RFC 3966 for tel), as views into
/// the text it was parsed from.
struct Uri {
  /// sip, sips, tel or other.
  UriScheme scheme{UriScheme::other};
  std::string_view scheme_text;  ///< as written, e.g. "SIP"
  std::string_view user;         ///< still %-escaped; TEL: the number
  std::string_view password;     ///< still %-escaped
  /// Whether a password was given (it may be empty).
  bool has_password{false};
  std::string_view host;  ///< IPv6 without brackets
  /// What the host is (name, IPv4, IPv6).
  HostKind host_kind{HostKind::none};
  std::uint16_t port{0};  ///< 0 when absent
  /// Whether a port was given.
  bool has_port{false};
  std::string_view params;   ///< raw ";a=b;c" (leading ';' included), or empty
  std::string_view headers;  ///< raw "a=b&c=d" (after '?'), or empty
  std::string_view opaque;   ///< other schemes: everything after "scheme:"
  std::string_view text;     ///< the whole URI as parsed

  /// Case-insensitive lookup of a URI parameter; nullopt if absent, an empty
  /// view for a parameter without value (e.g. ";lr").
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const;
  /// Whether the URI has parameter `name`.
  [[nodiscard]] bool has_param(std::string_view name) const { return param(name).has_value(); }
  /// The URI parameters, parsed, in order.
  [[nodiscard]] std::vector<Param> param_list() const;
  /// The URI headers (after '?'), parsed, in order.
  [[nodiscard]] std::vector<Param> header_list() const;

  /// "host" or "[v6]" followed by ":port" when present.
  [[nodiscard]] std::string host_port() const;
  /// Canonical text: lower-case scheme, IPv6 in brackets, parts as parsed.
  [[nodiscard]] std::string to_string() const;
};

/// Parses a URI; `text` must outlive the result.
Result<Uri> parse_uri(std::string_view text);

/// Decodes %HH escapes (invalid escapes are kept literally).
std::string unescape(std::string_view text);

/// Escapes every byte that is not allowed unescaped in the user part of a
/// SIP URI (RFC 3261: unreserved / user-unreserved).
std::string escape_user(std::string_view text);

/// Parses a host (hostname, IPv4 or bracketed IPv6 reference) exactly.
HostKind classify_host(std::string_view host) noexcept;

}  // namespace astmrf::sip
