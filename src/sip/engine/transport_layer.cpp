#include "transport_layer.hpp"

#include "connection.hpp"
#include "message_factory.hpp"
#include "ws_connection.hpp"

#include <astmrf/sip/stream_framer.hpp>
#include <astmrf/util/log.hpp>
#include <astmrf/util/metrics.hpp>
#include <astmrf/util/socket.hpp>
#include <astmrf/util/tls_client.hpp>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <cstddef>
#include <deque>
#include <map>
#include <new>
#include <stdexcept>
#include <tuple>
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

struct TransportLayer::Impl : Connection::Sink, std::enable_shared_from_this<TransportLayer::Impl> {
  struct UdpPoint {
    explicit UdpPoint(udp::socket s) : socket(std::move(s)) {}
    udp::socket socket;
    std::array<char, kDatagramBuffer> buffer{};
    udp::endpoint sender;
    ReceiveMemory receive_memory;
    bool v4{true};  // the bound address's family: known at bind, not asked per send
  };

  struct Acceptor {
    Acceptor(tcp::acceptor a, Transport t) : acceptor(std::move(a)), transport(t) {}
    tcp::acceptor acceptor;
    Transport transport;
    WebSocketOptions websocket{};               // ws, wss
    std::shared_ptr<asio::ssl::context> tls{};  // tls, wss: this point's certificate
  };
  using RemoteKey = std::tuple<Transport, asio::ip::address, std::uint16_t>;

  Impl(asio::any_io_executor ex, const EngineConfig& cfg, Callbacks cb)
      : executor(std::move(ex)), config(cfg), callbacks(std::move(cb)) {}

  asio::any_io_executor executor;
  EngineConfig config;
  Callbacks callbacks;
  std::vector<std::unique_ptr<UdpPoint>> udp_points;
  std::vector<std::unique_ptr<Acceptor>> acceptors;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;
  std::map<RemoteKey, std::uint64_t> by_remote;
  std::multimap<std::uint64_t, RemoteKey> aliases;  // RFC 5923 keys by connection, dropped with it
  std::uint64_t next_connection_id{1};
  bool stopped{false};
  std::uint64_t udp_dropped{0};                                     // datagrams not sent: send buffer full
  std::shared_ptr<util::metrics::Counter> send_buffer_full_metric;  // null: metrics off
  std::shared_ptr<util::metrics::Gauge> tcp_connections_metric;     // null: metrics off
  std::shared_ptr<spdlog::logger> log{util::logger_or_default(nullptr)};
  std::shared_ptr<asio::ssl::context> tls_client;  // outgoing TLS, one for the engine

  void connections_changed() {
    if (tcp_connections_metric) tcp_connections_metric->set(static_cast<double>(connections.size()));
  }
  void log_error(std::string_view event, const Connection& c, const error_code& ec) {
    log->warn("event={} transport={} peer={}:{} error={}", event, uri_param(c.transport()),
              detail::host_text(c.remote().address()), c.remote().port(), util::quote(ec.message()));
  }

  FramerLimits limits() const {
    FramerLimits l;
    l.max_message_size = config.max_message_size;
    return l;
  }

  void start() {
    // Read at start: a wrong CA file is an error now, not at the first call.
    tls_client = util::make_client_tls_context(config.tls_client);
    for (const auto& point : config.listen) {
      auto address = asio::ip::make_address(point.address);
      if (point.transport == Transport::udp) {
        auto p = std::make_unique<UdpPoint>(udp::socket(executor));
        udp::endpoint local(address, point.port);
        p->socket.open(local.protocol());
        util::close_on_exec(p->socket);
        p->socket.bind(local);
        p->socket.non_blocking(true);  // send() must never block the event loop
        p->v4 = local.address().is_v4();
        error_code ignored;  // a smaller buffer still works
        p->socket.set_option(udp::socket::receive_buffer_size(kUdpReceiveBuffer), ignored);
        udp_points.push_back(std::move(p));
        receive(*udp_points.back());
      } else {
        auto acceptor = std::make_unique<Acceptor>(tcp::acceptor(executor), point.transport);
        acceptor->websocket = point.websocket;
        if (is_secure(point.transport)) acceptor->tls = util::make_server_tls_context(point.tls);
        tcp::endpoint local(address, point.port);
        acceptor->acceptor.open(local.protocol());
        util::close_on_exec(acceptor->acceptor);
        acceptor->acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor->acceptor.bind(local);
        acceptor->acceptor.listen();
        acceptors.push_back(std::move(acceptor));
        accept(*acceptors.back());
      }
    }
  }

