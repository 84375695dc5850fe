// The engine's sockets: UDP listen points, TCP acceptors, and TCP connections
// (accepted ones and outgoing ones, reused per destination). Everything it
// receives goes to the engine core as whole messages; it knows nothing of SIP
// beyond framing.
#pragma once

#include <astmrf/sip/engine/config.hpp>
#include <astmrf/sip/engine/transport.hpp>
#include <astmrf/sip/message.hpp>
#include <astmrf/sip/result.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}  // namespace spdlog
namespace astmrf::util::metrics {
class Counter;
class Gauge;
}  // namespace astmrf::util::metrics

namespace astmrf::sip::detail {

class TransportLayer {
 public:
  struct Callbacks {
    /// A datagram (UDP) or a framed message (TCP) arrived. For UDP, `parsed` is
    /// empty and `raw` holds the datagram; for TCP, `parsed` holds the message.
    std::function<void(std::string_view raw, Result<Message>* parsed, const PeerAddress& source)> on_input;
    /// A connection closed or failed (optional); `peer` carries its id.
    std::function<void(const PeerAddress& peer)> on_connection_lost{};
  };
  using SendHandler = std::function<void(boost::system::error_code)>;

  TransportLayer(boost::asio::any_io_executor executor, const EngineConfig& config, Callbacks callbacks);
  ~TransportLayer();
  TransportLayer(const TransportLayer&) = delete;
  TransportLayer& operator=(const TransportLayer&) = delete;

  /// Where the transport reports datagrams dropped (send buffer full), TCP connections
  /// open (both optional) and its errors (`log`, never null). Before start().
  void observe(std::shared_ptr<util::metrics::Counter> send_buffer_full,
               std::shared_ptr<util::metrics::Gauge> tcp_connections, std::shared_ptr<spdlog::logger> log);

  void start();
  void stop();

  /// Sends `data` to `destination`. For TCP it uses the connection the peer
  /// opened (destination.connection), else an open connection to that address,
  /// else a new one. `done` (optional) reports failure to reach the peer.
  /// The text is copied only when it has to wait (TCP); UDP sends it at once.
  /// Returns a failure known at once (UDP: the send's own result); TCP failures
  /// come later, to `done` only.
  boost::system::error_code send(const PeerAddress& destination, std::string_view data, SendHandler done = {});

  [[nodiscard]] PeerAddress local_address(Transport transport) const;
  /// The bound address of the first listening point of `transport` in that family; none
  /// when the engine does not listen there.
  [[nodiscard]] std::optional<PeerAddress> bound_address(Transport transport, bool v6) const;
  [[nodiscard]] bool has(Transport transport) const;
  [[nodiscard]] std::size_t tcp_connections() const;
  /// Datagrams not sent because the socket's send buffer was full.
  [[nodiscard]] std::uint64_t udp_send_dropped() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace astmrf::sip::detail
