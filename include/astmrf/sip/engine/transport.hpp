// Transport-level addresses of the embedded SIP engine.
#pragma once

#include <astmrf/sip/spec.hpp>

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace astmrf::sip {

/// Where a message came from or goes to. For TCP, `connection` names the connection a
/// request arrived on, so that its responses go back over it (0: any connection).
struct PeerAddress {
  /// UDP or TCP.
  Transport transport{Transport::udp};
  /// The IP address.
  boost::asio::ip::address address;
  /// The port.
  std::uint16_t port{0};
  /// TCP: the id of the connection a request arrived on (0: any connection).
  std::uint64_t connection{0};
  /// TLS: the name the peer's certificate must carry, also sent as SNI (the host of the URI
  /// or of the DNS target); empty: the certificate is checked against `address`.
  std::string server_name{};

  /// "udp:127.0.0.1:5060", "tcp:[::1]:5060".
  [[nodiscard]] std::string to_string() const;
  /// Same transport, address and port (the connection is not compared).
  friend bool operator==(const PeerAddress& a, const PeerAddress& b) noexcept {
    return a.transport == b.transport && a.address == b.address && a.port == b.port;
  }
};

}  // namespace astmrf::sip