  // `from`: the acceptor of an accepted connection; `to`: the destination of an outgoing one.
  std::shared_ptr<Connection> make_connection(Transport transport, tcp::socket socket, const tcp::endpoint& remote,
                                              const Acceptor* from = nullptr, const PeerAddress* to = nullptr) {
    auto sink = std::weak_ptr<Connection::Sink>(shared_from_this());
    switch (transport) {
      case Transport::tcp: return make_tcp_connection(std::move(socket), next_connection_id++, remote, sink, limits());
      case Transport::tls: {
        TlsSettings tls{from != nullptr ? from->tls : tls_client, config.tls_handshake_timeout,
                        config.tls_client.verify_peer, config.tls_client.server_name};
        if (to != nullptr && !to->server_name.empty()) tls.server_name = to->server_name;
        return make_tls_connection(std::move(socket), next_connection_id++, remote, sink, limits(), std::move(tls));
      }
      case Transport::ws:
        if (!from) return nullptr;  // browsers are reached over the connection they opened
        return make_ws_connection(std::move(socket), next_connection_id++, remote, sink, from->websocket);
      case Transport::wss:
        if (!from) return nullptr;
        return make_wss_connection(std::move(socket), from->tls, next_connection_id++, remote, sink, from->websocket);
      default: return nullptr;
    }
  }

  void stop() {
    stopped = true;
    error_code ignored;
    for (auto& p : udp_points) p->socket.close(ignored);
    for (auto& a : acceptors) a->acceptor.close(ignored);
    for (auto& [id, c] : connections) c->close();
    connections.clear();
    by_remote.clear();
    aliases.clear();
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

  // A socket of the destination's family, or none: an IPv4 socket cannot reach an IPv6
  // address (the engine refuses such requests before they get here, naming the family).
  udp::socket* udp_socket_for(const asio::ip::address& destination) {
    for (auto& p : udp_points) {
      if (p->socket.is_open() && p->v4 == destination.is_v4()) return &p->socket;
    }
    return nullptr;
  }

  // ---- connections (TCP, TLS, WebSocket)
  void accept(Acceptor& a) {
    a.acceptor.async_accept([self = shared_from_this(), &a](error_code ec, tcp::socket socket) {
      if (self->stopped || ec == asio::error::operation_aborted) return;
      if (!ec) {
        util::close_on_exec(socket);
        error_code remote_ec;
        const auto remote = socket.remote_endpoint(remote_ec);
        if (!remote_ec) {
          if (auto c = self->make_connection(a.transport, std::move(socket), remote, &a)) {
            self->add(c);
            c->start_accepted();
          }
        }
      }
      self->accept(a);
    });
  }

  void add(const std::shared_ptr<Connection>& c) {
    connections[c->id()] = c;
    by_remote[{c->transport(), c->remote().address(), c->remote().port()}] = c->id();
    connections_changed();
  }

  void drop(Connection& c) {
    c.close();
    auto it = by_remote.find({c.transport(), c.remote().address(), c.remote().port()});
    if (it != by_remote.end() && it->second == c.id()) by_remote.erase(it);
    auto [first, last] = aliases.equal_range(c.id());
    for (auto a = first; a != last; ++a) {
      auto alias = by_remote.find(a->second);
      if (alias != by_remote.end() && alias->second == c.id()) by_remote.erase(alias);
    }
    aliases.erase(first, last);
    connections.erase(c.id());  // last: `c` may go with it
    connections_changed();
  }

  void on_connection_input(Connection& c, std::string_view raw, Result<Message>* parsed) override {
    if (stopped) return;
    if (parsed != nullptr && *parsed && (*parsed)->is_request()) alias(c, **parsed);
    callbacks.on_input(raw, parsed, c.peer());
  }

  // RFC 5923: a top Via with `alias` asks that requests to its sent-by reuse this connection.
  void alias(Connection& c, const Message& request) {
    auto via = request.top_via();
    if (!via || !via->param("alias") || (via->host_kind != HostKind::ipv4 && via->host_kind != HostKind::ipv6)) return;
    error_code ec;
    const auto address = asio::ip::make_address(std::string(via->host), ec);
    if (ec) return;
    const std::uint16_t port = via->has_port ? via->port : (c.transport() == Transport::tls ? 5061 : 5060);
    const RemoteKey key{c.transport(), address, port};
    auto it = by_remote.find(key);
    if (it != by_remote.end() && it->second == c.id()) return;  // already
    if (!c.may_alias(via->host)) return;
    by_remote[key] = c.id();
    aliases.emplace(c.id(), key);
  }

  void on_connection_closed(Connection& c, error_code ec) override {
    if (stopped) return;
    if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::invalid_argument) {
      log->debug("event=connection_closed transport={} peer={}:{}", uri_param(c.transport()),
                 detail::host_text(c.remote().address()), c.remote().port());
    } else {
      log_error("transport_error", c, ec);
    }
    const auto keep = c.shared_from_this();
    drop(c);
    if (callbacks.on_connection_lost) callbacks.on_connection_lost(c.peer());
  }

