// HOST:PORT as people write it on command lines and in options: one parser for every place
// an address is given (the IVR's --listen, --media-sip and --asterisk, ARI URLs, drachtio
// servers, DNS servers, the engine's destinations), so that IPv6 is written the same way
// everywhere: "[2001:db8::1]:5060".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace astmrf::util {

/// A host (an IPv4 or IPv6 address, or a name; an IPv6 address without brackets) and a port.
struct HostPort {
  std::string host;       ///< without brackets
  std::uint16_t port{0};  ///< 0: none given (and no default)
  /// Same host text and port.
  bool operator==(const HostPort&) const = default;
};

/// Parses "HOST:PORT", "[IPV6]:PORT" and, without a port when `default_port` is not 0,
/// "HOST", "[IPV6]" or a bare IPv6 address ("2001:db8::1").
/// A bare IPv6 address with a port ("::1:5080", the last ':' starts the port) is accepted
/// only when the port is required (default_port 0): there it cannot be the whole address.
/// Throws std::invalid_argument naming `text` and what is wrong: no port, a port outside
/// 1..65535, an unclosed '[', text after ']' other than ":PORT", brackets around something
/// that is not an IPv6 address, a host with ':' that is not an IPv6 address.
HostPort parse_host_port(std::string_view text, std::uint16_t default_port = 0);

/// "host:port", with brackets around an IPv6 address ("[::1]:5080").
std::string format_host_port(std::string_view host, std::uint16_t port);

/// `host` with brackets when it is an IPv6 address (for URLs and SIP URIs).
std::string bracket_ipv6(std::string_view host);

}  // namespace astmrf::util
