// Structured views of the header values a UA needs. Every struct holds views
// into the parsed text: keep the Message (or string) alive while using it.
// The parse_* functions take one header value (already unfolded) and report
// failures as ParseErrc::bad_header_value with a reason; Message adds the
// header name, line and column.
#pragma once

#include <astmrf/sip/result.hpp>
#include <astmrf/sip/uri.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::sip {

/// Case-insensitive lookup in a parameter list; nullopt when absent.
std::optional<std::string_view> find_param(const ParamList& params, std::string_view name);

/// One element of a Via header (RFC 3261 section 20.42).
struct Via {
  std::string_view protocol_name;     ///< "SIP"
  std::string_view protocol_version;  ///< "2.0"
  std::string_view transport;         ///< "UDP", "TCP", "TLS", "WS", ...
  std::string_view host;              ///< sent-by host, IPv6 without brackets
  /// What the host is (name, IPv4, IPv6).
  HostKind host_kind{HostKind::none};
  /// The sent-by port, 0 when absent.
  std::uint16_t port{0};
  /// Whether a port was given.
  bool has_port{false};
  /// Every parameter, in order.
  ParamList params;
  std::string_view branch;    ///< empty when absent
  std::string_view received;  ///< empty when absent
  /// Whether an rport parameter is present (RFC 3581).
  bool has_rport{false};
  std::optional<std::uint16_t> rport;  ///< value of rport=N, nullopt for bare ";rport"

  /// A parameter's value by name (case-insensitive); nullopt when absent.
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const { return find_param(params, name); }
  /// "host[:port]" with IPv6 in brackets.
  [[nodiscard]] std::string sent_by() const;
};

/// name-addr / addr-spec with header parameters: From, To, Contact, Route,
/// Record-Route, Reply-To, Refer-To, P-Asserted-Identity ...
struct NameAddr {
  std::string_view display_name;  ///< raw: without the quotes, escapes kept
  /// Whether the display name was quoted.
  bool display_name_quoted{false};
  /// The URI as written (without the angle brackets).
  std::string_view uri_text;
  /// The parsed URI.
  Uri uri;
  /// Whether the URI was in angle brackets (name-addr form).
  bool angle_brackets{false};
  /// The header parameters (after the URI), in order.
  ParamList params;
  std::string_view tag;  ///< empty when absent

  /// A header parameter's value by name (case-insensitive); nullopt when absent.
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const { return find_param(params, name); }
  /// Display name with quoted-pair escapes resolved.
  [[nodiscard]] std::string display_name_text() const;
};

/// Contact: either '*' or a list of addresses.
struct ContactList {
  /// True for `Contact: *` (REGISTER removing every binding).
  bool star{false};
  /// The addresses, in order.
  std::vector<NameAddr> contacts;
};

/// A CSeq header: sequence number and method.
struct CSeq {
  /// The sequence number.
  std::uint32_t number{0};
  /// The method, e.g. "INVITE".
  std::string_view method;
};

/// Content-Type: type "/" subtype *( SEMI m-parameter ).
struct MediaType {
  /// e.g. "application".
  std::string_view type;
  /// e.g. "sdp".
  std::string_view subtype;
  /// The parameters (charset, boundary...), in order.
  ParamList params;
  /// Whether it is `t`/`s` (case-insensitive).
  [[nodiscard]] bool is(std::string_view t, std::string_view s) const;
  /// A parameter's value by name (case-insensitive); nullopt when absent.
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const { return find_param(params, name); }
};

/// WWW-/Proxy-Authenticate (challenge) and Authorization/Proxy-Authorization
/// (credentials): a scheme and its comma-separated auth-params. Quoted values
/// are returned without the quotes.
struct AuthParams {
  std::string_view scheme;  ///< "Digest"
  /// The auth-params (realm, nonce, qop, response...), in order.
  ParamList params;
  /// An auth-param's value by name (case-insensitive); nullopt when absent.
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const { return find_param(params, name); }
};

/// A Replaces header (RFC 3891): the dialog an INVITE replaces. `to_tag` is the tag of the
/// side receiving the INVITE (its local tag), `from_tag` the other side's.
struct Replaces {
  /// The dialog's Call-ID.
  std::string_view call_id;
  /// The to-tag parameter (the recipient's local tag).
  std::string_view to_tag;
  /// The from-tag parameter (the recipient's remote tag).
  std::string_view from_tag;
  /// The early-only flag: replace an early dialog only.
  bool early_only{false};
  /// Every parameter, in order (to-tag, from-tag and early-only included).
  ParamList params;
};

/// Splits a list header value at top-level commas (outside quotes and <>),
/// trimming whitespace and skipping empty elements.
std::vector<std::string_view> split_list(std::string_view value);

/// Parses a Via header value (one or more comma-separated elements).
Result<std::vector<Via>> parse_via_list(std::string_view value);
/// Parses one Via element.
Result<Via> parse_via(std::string_view element);
/// Parses a From/To-style value: a name-addr or addr-spec with header parameters.
Result<NameAddr> parse_name_addr(std::string_view value);
/// Parses a comma-separated list of name-addrs (Route, Record-Route...).
Result<std::vector<NameAddr>> parse_name_addr_list(std::string_view value);
/// Parses a Contact value: `*` or a list of addresses.
Result<ContactList> parse_contact_list(std::string_view value);
/// Parses a CSeq value.
Result<CSeq> parse_cseq(std::string_view value);
/// Parses a Content-Type value.
Result<MediaType> parse_media_type(std::string_view value);
/// Parses a challenge or credentials value: the scheme and its auth-params.
Result<AuthParams> parse_auth_params(std::string_view value);
/// Token list such as Allow, Supported, Require; every element must be a token.
Result<std::vector<std::string_view>> parse_token_list(std::string_view value);
/// Parses a Replaces value: `callid *( ";" param )` with exactly one to-tag and one from-tag.
Result<Replaces> parse_replaces(std::string_view value);
/// Non-negative decimal (Max-Forwards, Expires, Content-Length...).
Result<std::uint32_t> parse_uint32(std::string_view value);

/// Resolves quoted-pair escapes in the inside of a quoted-string.
std::string unquote(std::string_view inner);

}  // namespace astmrf::sip
