#include <astmrf/util/host_port.hpp>

#include <boost/asio/ip/address_v6.hpp>

#include <charconv>
#include <stdexcept>

namespace astmrf::util {

namespace {

bool is_ipv6(std::string_view host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address_v6(std::string(host), ec);
  return !ec;
}

std::invalid_argument bad(std::string_view text, std::string_view why) {
  return std::invalid_argument("address '" + std::string(text) + "': " + std::string(why));
}

std::uint16_t port_of(std::string_view text, std::string_view port) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value < 1 || value > 65535) {
    throw bad(text, "the port '" + std::string(port) + "' is not a number in 1..65535");
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

HostPort parse_host_port(std::string_view text, std::uint16_t default_port) {
  const bool port_required = default_port == 0;
  if (text.empty()) throw bad(text, "empty");
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) throw bad(text, "no closing ']'");
    const auto host = text.substr(1, close - 1);
    if (!is_ipv6(host)) throw bad(text, "'" + std::string(host) + "' in brackets is not an IPv6 address");
    const auto rest = text.substr(close + 1);
    if (rest.empty()) {
      if (port_required) throw bad(text, "expected HOST:PORT ([IPV6]:PORT), the port is missing");
      return {std::string(host), default_port};
    }
    if (rest.front() != ':') throw bad(text, "expected ':PORT' after ']'");
    return {std::string(host), port_of(text, rest.substr(1))};
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    if (port_required) throw bad(text, "expected HOST:PORT, the port is missing");
    return {std::string(text), default_port};
  }
  if (text.find(':') != colon) {  // several ':': an IPv6 address without brackets
    if (!port_required) {
      if (!is_ipv6(text)) throw bad(text, "not an IPv6 address (write [IPV6]:PORT)");
      return {std::string(text), default_port};
    }
    const auto host = text.substr(0, colon);
    if (!is_ipv6(host)) throw bad(text, "'" + std::string(host) + "' is not an IPv6 address (write [IPV6]:PORT)");
    return {std::string(host), port_of(text, text.substr(colon + 1))};
  }
  if (colon == 0) throw bad(text, "the host is missing");
  return {std::string(text.substr(0, colon)), port_of(text, text.substr(colon + 1))};
}

std::string bracket_ipv6(std::string_view host) {
  if (host.find(':') == std::string_view::npos) return std::string(host);
  return "[" + std::string(host) + "]";
}

std::string format_host_port(std::string_view host, std::uint16_t port) {
  return bracket_ipv6(host) + ":" + std::to_string(port);
}

}  // namespace astmrf::util
