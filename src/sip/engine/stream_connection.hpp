// Connections over a byte stream (TCP, TLS): messages are framed by Content-Length (RFC 3261
// 18.3), a CRLFCRLF keep-alive is answered with CRLF (RFC 5626 3.5.1). `Stream` is a connected
// tcp::socket or an ssl::stream over one; a kind with a handshake overrides start_*().
#pragma once

#include "connection.hpp"

#include <astmrf/sip/stream_framer.hpp>
#include <astmrf/util/socket.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <utility>

namespace astmrf::sip::detail {

template <class Stream>
class StreamConnection : public Connection {
 public:
  StreamConnection(Stream stream, Transport transport, std::uint64_t id, boost::asio::ip::tcp::endpoint remote,
                   std::weak_ptr<Sink> sink, FramerLimits limits)
      : Connection(transport, id, std::move(remote), std::move(sink)), stream_(std::move(stream)), framer_(limits) {}

  void start_accepted() override {
    no_delay();
    up();
    read();
  }

  void start_outgoing() override {
    lowest_layer().async_connect(remote(), [self = shared_self()](boost::system::error_code ec) {
      if (self->closed()) return;
      if (ec) return self->fail(ec);
      astmrf::util::close_on_exec(self->lowest_layer());
      self->no_delay();
      self->connected();
    });
  }

 protected:
  /// The TCP socket under the stream.
  typename Stream::lowest_layer_type& lowest_layer() { return stream_.lowest_layer(); }
  Stream& stream() { return stream_; }
  std::shared_ptr<StreamConnection> shared_self() {
    return std::static_pointer_cast<StreamConnection>(shared_from_this());
  }

  /// Each message is one write: Nagle would hold a message back until the previous one is
  /// acknowledged (up to the peer's delayed ACK, 40 ms; measured with bench/sip/transport_bench).
  void no_delay() {
    boost::system::error_code ignored;
    lowest_layer().set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  }

  /// Outgoing: TCP is connected. A kind with a handshake does it here, then up() and read().
  virtual void connected() {
    up();
    read();
  }

  void read() {
    stream_.async_read_some(boost::asio::buffer(buffer_),
                            [self = shared_self()](boost::system::error_code ec, std::size_t size) {
                              if (self->closed()) return;
                              if (ec) return self->fail(ec);
                              if (self->feed(std::string_view(self->buffer_.data(), size))) self->read();
                            });
  }

  void write_one(const std::string& data, std::function<void(boost::system::error_code)> written) override {
    boost::asio::async_write(
        stream_, boost::asio::buffer(data),
        [written = std::move(written)](boost::system::error_code ec, std::size_t) { written(ec); });
  }

  void close_socket() override {
    boost::system::error_code ignored;
    lowest_layer().close(ignored);
  }

 private:
  // Delivers every whole message in `bytes`; false when the stream is out of sync (the error
  // was delivered and the connection failed).
  bool feed(std::string_view bytes) {
    auto fed = framer_.feed(bytes);
    while (fed) {
      auto frame = framer_.next();
      if (!frame) {
        Result<Message> failed(frame.error());
        deliver({}, &failed);
        fail(boost::asio::error::invalid_argument);
        return false;
      }
      if (frame->kind == Frame::Kind::need_more) return !closed();
      if (frame->kind == Frame::Kind::keepalive_ping) {
        send("\r\n", {});
        continue;
      }
      Result<Message> message(std::move(frame->message));
      deliver(message->raw(), &message);
      if (closed()) return false;
    }
    Result<Message> failed(fed.error());
    deliver({}, &failed);
    fail(boost::asio::error::invalid_argument);
    return false;
  }

  Stream stream_;
  StreamFramer framer_;
  std::array<char, 16384> buffer_{};
};

}  // namespace astmrf::sip::detail
