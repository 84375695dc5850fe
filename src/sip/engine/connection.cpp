#include "connection.hpp"

#include "stream_connection.hpp"

#include <boost/asio/error.hpp>

namespace astmrf::sip::detail {

void Connection::send(std::string data, SendHandler done) {
  if (closed_) {
    if (done) done(boost::asio::error::connection_aborted);
    return;
  }
  queue_.push_back(std::move(data));
  if (done) waiting_.push_back(std::move(done));
  if (up_ && !writing_) flush();
}

void Connection::close() { close_with(boost::asio::error::connection_aborted); }

void Connection::close_with(boost::system::error_code ec) {
  if (closed_) return;
  closed_ = true;
  close_socket();
  queue_.clear();
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& done : waiting) done(ec);
}

void Connection::up() {
  up_ = true;
  if (!writing_) flush();
}

void Connection::deliver(std::string_view raw, Result<Message>* parsed) {
  if (closed_) return;
  if (auto s = sink()) s->on_connection_input(*this, raw, parsed);
}

void Connection::fail(boost::system::error_code ec) {
  if (closed_) return;
  close_with(ec);  // what waits learns why (a TLS handshake's reason)
  if (auto s = sink()) s->on_connection_closed(*this, ec);
}

void Connection::flush() {
  if (queue_.empty() || closed_) return;
  writing_ = true;
  write_one(queue_.front(), [self = shared_from_this()](boost::system::error_code ec) {
    self->writing_ = false;
    if (self->closed_) return;
    if (ec) return self->fail(ec);
    self->queue_.pop_front();
    if (self->queue_.empty()) {
      auto waiting = std::move(self->waiting_);
      self->waiting_.clear();
      for (auto& done : waiting) done(boost::system::error_code{});
    }
    self->flush();
  });
}

std::shared_ptr<Connection> make_tcp_connection(boost::asio::ip::tcp::socket socket, std::uint64_t id,
                                                boost::asio::ip::tcp::endpoint remote,
                                                std::weak_ptr<Connection::Sink> sink, FramerLimits limits) {
  return std::make_shared<StreamConnection<boost::asio::ip::tcp::socket>>(std::move(socket), Transport::tcp, id,
                                                                          std::move(remote), std::move(sink), limits);
}

}  // namespace astmrf::sip::detail
