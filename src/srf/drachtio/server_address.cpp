#include <astmrf/srf/drachtio.hpp>
#include <astmrf/util/host_port.hpp>

#include <stdexcept>

namespace astmrf::srf::drachtio {

ServerAddress parse_server_address(std::string_view spec) {
  // host:port:secret or [ipv6]:port:secret; the secret is everything after the port's
  // ':' (it may hold ':'), host:port goes to the library's one parser.
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument("drachtio server '" + std::string(spec) + "': " + why);
  };
  std::size_t port_colon = std::string_view::npos;
  if (!spec.empty() && spec.front() == '[') {
    const auto close = spec.find(']');
    if (close == std::string_view::npos) throw bad("no closing ']'");
    port_colon = spec.find(':', close);
  } else {
    port_colon = spec.find(':');
  }
  if (port_colon == std::string_view::npos || port_colon == 0) throw bad("expected host:port:secret");
  const auto second = spec.find(':', port_colon + 1);
  if (second == std::string_view::npos) throw bad("missing the secret (host:port:secret)");
  ServerAddress address;
  try {
    auto host_port = util::parse_host_port(spec.substr(0, second));
    address.host = std::move(host_port.host);
    address.port = host_port.port;
  } catch (const std::invalid_argument& e) {
    throw bad(e.what());
  }
  address.secret = std::string(spec.substr(second + 1));
  if (address.secret.empty()) throw bad("empty secret");
  return address;
}

}  // namespace astmrf::srf::drachtio
