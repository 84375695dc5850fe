#include "astmrf_test/tcp_proxy.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <future>
#include <thread>
#include <unordered_set>
#include <vector>

namespace astmrf_test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Closing with SO_LINGER 0 sends RST instead of FIN: the peer's next read fails at once.
void close_socket(tcp::socket& socket, bool with_reset) {
  if (!socket.is_open()) return;
  error_code ignored;
  if (with_reset) socket.set_option(tcp::socket::linger(true, 0), ignored);
  socket.close(ignored);
}

}  // namespace

std::string_view to_string(TcpProxyMode mode) {
  switch (mode) {
    case TcpProxyMode::pass: return "pass";
    case TcpProxyMode::reset: return "reset";
    case TcpProxyMode::blackhole: return "blackhole";
  }
  return "?";
}

struct TcpProxyConnection;

struct TcpProxy::Impl {
  Impl(std::uint16_t target, TcpProxyMode initial) : target_port(target), mode(initial) {}

  void accept();
  void close_all(bool with_reset);
  // Runs f on the proxy's thread and waits for it.
  template <typename F>
  void run_on_io(F f);

  const std::uint16_t target_port;
  std::uint16_t listen_port = 0;
  std::atomic<TcpProxyMode> mode;
  std::atomic<std::size_t> live{0};
  std::atomic<std::size_t> accepted{0};
  // On the proxy's thread only. Declared before io: connections that outlive run() are
  // destroyed by io's destructor and still unregister themselves here.
  std::unordered_set<TcpProxyConnection*> connections;
  bool stopping = false;

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  tcp::acceptor acceptor{io};
  std::thread thread;
};

// One client connection and, unless it was accepted in blackhole mode, its upstream.
// Owned by its pending handlers; everything runs on the proxy's thread.
struct TcpProxyConnection : std::enable_shared_from_this<TcpProxyConnection> {
  using Buffer = std::array<char, 16384>;

  TcpProxyConnection(TcpProxy::Impl& owner, tcp::socket accepted_socket)
      : impl(owner), client(std::move(accepted_socket)), upstream(owner.io) {
    impl.connections.insert(this);
    ++impl.live;
  }
  ~TcpProxyConnection() {
    impl.connections.erase(this);
    --impl.live;
  }

  void start(bool connect_upstream) {
    if (!connect_upstream) {
      open_directions = 1;
      relay(client, upstream, from_client);
      return;
    }
    const tcp::endpoint target{asio::ip::address_v4::loopback(), impl.target_port};
    upstream.async_connect(target, [self = shared_from_this()](const error_code& error) {
      if (self->closed) return;
      if (error) return self->close(false);
      self->has_upstream = true;
      self->relay(self->client, self->upstream, self->from_client);
      self->relay(self->upstream, self->client, self->from_upstream);
    });
  }

  void relay(tcp::socket& from, tcp::socket& to, Buffer& buffer) {
    from.async_read_some(asio::buffer(buffer),
                         [self = shared_from_this(), &from, &to, &buffer](const error_code& error, std::size_t n) {
                           if (self->closed) return;
                           const bool passing = self->impl.mode.load() == TcpProxyMode::pass && self->has_upstream;
                           if (error == asio::error::eof) {
                             // A half-close is relayed like the bytes: not through a black hole.
                             error_code ignored;
                             if (passing) to.shutdown(tcp::socket::shutdown_send, ignored);
                             if (--self->open_directions == 0) self->close(false);
                             return;
                           }
                           if (error) return self->close(error == asio::error::connection_reset);
                           if (!passing) return self->relay(from, to, buffer);  // dropped
                           asio::async_write(to, asio::buffer(buffer.data(), n),
                                             [self, &from, &to, &buffer](const error_code& write_error, std::size_t) {
                                               if (self->closed) return;
                                               if (write_error) return self->close(false);
                                               self->relay(from, to, buffer);
                                             });
                         });
  }

  void close(bool with_reset) {
    closed = true;
    close_socket(client, with_reset);
    close_socket(upstream, with_reset);
  }

  TcpProxy::Impl& impl;
  tcp::socket client;
  tcp::socket upstream;
  bool has_upstream = false;
  bool closed = false;
  int open_directions = 2;
  Buffer from_client{};
  Buffer from_upstream{};
};

void TcpProxy::Impl::accept() {
  acceptor.async_accept([this](const error_code& error, tcp::socket socket) {
    if (stopping) return;
    if (!error) {
      ++accepted;
      const auto now = mode.load();
      if (now == TcpProxyMode::reset) {
        close_socket(socket, true);
      } else {
        std::make_shared<TcpProxyConnection>(*this, std::move(socket))->start(now == TcpProxyMode::pass);
      }
    }
    accept();
  });
}

void TcpProxy::Impl::close_all(bool with_reset) {
  // Held here so that no connection goes away while the set is walked.
  std::vector<std::shared_ptr<TcpProxyConnection>> all;
  all.reserve(connections.size());
  for (auto* connection : connections) all.push_back(connection->shared_from_this());
  for (auto& connection : all) connection->close(with_reset);
}

template <typename F>
void TcpProxy::Impl::run_on_io(F f) {
  if (io.get_executor().running_in_this_thread()) return f();
  std::promise<void> done;
  asio::post(io, [&] {
    f();
    done.set_value();
  });
  done.get_future().wait();
}

TcpProxy::TcpProxy(std::uint16_t target_port, std::uint16_t listen_port, TcpProxyMode mode)
    : impl_(std::make_unique<Impl>(target_port, mode)) {
  const tcp::endpoint local{asio::ip::address_v4::loopback(), listen_port};
  impl_->acceptor.open(local.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(local);
  impl_->acceptor.listen();
  impl_->listen_port = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

TcpProxy::~TcpProxy() {
  // Nothing new starts once the acceptor and the sockets are closed, so run() returns by
  // itself after the aborted handlers have run and released their connections.
  asio::post(impl_->io, [impl = impl_.get()] {
    impl->stopping = true;
    error_code ignored;
    impl->acceptor.close(ignored);
    impl->close_all(false);
  });
  impl_->work.reset();
  impl_->thread.join();
}

std::uint16_t TcpProxy::port() const { return impl_->listen_port; }
std::uint16_t TcpProxy::target_port() const { return impl_->target_port; }
TcpProxyMode TcpProxy::mode() const { return impl_->mode.load(); }
std::size_t TcpProxy::connections() const { return impl_->live.load(); }
std::size_t TcpProxy::accepted() const { return impl_->accepted.load(); }

void TcpProxy::set_mode(TcpProxyMode mode) {
  impl_->mode.store(mode);
  // Also a barrier: every handler that runs after it sees the new mode.
  impl_->run_on_io([impl = impl_.get(), mode] {
    if (mode == TcpProxyMode::reset) impl->close_all(true);
  });
}

}  // namespace astmrf_test
