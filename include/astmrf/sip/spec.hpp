// What an application hands to a signaling backend to send (the embedded engine
// or a drachtio-server): the parts of a response or a request that are its own,
// and why a dialog ended. The backend adds everything RFC 3261 makes its job
// (Via, tags, Call-ID, CSeq, Max-Forwards, Contact, Content-Length). This is the
// vocabulary every backend shares (and mrf's options), so it lives in the SIP core,
// not in a backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace astmrf::sip {

/// The SIP transports a backend speaks (a destination's "udp:", "tcp:", "tls:", "ws:", "wss:").
/// ws and wss (RFC 7118) are only accepted, never connected to: a browser calls in, and
/// what goes back to it uses the connection it opened.
enum class Transport : std::uint8_t { udp, tcp, tls, ws, wss };

/// How many Transport values there are (for tables indexed by transport).
inline constexpr std::size_t transport_count = 5;

/// "UDP", "TCP", "TLS", "WS", "WSS": as written in a Via header.
constexpr std::string_view via_name(Transport transport) noexcept {
  constexpr std::string_view names[] = {"UDP", "TCP", "TLS", "WS", "WSS"};
  return names[static_cast<std::size_t>(transport) % transport_count];
}
/// "udp", "tcp", "tls", "ws", "wss": as written in a transport= URI parameter or a destination.
constexpr std::string_view uri_param(Transport transport) noexcept {
  constexpr std::string_view names[] = {"udp", "tcp", "tls", "ws", "wss"};
  return names[static_cast<std::size_t>(transport) % transport_count];
}
/// The transport a name stands for, in any case ("udp", "TCP", "tls", "ws", "wss").
constexpr std::optional<Transport> transport_from_name(std::string_view name) noexcept {
  for (std::size_t i = 0; i < transport_count; ++i) {
    const auto candidate = uri_param(static_cast<Transport>(i));
    if (candidate.size() != name.size()) continue;
    bool same = true;
    for (std::size_t k = 0; k < name.size() && same; ++k) {
      const char c = name[k] >= 'A' && name[k] <= 'Z' ? static_cast<char>(name[k] - 'A' + 'a') : name[k];
      same = c == candidate[k];
    }
    if (same) return static_cast<Transport>(i);
  }
  return std::nullopt;
}

/// True for every transport but UDP: messages go over a connection, in order, without
/// retransmission timers.
constexpr bool is_reliable(Transport transport) noexcept { return transport != Transport::udp; }
/// True for TLS and secure WebSocket.
constexpr bool is_secure(Transport transport) noexcept {
  return transport == Transport::tls || transport == Transport::wss;
}

/// Extra headers, as (name, value) pairs, in order.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// A response the application sends (sip::IncomingRequest::respond, srf::Response::send).
struct ResponseSpec {
  /// The status code.
  int status{200};
  std::string reason;        ///< empty: the default phrase for the status
  HeaderList headers;        ///< extra headers; a Contact here replaces the backend's
  std::string content_type;  ///< e.g. "application/sdp"; empty when no body
  /// The body.
  std::string body;
};

/// A request the application sends (sip::Engine::send_request, a dialog's request).
struct RequestSpec {
  /// The method.
  std::string method{"INVITE"};
  std::string uri;           ///< Request-URI, e.g. "sip:drachtio-x@127.0.0.1:5060"
  std::string from;          ///< From URI; default: sip:astmrf@<local address>
  std::string from_display;  ///< optional display name
  std::string to;            ///< To URI; default: the Request-URI
  std::string call_id;       ///< default: a fresh random one
  std::string from_tag;      ///< default: a fresh random one (set both to resend after a 401/407)
  std::uint32_t cseq{0};     ///< default: 1
  /// Extra headers.
  HeaderList headers;
  /// Content-Type of the body (none when empty).
  std::string content_type;
  /// The body.
  std::string body;
  /// Send here instead of the Request-URI's host:port;transport (an outbound proxy).
  /// "udp:1.2.3.4:5060", "tcp:proxy.example.com" (a name: RFC 3263, docs/sip-engine.md) / "" (from
  /// the first Route, else the Request-URI)
  std::string destination;
};

/// Why a dialog ended, in terms every signaling backend shares. Every dialog
/// reports exactly one reason, once.
enum class DialogEndReason : std::uint8_t {
  local_bye,        ///< this side sent BYE
  remote_bye,       ///< the peer sent BYE
  no_ack,           ///< our 2xx was never ACKed (64*T1); BYE was sent
  request_timeout,  ///< an in-dialog request got no response (408)
  remote_gone,      ///< an in-dialog request was answered 481
  cancelled,        ///< a 2xx raced our CANCEL; ACK + BYE were sent
  /// The backend was stopped by the application (sip::Engine::stop() or the engine's
  /// destruction, a drachtio backend's close()): nothing was sent.
  backend_stopped,
  /// The backend lost what carried the dialog for good (a drachtio-server connection
  /// that ended, or that could not take the dialog's 2xx): nothing could be sent.
  connection_lost,
  /// A session timer (RFC 4028) expired without a refresh, or a refresh was answered 481/408
  /// and the dialog was ended: BYE was sent.
  session_timer,
};
/// The reason's name, e.g. "remote_bye".
std::string_view to_string(DialogEndReason reason) noexcept;

}  // namespace astmrf::sip
