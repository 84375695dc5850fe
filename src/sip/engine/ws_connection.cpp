#include "ws_connection.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace astmrf::sip::detail {

namespace {

using boost::asio::ip::tcp;
using SslStream = boost::asio::ssl::stream<tcp::socket>;

// wss: the TLS handshake (server side) comes before the upgrade, under the same deadline.
class WssConnection final : public WsConnection<SslStream> {
 public:
  WssConnection(tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> context, std::uint64_t id,
                tcp::endpoint remote, std::weak_ptr<Sink> sink, WebSocketOptions options)
      : WsConnection(SslStream(std::move(socket), *context), Transport::wss, id, std::move(remote), std::move(sink),
                     options),
        context_(std::move(context)) {}

 protected:
  void before_upgrade() override {
    next_layer().async_handshake(
        boost::asio::ssl::stream_base::server,
        [self = std::static_pointer_cast<WssConnection>(shared_from_this())](boost::system::error_code ec) {
          if (self->closed()) return;
          if (ec) return self->fail(ec);
          self->read_upgrade();
        });
  }

 private:
  std::shared_ptr<boost::asio::ssl::context> context_;  // the stream's SSL_CTX lives as long as it
};

}  // namespace

std::shared_ptr<Connection> make_ws_connection(tcp::socket socket, std::uint64_t id, tcp::endpoint remote,
                                               std::weak_ptr<Connection::Sink> sink, const WebSocketOptions& options) {
  return std::make_shared<WsConnection<tcp::socket>>(std::move(socket), Transport::ws, id, std::move(remote),
                                                     std::move(sink), options);
}

std::shared_ptr<Connection> make_wss_connection(tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> context,
                                                std::uint64_t id, tcp::endpoint remote,
                                                std::weak_ptr<Connection::Sink> sink, const WebSocketOptions& options) {
  return std::make_shared<WssConnection>(std::move(socket), std::move(context), id, std::move(remote), std::move(sink),
                                         options);
}

}  // namespace astmrf::sip::detail
