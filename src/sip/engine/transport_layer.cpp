#include "transport_layer.hpp"

#include "message_factory.hpp"

#include <astmrf/sip/stream_framer.hpp>
#include <astmrf/util/log.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <cstddef>
#include <deque>
#include <map>
#include <new>
#include <unordered_map>
#include <vector>

namespace astmrf::sip::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;

namespace {

// Largest UDP payload; anything larger than the configured limit is dropped.
constexpr std::size_t kDatagramBuffer = 65536;

// Socket receive buffer asked for on UDP listen points (the kernel caps it at
// net.core.rmem_max). The usual default, about 200 KB, holds some 150 datagrams:
// at thousands of calls per second a few ms without the CPU overflow it, and every
// datagram dropped there costs a retransmission 500 ms later (measured with
// scripts/bench-sip-engine on a loaded machine). 4 MiB rides out ~150 ms.
constexpr int kUdpReceiveBuffer = 4 * 1024 * 1024;

// Memory for the one receive operation in flight on a UDP point. Asio frees an
// operation before running its handler, which then starts the next receive: one
// block serves every datagram, where the default per-thread cache is usually taken
// by the timers and posts the handler starts meanwhile (a heap allocation per datagram).
class ReceiveMemory {
 public:
  void* allocate(std::size_t size) {
    if (in_use_ || size > sizeof storage_) return ::operator new(size);
    in_use_ = true;
    return storage_;
  }
  void deallocate(void* p) noexcept {
    if (p == storage_)
      in_use_ = false;
    else
      ::operator delete(p);
  }

 private:
  alignas(std::max_align_t) unsigned char storage_[512];
  bool in_use_{false};
};

template <class T>
struct ReceiveAllocator {
  using value_type = T;
  explicit ReceiveAllocator(ReceiveMemory& m) noexcept : memory(&m) {}
  template <class U>
  ReceiveAllocator(const ReceiveAllocator<U>& other) noexcept : memory(other.memory) {}
  T* allocate(std::size_t n) { return static_cast<T*>(memory->allocate(sizeof(T) * n)); }
  void deallocate(T* p, std::size_t) noexcept { memory->deallocate(p); }
  template <class U>
  bool operator==(const ReceiveAllocator<U>& other) const noexcept {
    return memory == other.memory;
  }
  ReceiveMemory* memory;
};

}  // namespace

struct TransportLayer::Impl : std::enable_shared_from_this<TransportLayer::Impl> {
  struct UdpPoint {
    explicit UdpPoint(udp::socket s) : socket(std::move(s)) {}
    udp::socket socket;
    std::array<char, kDatagramBuffer> buffer{};
    udp::endpoint sender;
    ReceiveMemory receive_memory;
    bool v4{true};  // the bound address's family: known at bind, not asked per send
  };

  struct Connection : std::enable_shared_from_this<Connection> {
    Connection(tcp::socket s, std::uint64_t connection_id, FramerLimits limits)
        : socket(std::move(s)), id(connection_id), framer(limits) {}
    tcp::socket socket;
    std::uint64_t id;
    tcp::endpoint remote;
    StreamFramer framer;
    std::array<char, 16384> buffer{};
    std::deque<std::string> queue;
    std::vector<SendHandler> waiting;  // completions of sends queued before connect
    bool connected{false};
    bool writing{false};
    bool closed{false};
  };

  Impl(asio::any_io_executor ex, const EngineConfig& cfg, Callbacks cb)
      : executor(std::move(ex)), config(cfg), callbacks(std::move(cb)) {}

  asio::any_io_executor executor;
  EngineConfig config;
  Callbacks callbacks;
  std::vector<std::unique_ptr<UdpPoint>> udp_points;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;
  std::map<std::pair<asio::ip::address, std::uint16_t>, std::uint64_t> by_remote;
  std::uint64_t next_connection_id{1};
  bool stopped{false};
  std::uint64_t udp_dropped{0};                                     // datagrams not sent: send buffer full
  std::shared_ptr<util::metrics::Counter> send_buffer_full_metric;  // null: metrics off
  std::shared_ptr<util::metrics::Gauge> tcp_connections_metric;     // null: metrics off
  std::shared_ptr<spdlog::logger> log{util::logger_or_default(nullptr)};

