// One connection of a reliable transport (TCP, TLS, WebSocket), accepted or opened by the
// engine. The transport layer keeps them by id and by remote address and knows them only
// through this class: each kind says how it connects, handshakes, reads and writes one
// message; the base queues what is sent until the connection is up and writes one message at
// a time, in order.
#pragma once

#include <astmrf/sip/engine/transport.hpp>
#include <astmrf/sip/message.hpp>
#include <astmrf/sip/result.hpp>
#include <astmrf/sip/stream_framer.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace astmrf::sip::detail {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using SendHandler = std::function<void(boost::system::error_code)>;

  /// Where a connection reports. Held weakly: the transport layer may be gone first.
  class Sink {
   public:
    virtual ~Sink() = default;
    /// A whole message arrived. Stream transports frame it and pass it in `parsed`; message
    /// transports (WebSocket) pass null and the text in `raw`, parsed then like a datagram.
    /// `parsed` may hold a framing error: the connection closes itself right after.
    virtual void on_connection_input(Connection& c, std::string_view raw, Result<Message>* parsed) = 0;
    /// The connection is gone: closed by the peer (eof), failed (`ec`), or closed here.
    /// Called once, and never from inside close().
    virtual void on_connection_closed(Connection& c, boost::system::error_code ec) = 0;
  };

  Connection(Transport transport, std::uint64_t id, boost::asio::ip::tcp::endpoint remote, std::weak_ptr<Sink> sink)
      : transport_(transport), id_(id), remote_(std::move(remote)), sink_(std::move(sink)) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  virtual ~Connection() = default;

  [[nodiscard]] Transport transport() const noexcept { return transport_; }
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  [[nodiscard]] const boost::asio::ip::tcp::endpoint& remote() const noexcept { return remote_; }
  /// The peer as the engine addresses it (with this connection's id).
  [[nodiscard]] PeerAddress peer() const { return {transport_, remote_.address(), remote_.port(), id_}; }
  [[nodiscard]] bool closed() const noexcept { return closed_; }

  /// An accepted connection: its handshake (TLS, WebSocket upgrade), then reading.
  virtual void start_accepted() = 0;
  /// An outgoing one: connect, handshake, then reading and sending what was queued.
  virtual void start_outgoing() = 0;

  /// RFC 5923: may requests to `host` (a Via's sent-by host that asked for `alias`) reuse this
  /// connection? TCP: yes; TLS: only when the peer's verified certificate names that host.
  virtual bool may_alias(std::string_view host) {
    (void)host;
    return transport_ == Transport::tcp;
  }

  /// Queues `data`; written once the connection is up, in order. `done` (optional) runs once
  /// the queue it joined is written, or with the error that ended the connection.
  void send(std::string data, SendHandler done);
  /// Closes at once; pending sends complete with connection_aborted. Idempotent; the sink is
  /// not told (who closes knows).
  void close();

 protected:
  /// Writes one message and calls `written` once, with its result.
  virtual void write_one(const std::string& data, std::function<void(boost::system::error_code)> written) = 0;
  /// Closes the socket (and whatever is layered on it).
  virtual void close_socket() = 0;

  /// The connection is up (connected, handshake done): queued messages go out.
  void up();
  /// Passes input to the sink (nothing once closed).
  void deliver(std::string_view raw, Result<Message>* parsed);
  /// Ends the connection on an error or the peer's close: closes, then tells the sink.
  void fail(boost::system::error_code ec);
  /// The sink, if the transport layer is still there.
  [[nodiscard]] std::shared_ptr<Sink> sink() const { return sink_.lock(); }

 private:
  void flush();
  void close_with(boost::system::error_code ec);

  Transport transport_;
  std::uint64_t id_;
  boost::asio::ip::tcp::endpoint remote_;
  std::weak_ptr<Sink> sink_;
  std::deque<std::string> queue_;
  std::vector<SendHandler> waiting_;  // completions of the queued sends
  bool up_{false};
  bool writing_{false};
  bool closed_{false};
};

/// A plain TCP connection (accepted: `socket` is connected; outgoing: `socket` is closed and
/// start_outgoing() connects it to `remote`).
std::shared_ptr<Connection> make_tcp_connection(boost::asio::ip::tcp::socket socket, std::uint64_t id,
                                                boost::asio::ip::tcp::endpoint remote,
                                                std::weak_ptr<Connection::Sink> sink, FramerLimits limits);

/// What a TLS connection needs: its context (the listening point's server context, or the
/// engine's client context), and for an outgoing one the checks of the peer's certificate.
struct TlsSettings {
  std::shared_ptr<boost::asio::ssl::context> context;
  std::chrono::milliseconds handshake_timeout{10000};
  bool verify_peer{true};   ///< outgoing: verify the chain and the name
  std::string server_name;  ///< outgoing: the name checked and sent as SNI; empty: the IP address
};

/// A TLS connection (accepted: server handshake on the connected `socket`; outgoing: connect to
/// `remote`, then the client handshake). Handshake failures end it with an error of
/// tls_handshake_category() or tls_certificate_category().
std::shared_ptr<Connection> make_tls_connection(boost::asio::ip::tcp::socket socket, std::uint64_t id,
                                                boost::asio::ip::tcp::endpoint remote,
                                                std::weak_ptr<Connection::Sink> sink, FramerLimits limits,
                                                TlsSettings settings);

}  // namespace astmrf::sip::detail
