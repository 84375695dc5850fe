// SIP over WebSocket (RFC 7118): a connection a browser opened to a ws or wss listening
// point. The HTTP upgrade must offer the `sip` subprotocol (echoed in the 101); anything else
// is answered 400 and closed. Each WebSocket message (text or binary) is one SIP message,
// delivered whole with parsed = null (the engine parses it like a datagram). Beast answers
// pings and the close handshake; a message over the limit fails the connection (close 1009).
// The template takes the stream under the WebSocket (a tcp::socket; for wss an ssl::stream,
// see ws_connection.cpp; the fuzz target uses Beast's test stream).
#pragma once

#include "connection.hpp"

#include <astmrf/sip/engine/config.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace astmrf::sip::detail {

/// Largest HTTP upgrade request accepted (header fields; no body).
inline constexpr std::uint32_t kWsUpgradeHeaderLimit = 8192;

/// True when a Sec-WebSocket-Protocol value ("sip", "foo, sip") offers `sip` (RFC 7118 §4).
inline bool offers_sip_subprotocol(std::string_view value) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    auto token = value.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (token.size() == 3 && (token[0] | 0x20) == 's' && (token[1] | 0x20) == 'i' && (token[2] | 0x20) == 'p')
      return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

template <class NextLayer>
class WsConnection : public Connection {
 public:
  WsConnection(NextLayer next, Transport transport, std::uint64_t id, boost::asio::ip::tcp::endpoint remote,
               std::weak_ptr<Sink> sink, WebSocketOptions options)
      : Connection(transport, id, std::move(remote), std::move(sink)),
        ws_(std::move(next)),
        timer_(ws_.get_executor()),
        options_(options) {}

  void start_accepted() override {
    // One deadline for the TLS handshake and the upgrade: a silent peer holds nothing for long.
    timer_.expires_after(options_.handshake_timeout);
    timer_.async_wait([weak = std::weak_ptr<Connection>(shared_from_this())](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      auto& c = static_cast<WsConnection&>(*self);
      if (!c.upgraded_ && !c.closed()) c.fail(boost::asio::error::timed_out);
    });
    before_upgrade();
  }

  /// Browsers are reached over the connection they opened: the engine never opens one.
  void start_outgoing() override {
    boost::asio::post(ws_.get_executor(),
                      [self = shared_self()] { self->fail(boost::asio::error::operation_not_supported); });
  }

  /// The upgrade is done (tests).
  [[nodiscard]] bool upgraded() const noexcept { return upgraded_; }

 protected:
  using Ws = boost::beast::websocket::stream<NextLayer>;

  std::shared_ptr<WsConnection> shared_self() { return std::static_pointer_cast<WsConnection>(shared_from_this()); }
  NextLayer& next_layer() { return ws_.next_layer(); }

  /// Before the HTTP upgrade: wss does its TLS handshake here, then read_upgrade().
  virtual void before_upgrade() { read_upgrade(); }

  void read_upgrade() {
    parser_.emplace();
    parser_->header_limit(kWsUpgradeHeaderLimit);
    parser_->body_limit(0);
    boost::beast::http::async_read(ws_.next_layer(), buffer_, *parser_,
                                   [self = shared_self()](boost::system::error_code ec, std::size_t) {
                                     if (self->closed()) return;
                                     if (ec) return self->fail(ec);
                                     self->on_upgrade_request();
                                   });
  }

  void write_one(const std::string& data, std::function<void(boost::system::error_code)> written) override {
    ws_.text(true);  // SIP is text; RFC 7118 lets either side use text or binary frames
    ws_.async_write(boost::asio::buffer(data),
                    [written = std::move(written)](boost::system::error_code ec, std::size_t) { written(ec); });
  }

  void close_socket() override {
    timer_.cancel();
    auto& lowest = boost::beast::get_lowest_layer(ws_);
    if constexpr (requires(boost::system::error_code ec) { lowest.close(ec); }) {
      boost::system::error_code ignored;
      lowest.close(ignored);
    } else {
      lowest.close();
    }
  }

 private:
  void on_upgrade_request() {
    namespace http = boost::beast::http;
    auto request = parser_->release();
    parser_.reset();
    const auto protocols = request[http::field::sec_websocket_protocol];
    if (!boost::beast::websocket::is_upgrade(request)) return reject(http::status::bad_request, "WebSocket only\n");
    if (!offers_sip_subprotocol(std::string_view(protocols.data(), protocols.size())))
      return reject(http::status::bad_request, "the sip subprotocol (RFC 7118) is required\n");
    ws_.set_option(boost::beast::websocket::stream_base::decorator(
        [](boost::beast::websocket::response_type& res) { res.set(http::field::sec_websocket_protocol, "sip"); }));
    ws_.read_message_max(options_.max_message_size);
    // Bytes sent before our 101 belong to no frame a client may send yet (RFC 6455 4.1): dropped.
    buffer_.consume(buffer_.size());
    ws_.async_accept(request, [self = shared_self()](boost::system::error_code ec) {
      if (self->closed()) return;
      if (ec) return self->fail(ec);
      self->upgraded_ = true;
      self->timer_.cancel();
      self->up();
      self->read_message();
    });
  }

  void reject(boost::beast::http::status status, std::string reason) {
    namespace http = boost::beast::http;
    auto response = std::make_shared<http::response<http::string_body>>(status, 11);
    response->set(http::field::content_type, "text/plain");
    response->set(http::field::connection, "close");
    response->body() = std::move(reason);
    response->prepare_payload();
    http::async_write(ws_.next_layer(), *response,
                      [self = shared_self(), response](boost::system::error_code, std::size_t) {
                        self->fail(boost::asio::error::invalid_argument);  // bad input: logged at debug
                      });
  }

  void read_message() {
    ws_.async_read(buffer_, [self = shared_self()](boost::system::error_code ec, std::size_t) {
      if (self->closed()) return;
      if (ec == boost::beast::websocket::error::closed) return self->fail(boost::asio::error::eof);
      if (ec) return self->fail(ec);
      const auto data = self->buffer_.cdata();
      self->deliver(std::string_view(static_cast<const char*>(data.data()), data.size()), nullptr);
      self->buffer_.consume(self->buffer_.size());
      if (!self->closed()) self->read_message();
    });
  }

  Ws ws_;
  boost::asio::steady_timer timer_;
  WebSocketOptions options_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
  bool upgraded_{false};
};

/// A ws connection accepted on `socket`.
std::shared_ptr<Connection> make_ws_connection(boost::asio::ip::tcp::socket socket, std::uint64_t id,
                                               boost::asio::ip::tcp::endpoint remote,
                                               std::weak_ptr<Connection::Sink> sink, const WebSocketOptions& options);

/// A wss connection accepted on `socket`: TLS with `context` (kept alive by the connection),
/// then the upgrade, both within options.handshake_timeout.
std::shared_ptr<Connection> make_wss_connection(boost::asio::ip::tcp::socket socket,
                                                std::shared_ptr<boost::asio::ssl::context> context, std::uint64_t id,
                                                boost::asio::ip::tcp::endpoint remote,
                                                std::weak_ptr<Connection::Sink> sink, const WebSocketOptions& options);

}  // namespace astmrf::sip::detail