  void connections_changed() {
    if (tcp_connections_metric) tcp_connections_metric->set(static_cast<double>(connections.size()));
  }
  void log_error(std::string_view event, const tcp::endpoint& remote, const error_code& ec) {
    log->warn("event={} transport=tcp peer={}:{} error={}", event, detail::host_text(remote.address()), remote.port(),
              util::quote(ec.message()));
  }

  FramerLimits limits() const {
    FramerLimits l;
    l.max_message_size = config.max_message_size;
    return l;
  }

  void start() {
    for (const auto& point : config.listen) {
      auto address = asio::ip::make_address(point.address);
      if (point.transport == Transport::udp) {
        auto p = std::make_unique<UdpPoint>(udp::socket(executor));
        udp::endpoint local(address, point.port);
        p->socket.open(local.protocol());
        p->socket.bind(local);
        p->socket.non_blocking(true);  // send() must never block the event loop
        p->v4 = local.address().is_v4();
        error_code ignored;  // a smaller buffer still works
        p->socket.set_option(udp::socket::receive_buffer_size(kUdpReceiveBuffer), ignored);
        udp_points.push_back(std::move(p));
        receive(*udp_points.back());
      } else {
        auto acceptor = std::make_unique<tcp::acceptor>(executor);
        tcp::endpoint local(address, point.port);
        acceptor->open(local.protocol());
        acceptor->set_option(tcp::acceptor::reuse_address(true));
        acceptor->bind(local);
        acceptor->listen();
        acceptors.push_back(std::move(acceptor));
        accept(*acceptors.back());
      }
    }
  }

  void stop() {
    stopped = true;
    error_code ignored;
    for (auto& p : udp_points) p->socket.close(ignored);
    for (auto& a : acceptors) a->close(ignored);
    for (auto& [id, c] : connections) close(*c);
    connections.clear();
    by_remote.clear();
    connections_changed();
  }

  // ---- UDP
  void receive(UdpPoint& point) {
    point.socket.async_receive_from(
        asio::buffer(point.buffer), point.sender,
        asio::bind_allocator(ReceiveAllocator<void>(point.receive_memory),
                             [self = shared_from_this(), &point](error_code ec, std::size_t size) {
                               if (self->stopped || ec == asio::error::operation_aborted) return;
                               if (!ec && size <= self->config.max_message_size) {
                                 PeerAddress source{Transport::udp, point.sender.address(), point.sender.port(), 0};
                                 self->callbacks.on_input(std::string_view(point.buffer.data(), size), nullptr, source);
                               }
                               // ICMP errors surface as receive errors on some systems: keep serving.
                               if (!self->stopped) self->receive(point);
                             }));
  }

  udp::socket* udp_socket_for(const asio::ip::address& destination) {
    for (auto& p : udp_points) {
      if (p->socket.is_open() && p->v4 == destination.is_v4()) return &p->socket;
    }
    return udp_points.empty() ? nullptr : &udp_points.front()->socket;
  }

  // ---- TCP
  void accept(tcp::acceptor& acceptor) {
    acceptor.async_accept([self = shared_from_this(), &acceptor](error_code ec, tcp::socket socket) {
      if (self->stopped || ec == asio::error::operation_aborted) return;
      if (!ec) {
        auto connection = std::make_shared<Connection>(std::move(socket), self->next_connection_id++, self->limits());
        error_code remote_ec;
        connection->remote = connection->socket.remote_endpoint(remote_ec);
        if (!remote_ec) {
          connection->connected = true;
          self->add(connection);
          self->read(connection);
        }
      }
      self->accept(acceptor);
    });
  }

  void add(const std::shared_ptr<Connection>& c) {
    connections[c->id] = c;
    by_remote[{c->remote.address(), c->remote.port()}] = c->id;
    connections_changed();
  }

