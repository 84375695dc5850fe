#include <astmrf/srf/drachtio.hpp>

#include <charconv>
#include <stdexcept>

namespace astmrf::srf::drachtio {

ServerAddress parse_server_address(std::string_view spec) {
  // host:port:secret; the secret is everything after the second ':' (it may hold ':').
  const auto first = spec.find(':');
  if (first == std::string_view::npos || first == 0) {
    throw std::invalid_argument("drachtio server '" + std::string(spec) + "': expected host:port:secret");
  }
  const auto second = spec.find(':', first + 1);
  if (second == std::string_view::npos) {
    throw std::invalid_argument("drachtio server '" + std::string(spec) + "': missing the secret (host:port:secret)");
  }
  ServerAddress address;
  address.host = std::string(spec.substr(0, first));
  const auto port_text = spec.substr(first + 1, second - first - 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    throw std::invalid_argument("drachtio server '" + std::string(spec) + "': bad port '" + std::string(port_text) +
                                "'");
  }
  address.port = static_cast<std::uint16_t>(port);
  address.secret = std::string(spec.substr(second + 1));
  if (address.secret.empty()) {
    throw std::invalid_argument("drachtio server '" + std::string(spec) + "': empty secret");
  }
  return address;
}

}  // namespace astmrf::srf::drachtio
