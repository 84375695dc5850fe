// Configuration of the embedded SIP engine.
#pragma once

#include <astmrf/sip/engine/transport.hpp>
#include <astmrf/util/observability_fwd.hpp>
#include <astmrf/util/resolver.hpp>
#include <astmrf/util/tls.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace astmrf::sip {

/// What a WebSocket listening point (ws, wss; RFC 7118) accepts.
struct WebSocketOptions {
  /// Largest WebSocket message (one SIP message) accepted; a bigger one closes the connection.
  std::size_t max_message_size{64 * 1024};
  /// Time a new connection has to complete its TLS handshake and HTTP upgrade.
  std::chrono::milliseconds handshake_timeout{10000};
};

/// One listening socket: UDP, or an acceptor of TCP, TLS, WebSocket or secure WebSocket
/// connections (IPv4 or IPv6 address).
struct ListenPoint {
  /// UDP socket or acceptor.
  Transport transport{Transport::udp};
  /// The IP address to bind (no host names).
  std::string address{"127.0.0.1"};
  std::uint16_t port{5060};  ///< 0: the system picks one (see Engine::local_address)
  /// tls and wss: the certificate presented (and client verification).
  util::TlsServerOptions tls{};
  /// ws and wss: message size and handshake limits.
  WebSocketOptions websocket{};
};

/// RFC 3261 timer base values (section 17.1.1.1 and table 4).
struct TimerConfig {
  std::chrono::milliseconds t1{500};   ///< round-trip estimate
  std::chrono::milliseconds t2{4000};  ///< cap of non-INVITE and 2xx retransmit intervals
  std::chrono::milliseconds t4{5000};  ///< time a message stays in the network
  /// 100 Trying to an INVITE only if nothing was sent within this time (RFC 3261 17.2.1:
  /// owed after 200 ms); 0: at once, after the request handler returns.
  std::chrono::milliseconds trying{100};
};

/// What an Engine listens on and how it behaves under load.
struct EngineConfig {
  /// The sockets to open at start().
  std::vector<ListenPoint> listen{{Transport::udp, "127.0.0.1", 5060}};
  /// RFC 3261 timer base values (T1, T2, T4).
  TimerConfig timers{};
  /// Requests received and not yet answered with a final response; past it new
  /// requests get 503 + Retry-After (the application is not keeping up).
  std::size_t max_pending_server_transactions{10000};
  /// Server transactions kept at all, answered ones included (they absorb
  /// retransmissions for up to 64*T1): a hard bound on memory under a flood.
  std::size_t max_server_transactions{400000};
  /// Largest message accepted (datagram or stream frame).
  std::size_t max_message_size{64 * 1024};
  /// Sent as User-Agent in requests and Server in responses.
  std::string user_agent{"astmrf"};
  /// Seconds a caller is told to wait in Retry-After when the engine is overloaded.
  std::uint32_t retry_after_seconds{5};
  /// Outgoing TLS connections: the CAs trusted (peer and host name verified by default), and
  /// an optional client certificate. PeerAddress::server_name (or the address) is checked.
  util::TlsOptions tls_client{};
  /// Time a TLS connection (accepted or opened) has to complete its handshake.
  std::chrono::milliseconds tls_handshake_timeout{10000};
  /// Where host names in Request-URIs, Route sets and destinations are resolved (RFC 3263:
  /// NAPTR, SRV, A/AAAA). Empty servers: /etc/resolv.conf.
  util::ResolverOptions dns{};
  /// Where the engine's metrics go (`astmrf_sip_*`: requests and responses by method and
  /// class, retransmissions, drops, overload 503s, transactions, dialogs, TCP connections).
  /// Null: no metrics, nothing counted. Include <astmrf/util/metrics.hpp> to make one.
  std::shared_ptr<util::metrics::Registry> metrics{};
  /// Where the engine logs (trace: every SIP message in and out, Authorization headers
  /// redacted, and dialogs created and ended; warn: unparsable input, transport errors).
  /// Null: spdlog's default logger.
  std::shared_ptr<spdlog::logger> logger{};
};

}  // namespace astmrf::sip