  void close(Connection& c) {
    if (c.closed) return;
    c.closed = true;
    error_code ignored;
    c.socket.close(ignored);
    for (auto& done : c.waiting) {
      if (done) done(asio::error::connection_aborted);
    }
    c.waiting.clear();
  }

  void drop(const std::shared_ptr<Connection>& c) {
    close(*c);
    auto it = by_remote.find({c->remote.address(), c->remote.port()});
    if (it != by_remote.end() && it->second == c->id) by_remote.erase(it);
    connections.erase(c->id);
    connections_changed();
  }

  void read(const std::shared_ptr<Connection>& c) {
    c->socket.async_read_some(asio::buffer(c->buffer), [self = shared_from_this(), c](error_code ec, std::size_t size) {
      if (self->stopped || c->closed) return;
      if (ec) {
        if (ec == asio::error::eof || ec == asio::error::connection_reset) {
          self->log->debug("event=tcp_closed transport=tcp peer={}:{}", detail::host_text(c->remote.address()),
                           c->remote.port());
        } else {
          self->log_error("transport_error", c->remote, ec);
        }
        self->drop(c);
        return;
      }
      PeerAddress source{Transport::tcp, c->remote.address(), c->remote.port(), c->id};
      auto fed = c->framer.feed(std::string_view(c->buffer.data(), size));
      while (fed) {
        auto frame = c->framer.next();
        if (!frame) {
          // The stream is out of sync: report, then close (RFC 3261 18.3).
          Result<Message> failed(frame.error());
          self->callbacks.on_input({}, &failed, source);
          self->drop(c);
          return;
        }
        if (frame->kind == Frame::Kind::need_more) break;
        if (frame->kind == Frame::Kind::keepalive_ping) {
          self->write(c, "\r\n", {});
          continue;
        }
        Result<Message> message(std::move(frame->message));
        self->callbacks.on_input(message->raw(), &message, source);
        if (self->stopped || c->closed) return;
      }
      if (!fed) {
        Result<Message> failed(fed.error());
        self->callbacks.on_input({}, &failed, source);
        self->drop(c);
        return;
      }
      self->read(c);
    });
  }

  void write(const std::shared_ptr<Connection>& c, std::string data, SendHandler done) {
    c->queue.push_back(std::move(data));
    if (done) c->waiting.push_back(std::move(done));
    if (c->connected && !c->writing) flush(c);
  }

  void flush(const std::shared_ptr<Connection>& c) {
    if (c->queue.empty() || c->closed) return;
    c->writing = true;
    asio::async_write(c->socket, asio::buffer(c->queue.front()),
                      [self = shared_from_this(), c](error_code ec, std::size_t) {
                        c->writing = false;
                        if (self->stopped || c->closed) return;
                        if (ec) {
                          self->log_error("transport_error", c->remote, ec);
                          self->drop(c);
                          return;
                        }
                        c->queue.pop_front();
                        if (c->queue.empty()) {
                          auto waiting = std::move(c->waiting);
                          c->waiting.clear();
                          for (auto& done : waiting) done(error_code{});
                        }
                        self->flush(c);
                      });
  }

  std::shared_ptr<Connection> connection_to(const PeerAddress& destination) {
    if (destination.connection != 0) {
      auto it = connections.find(destination.connection);
      if (it != connections.end()) return it->second;
    }
    auto it = by_remote.find({destination.address, destination.port});
    if (it != by_remote.end()) {
      auto c = connections.find(it->second);
      if (c != connections.end()) return c->second;
    }
    return nullptr;
  }

  void connect(const std::shared_ptr<Connection>& c) {
    c->socket.async_connect(c->remote, [self = shared_from_this(), c](error_code ec) {
      if (self->stopped || c->closed) return;
      if (ec) {
        self->log_error("tcp_connect_failed", c->remote, ec);
        self->drop(c);
        return;
      }
      c->connected = true;
      self->read(c);
      self->flush(c);
    });
  }

