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

enum class UriScheme : std::uint8_t { sip, sips, tel, other };
enum class HostKind : std::uint8_t { none, hostname, ipv4, ipv6 };

/// One `name[=value]` parameter; value is empty when absent (has_value false).
struct Param {
  std::string_view name;
  std::string_view value;
  bool has_value{false};
};

/// Parameters of one header element. Most elements carry a handful, so the
/// first kInline live inside the object and parsing does not allocate.
class ParamList {
 public:
  static constexpr std::size_t kInline = 6;
  ParamList() = default;
  void push_back(const Param& p) {
    if (size_ < kInline) {
      inline_[size_] = p;
    } else {
      if (size_ == kInline) overflow_.assign(inline_, inline_ + kInline);
      overflow_.push_back(p);
    }
    ++size_;
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] const Param* begin() const noexcept { return size_ <= kInline ? inline_ : overflow_.data(); }
  [[nodiscard]] const Param* end() const noexcept { return begin() + size_; }
  const Param& operator[](std::size_t i) const noexcept { return begin()[i]; }
  [[nodiscard]] const Param& front() const noexcept { return begin()[0]; }
  [[nodiscard]] const Param& back() const noexcept { return begin()[size_ - 1]; }

 private:
  Param inline_[kInline];
  std::vector<Param> overflow_;
  std::size_t size_{0};
};

struct Uri {
  UriScheme scheme{UriScheme::other};
  std::string_view scheme_text;  ///< as written, e.g. "SIP"
  std::string_view user;         ///< still %-escaped; TEL: the number
  std::string_view password;     ///< still %-escaped
  bool has_password{false};
  std::string_view host;         ///< IPv6 without brackets
  HostKind host_kind{HostKind::none};
  std::uint16_t port{0};         ///< 0 when absent
  bool has_port{false};
  std::string_view params;       ///< raw ";a=b;c" (leading ';' included), or empty
  std::string_view headers;      ///< raw "a=b&c=d" (after '?'), or empty
  std::string_view opaque;       ///< other schemes: everything after "scheme:"
  std::string_view text;         ///< the whole URI as parsed

  /// Case-insensitive lookup of a URI parameter; nullopt if absent, an empty
  /// view for a parameter without value (e.g. ";lr").
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const;
  [[nodiscard]] bool has_param(std::string_view name) const { return param(name).has_value(); }
  [[nodiscard]] std::vector<Param> param_list() const;
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