  std::shared_ptr<Connection> connection_to(const PeerAddress& destination) {
    if (destination.connection != 0) {
      auto it = connections.find(destination.connection);
      if (it != connections.end()) return it->second;
    }
    auto it = by_remote.find({destination.transport, destination.address, destination.port});
    if (it != by_remote.end()) {
      auto c = connections.find(it->second);
      if (c != connections.end()) return c->second;
    }
    return nullptr;
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
      // A browser (ws, wss) is reached only over the connection it opened.
      const bool can_connect = destination.transport == Transport::tcp || destination.transport == Transport::tls;
      if (!can_connect || (acceptors.empty() && udp_points.empty())) {
        if (done) asio::post(executor, [done] { done(asio::error::not_connected); });
        return asio::error::not_connected;
      }
      c = make_connection(destination.transport, tcp::socket(executor),
                          tcp::endpoint(destination.address, destination.port), nullptr, &destination);
      if (!c) {
        if (done) asio::post(executor, [done] { done(asio::error::operation_not_supported); });
        return asio::error::operation_not_supported;
      }
      add(c);
      c->start_outgoing();
    }
    c->send(std::string(data), std::move(done));
    return {};
  }

  std::optional<PeerAddress> bound_address(Transport transport, bool v6) const {
    error_code ec;
    if (transport == Transport::udp) {
      for (const auto& p : udp_points) {
        if (p->v4 == v6) continue;
        auto local = p->socket.local_endpoint(ec);
        if (!ec) return PeerAddress{Transport::udp, local.address(), local.port(), 0};
      }
      return std::nullopt;
    }
    for (const auto& a : acceptors) {
      if (a->transport != transport) continue;
      auto local = a->acceptor.local_endpoint(ec);
      if (!ec && local.address().is_v6() == v6) return PeerAddress{transport, local.address(), local.port(), 0};
    }
    return std::nullopt;
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
        if (a->transport != transport) continue;
        auto local = a->acceptor.local_endpoint(ec);
        if (!ec) return {transport, local.address(), local.port(), 0};
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

std::optional<PeerAddress> TransportLayer::bound_address(Transport transport, bool v6) const {
  return impl_->bound_address(transport, v6);
}

bool TransportLayer::has(Transport transport) const {
  if (transport == Transport::udp) return !impl_->udp_points.empty();
  for (const auto& a : impl_->acceptors) {
    if (a->transport == transport) return true;
  }
  return false;
}

std::size_t TransportLayer::tcp_connections() const { return impl_->connections.size(); }
std::uint64_t TransportLayer::udp_send_dropped() const { return impl_->udp_dropped; }

}  // namespace astmrf::sip::detail