  error_code send(const PeerAddress& destination, std::string_view data, SendHandler done) {
    if (stopped) {
      if (done) asio::post(executor, [done] { done(asio::error::operation_aborted); });
      return asio::error::operation_aborted;
    }
    if (destination.transport == Transport::udp) {
      auto* socket = udp_socket_for(destination.address);
      if (socket == nullptr) {
        if (done) asio::post(executor, [done] { done(asio::error::address_family_not_supported); });
        return asio::error::address_family_not_supported;
      }
      // A datagram goes out at once (async_send_to would also try it at once): sent
      // synchronously, it needs no copy of the text, no shared buffer and no
      // completion. `done` still runs later, from the executor, as before. The socket
      // is non-blocking: with its send buffer full the datagram is dropped, as the
      // network could have dropped it, and the transaction's retransmissions cover it.
      error_code ec;
      socket->send_to(asio::buffer(data.data(), data.size()), udp::endpoint(destination.address, destination.port), 0,
                      ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        ++udp_dropped;
        if (send_buffer_full_metric) send_buffer_full_metric->inc();
        ec = {};
      } else if (ec) {
        log->warn("event=transport_error transport=udp peer={}:{} error={}", detail::host_text(destination.address),
                  destination.port, util::quote(ec.message()));
      }
      if (done) asio::post(executor, [done = std::move(done), ec] { done(ec); });
      return ec;
    }
    auto c = connection_to(destination);
    if (!c) {
      if (acceptors.empty() && udp_points.empty()) {
        if (done) asio::post(executor, [done] { done(asio::error::not_connected); });
        return asio::error::not_connected;
      }
      c = std::make_shared<Connection>(tcp::socket(executor), next_connection_id++, limits());
      c->remote = tcp::endpoint(destination.address, destination.port);
      add(c);
      connect(c);
    }
    write(c, std::string(data), std::move(done));
    return {};
  }

  PeerAddress local_address(Transport transport) const {
    error_code ec;
    if (transport == Transport::udp) {
      for (const auto& p : udp_points) {
        auto local = p->socket.local_endpoint(ec);
        if (!ec) return {Transport::udp, local.address(), local.port(), 0};
      }
    } else {
      for (const auto& a : acceptors) {
        auto local = a->local_endpoint(ec);
        if (!ec) return {Transport::tcp, local.address(), local.port(), 0};
      }
    }
    // No listen point of that transport: advertise the other one's address.
    for (const auto& point : config.listen) {
      return {transport, asio::ip::make_address(point.address), point.port, 0};
    }
    return {transport, asio::ip::make_address("127.0.0.1"), 5060, 0};
  }
};

TransportLayer::TransportLayer(asio::any_io_executor executor, const EngineConfig& config, Callbacks callbacks)
    : impl_(std::make_shared<Impl>(std::move(executor), config, std::move(callbacks))) {}

TransportLayer::~TransportLayer() { impl_->stop(); }

void TransportLayer::observe(std::shared_ptr<util::metrics::Counter> send_buffer_full,
                             std::shared_ptr<util::metrics::Gauge> tcp_connections,
                             std::shared_ptr<spdlog::logger> log) {
  impl_->send_buffer_full_metric = std::move(send_buffer_full);
  impl_->tcp_connections_metric = std::move(tcp_connections);
  impl_->log = std::move(log);
}

void TransportLayer::start() { impl_->start(); }
void TransportLayer::stop() { impl_->stop(); }

boost::system::error_code TransportLayer::send(const PeerAddress& destination, std::string_view data,
                                               SendHandler done) {
  return impl_->send(destination, data, std::move(done));
}

PeerAddress TransportLayer::local_address(Transport transport) const { return impl_->local_address(transport); }

bool TransportLayer::has(Transport transport) const {
  return transport == Transport::udp ? !impl_->udp_points.empty() : !impl_->acceptors.empty();
}

std::size_t TransportLayer::tcp_connections() const { return impl_->connections.size(); }
std::uint64_t TransportLayer::udp_send_dropped() const { return impl_->udp_dropped; }

}  // namespace astmrf::sip::detail
