// util::Resolver on c-ares. c-ares does no I/O waiting of its own here: it tells us, through
// the socket-state callback, which sockets it wants to read or write, and we watch them with
// non-owning Asio descriptors on the Resolver's executor; ares_timeout() gives the next retry,
// which one steady_timer waits for. Every c-ares callback only records a result: handlers are
// posted (detail::Once), never run from inside c-ares.
#include <astmrf/detail/async.hpp>
#include <astmrf/util/host_port.hpp>
#include <astmrf/util/resolver.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include <ares.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace astmrf::util {

namespace asio = boost::asio;
using Address = asio::ip::address;
using Addresses = std::vector<Address>;
using Once = astmrf::detail::Once<Resolver::Signature>;

ResolveError::ResolveError(std::string host, std::string reason, bool not_found)
    : std::runtime_error("cannot resolve '" + host + "': " + reason),
      host_(std::move(host)),
      reason_(std::move(reason)),
      not_found_(not_found) {}

namespace {

// c-ares requires ares_library_init before the first channel, process-wide (it is reference
// counted, and on POSIX does almost nothing). A function-local static runs it once, thread-safely;
// it is never undone: channels may live until exit.
void init_library_once() {
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  if (status != ARES_SUCCESS) {
    throw std::runtime_error(std::string("resolver: ares_library_init failed: ") + ares_strerror(status));
  }
}

// "192.0.2.1", "[::1]" or "::1" → the address; otherwise nothing (a name to look up).
std::optional<Address> ip_literal(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(std::string(host), ec);
  if (ec) return std::nullopt;
  return address;
}

// One ResolverOptions::servers entry: "ip", "ip:port", "[ipv6]" or "[ipv6]:port".
ares_addr_port_node parse_server(const std::string& text) {
  auto bad = [&text](const std::string& why) {
    return std::invalid_argument("resolver: DNS server '" + text + "': " + why);
  };
  HostPort server;
  try {
    server = parse_host_port(text, 53);
  } catch (const std::invalid_argument& e) {
    throw bad(e.what());
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(server.host, ec);
  if (ec) throw bad("not an IP address");
  const int port_number = server.port;
  ares_addr_port_node node{};
  if (address.is_v4()) {
    node.family = AF_INET;
    const auto bytes = address.to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), reinterpret_cast<unsigned char*>(&node.addr.addr4));
  } else {
    node.family = AF_INET6;
    const auto bytes = address.to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.end(), reinterpret_cast<unsigned char*>(&node.addr.addr6));
  }
  node.udp_port = port_number;
  node.tcp_port = port_number;
  return node;
}

// A c-ares result as the addresses it holds: IPv4 first (an IPv6 route to a media server is
// the exception), each once (/etc/hosts may list one twice), c-ares's order otherwise.
std::vector<AddressRecord> collect_records(const ares_addrinfo* result) {
  std::vector<AddressRecord> v4;
  std::vector<AddressRecord> v6;
  auto add = [](std::vector<AddressRecord>& to, const Address& a, int ttl) {
    auto same = [&a](const AddressRecord& r) { return r.address == a; };
    if (std::find_if(to.begin(), to.end(), same) == to.end()) to.push_back({a, std::chrono::seconds(std::max(ttl, 0))});
  };
  for (const auto* node = result != nullptr ? result->nodes : nullptr; node != nullptr; node = node->ai_next) {
    if (node->ai_family == AF_INET && node->ai_addrlen >= sizeof(sockaddr_in)) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(node->ai_addr);
      asio::ip::address_v4::bytes_type bytes{};
      std::copy_n(reinterpret_cast<const unsigned char*>(&in->sin_addr), bytes.size(), bytes.begin());
      add(v4, Address{asio::ip::address_v4(bytes)}, node->ai_ttl);
    } else if (node->ai_family == AF_INET6 && node->ai_addrlen >= sizeof(sockaddr_in6)) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(node->ai_addr);
      asio::ip::address_v6::bytes_type bytes{};
      std::copy_n(reinterpret_cast<const unsigned char*>(&in6->sin6_addr), bytes.size(), bytes.begin());
      add(v6, Address{asio::ip::address_v6(bytes, in6->sin6_scope_id)}, node->ai_ttl);
    }
  }
  v4.insert(v4.end(), v6.begin(), v6.end());
  return v4;
}

Addresses collect(const ares_addrinfo* result) {
  Addresses out;
  for (auto& r : collect_records(result)) out.push_back(r.address);
  return out;
}

constexpr int kTypeSrv = 33;    // RFC 2782
constexpr int kTypeNaptr = 35;  // RFC 3403
constexpr int kClassIn = 1;

// The smallest TTL of the answers of `type` in a DNS reply (c-ares 1.18 parses SRV and
// NAPTR without their TTLs). Names are skipped with c-ares's own expander; a malformed
// reply gives 0 (not cached).
std::chrono::seconds min_ttl(const unsigned char* abuf, int alen, int type) {
  if (alen < 12) return std::chrono::seconds(0);
  const int qdcount = (abuf[4] << 8) | abuf[5];
  const int ancount = (abuf[6] << 8) | abuf[7];
  const unsigned char* p = abuf + 12;
  const unsigned char* end = abuf + alen;
  auto skip_name = [&]() {
    char* name = nullptr;
    long length = 0;
    if (ares_expand_name(p, abuf, alen, &name, &length) != ARES_SUCCESS) return false;
    ares_free_string(name);
    p += length;
    return p <= end;
  };
  for (int i = 0; i < qdcount; ++i) {
    if (!skip_name() || end - p < 4) return std::chrono::seconds(0);
    p += 4;
  }
  std::optional<std::uint32_t> smallest;
  for (int i = 0; i < ancount; ++i) {
    if (!skip_name() || end - p < 10) break;
    const int rr_type = (p[0] << 8) | p[1];
    const std::uint32_t ttl =
        (std::uint32_t{p[4]} << 24) | (std::uint32_t{p[5]} << 16) | (std::uint32_t{p[6]} << 8) | p[7];
    const int rdlength = (p[8] << 8) | p[9];
    p += 10;
    if (end - p < rdlength) break;
    p += rdlength;
    if (rr_type == type && (!smallest || ttl < *smallest)) smallest = ttl;
  }
  // RFC 2181 8: a TTL with the top bit set is taken as 0.
  if (!smallest || (*smallest & 0x80000000U) != 0) return std::chrono::seconds(0);
  return std::chrono::seconds(*smallest);
}

std::string without_trailing_dot(const char* name) {
  std::string out = name != nullptr ? name : "";
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// ENOTFOUND (NXDOMAIN) and ENODATA: the DNS said there is nothing; the rest: no usable answer.
bool is_not_found(int status) { return status == ARES_ENOTFOUND || status == ARES_ENODATA; }

}  // namespace

class Resolver::Impl : public std::enable_shared_from_this<Resolver::Impl> {
 public:
  Impl(asio::any_io_executor executor, ResolverOptions options)
      : executor_(std::move(executor)), options_(std::move(options)), timer_(executor_) {
    if (options_.timeout.count() <= 0) throw std::invalid_argument("resolver: timeout must be positive");
    if (options_.tries < 1) throw std::invalid_argument("resolver: tries must be at least 1");
    std::vector<ares_addr_port_node> servers;
    servers.reserve(options_.servers.size());
    for (const auto& s : options_.servers) servers.push_back(parse_server(s));

    init_library_once();
    ares_options opts{};
    char lookups[] = "fb";  // /etc/hosts first, then DNS (c-ares copies it)
    opts.lookups = lookups;
    opts.timeout = static_cast<int>(std::min<std::int64_t>(options_.timeout.count(), INT32_MAX));
    opts.tries = options_.tries;
    opts.sock_state_cb = &Impl::on_socket_state;
    opts.sock_state_cb_data = this;
    const int mask = ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
    if (const int status = ares_init_options(&channel_, &opts, mask); status != ARES_SUCCESS) {
      throw std::runtime_error(std::string("resolver: cannot set up c-ares: ") + ares_strerror(status));
    }
    if (!servers.empty()) {
      for (std::size_t i = 0; i + 1 < servers.size(); ++i) servers[i].next = &servers[i + 1];
      if (const int status = ares_set_servers_ports(channel_, servers.data()); status != ARES_SUCCESS) {
        ares_destroy(channel_);
        throw std::runtime_error(std::string("resolver: cannot set the DNS servers: ") + ares_strerror(status));
      }
    }
    // c-ares tries every server `tries` times; a lookup gets that many timeouts in all (c-ares
    // doubles the later ones, which would make the bound hard to tell: the deadline cuts them).
    std::size_t server_count = 0;
    ares_addr_port_node* configured = nullptr;
    if (ares_get_servers_ports(channel_, &configured) == ARES_SUCCESS) {
      for (auto* n = configured; n != nullptr; n = n->next) ++server_count;
      ares_free_data(configured);
    }
    lookup_deadline_ = options_.timeout * options_.tries * static_cast<int>(std::max<std::size_t>(server_count, 1));
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  ~Impl() {
    // Completes every pending lookup (ARES_EDESTRUCTION: posted operation_aborted) and closes
    // c-ares's sockets, each reported to on_socket_state first so that its watch lets go.
    ares_destroy(channel_);
    for (auto& [fd, watch] : watches_) close_watch(*watch);
    watches_.clear();
  }

  [[nodiscard]] const asio::any_io_executor& executor() const noexcept { return executor_; }

  void resolve(std::string host, Handler handler) {
    auto once = astmrf::detail::make_once(std::move(handler), executor_);
    lookup_addresses(std::move(host), once,
                     [once](ares_addrinfo* result) { return deliver_or_fail(*once, collect(result)); });
  }

  void resolve_records(std::string host, asio::any_completion_handler<RecordsSignature> handler) {
    auto once = astmrf::detail::make_once(std::move(handler), executor_);
    lookup_addresses(std::move(host), once,
                     [once](ares_addrinfo* result) { return deliver_or_fail(*once, collect_records(result)); });
  }

  void query_srv(std::string name, asio::any_completion_handler<SrvSignature> handler) {
    auto once = astmrf::detail::make_once(std::move(handler), executor_);
    query(std::move(name), kTypeSrv, once, [once](const unsigned char* abuf, int alen) -> int {
      ares_srv_reply* reply = nullptr;
      if (const int status = ares_parse_srv_reply(abuf, alen, &reply); status != ARES_SUCCESS) return status;
      std::vector<SrvRecord> records;
      for (auto* r = reply; r != nullptr; r = r->next) {
        records.push_back({r->priority, r->weight, r->port, without_trailing_dot(r->host)});
      }
      ares_free_data(reply);
      if (records.empty()) return ARES_ENODATA;
      (*once)(nullptr, std::move(records), min_ttl(abuf, alen, kTypeSrv));
      return ARES_SUCCESS;
    });
  }

  void query_naptr(std::string name, asio::any_completion_handler<NaptrSignature> handler) {
    auto once = astmrf::detail::make_once(std::move(handler), executor_);
    query(std::move(name), kTypeNaptr, once, [once](const unsigned char* abuf, int alen) -> int {
      ares_naptr_reply* reply = nullptr;
      if (const int status = ares_parse_naptr_reply(abuf, alen, &reply); status != ARES_SUCCESS) return status;
      std::vector<NaptrRecord> records;
      auto text = [](const unsigned char* t) {
        return t != nullptr ? std::string(reinterpret_cast<const char*>(t)) : std::string();
      };
      for (auto* r = reply; r != nullptr; r = r->next) {
        records.push_back({r->order, r->preference, text(r->flags), text(r->service), text(r->regexp),
                           without_trailing_dot(r->replacement)});
      }
      ares_free_data(reply);
      if (records.empty()) return ARES_ENODATA;
      (*once)(nullptr, std::move(records), min_ttl(abuf, alen, kTypeNaptr));
      return ARES_SUCCESS;
    });
  }

 private:
  // One lookup in c-ares's hands, whatever it asks: the typed completion is reached through
  // `fail`, `abort` and the success callbacks, so that c-ares's callbacks are shared.
  struct Query {
    Query(const asio::any_io_executor& executor, std::string h) : host(std::move(h)), deadline(executor) {}
    std::string host;
    std::function<bool()> done;
    std::function<void(std::exception_ptr)> fail;
    std::function<void()> abort;
    std::function<int(ares_addrinfo*)> addrinfo_ok;           // getaddrinfo: a c-ares status
    std::function<int(const unsigned char*, int)> answer_ok;  // ares_query: a c-ares status
    asio::steady_timer deadline;                              // the whole lookup's bound (timeout × tries × servers)
  };

  // `values` or, when empty, ENODATA; returns the c-ares status to report.
  template <typename OnceT, typename Values>
  static int deliver_or_fail(OnceT& once, Values values) {
    if (values.empty()) return ARES_ENODATA;
    once(nullptr, std::move(values));
    return ARES_SUCCESS;
  }

  template <typename OnceT>
  std::shared_ptr<Query> make_query(std::string host, const std::shared_ptr<OnceT>& once) {
    auto query = std::make_shared<Query>(executor_, std::move(host));
    query->done = [once] { return once->done(); };
    query->abort = [once] { once->abort(); };
    std::weak_ptr<Query> weak = query;
    once->on_cancel([weak] {
      if (auto q = weak.lock()) q->deadline.cancel();  // c-ares's own answer is ignored when it comes
    });
    query->deadline.expires_after(lookup_deadline_);
    query->deadline.async_wait([weak](boost::system::error_code ec) {
      auto q = weak.lock();
      if (ec || !q || q->done()) return;
      q->fail(std::make_exception_ptr(ResolveError(q->host, ares_strerror(ARES_ETIMEOUT))));
    });
    return query;
  }

  template <typename OnceT>
  void lookup_addresses(std::string host, const std::shared_ptr<OnceT>& once, std::function<int(ares_addrinfo*)> ok) {
    if (host.empty()) {
      (*once)(std::make_exception_ptr(ResolveError(host, "empty host name")), {});
      return;
    }
    if (auto address = ip_literal(host)) {
      deliver_literal(*once, *address);
      return;
    }
    auto query = make_query(std::move(host), once);
    query->fail = [once](std::exception_ptr e) { (*once)(std::move(e), {}); };
    query->addrinfo_ok = std::move(ok);
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = ARES_AI_NOSORT;  // the order is ours (collect); no probing sockets to sort
    // c-ares owns a reference until its callback, which it calls exactly once (on destruction too).
    auto* arg = new std::shared_ptr<Query>(query);
    ares_getaddrinfo(channel_, query->host.c_str(), nullptr, &hints, &Impl::on_addrinfo, arg);
    schedule_timeout();
  }

  static void deliver_literal(astmrf::detail::Once<Signature>& once, const Address& address) {
    once(nullptr, Addresses{address});
  }
  static void deliver_literal(astmrf::detail::Once<RecordsSignature>& once, const Address& address) {
    once(nullptr, std::vector<AddressRecord>{{address, std::chrono::seconds(0)}});
  }

  template <typename OnceT>
  void query(std::string name, int type, const std::shared_ptr<OnceT>& once,
             std::function<int(const unsigned char*, int)> ok) {
    if (name.empty()) {
      (*once)(std::make_exception_ptr(ResolveError(name, "empty name")), {}, {});
      return;
    }
    auto q = make_query(std::move(name), once);
    q->fail = [once](std::exception_ptr e) { (*once)(std::move(e), {}, {}); };
    q->answer_ok = std::move(ok);
    auto* arg = new std::shared_ptr<Query>(q);
    ares_query(channel_, q->host.c_str(), kClassIn, type, &Impl::on_answer, arg);
    schedule_timeout();
  }

  // Ends a query on a c-ares status; false when it was handled (ended) here.
  static bool ended(Query& query, int status) {
    query.deadline.cancel();
    if (query.done()) return true;  // cancelled or timed out earlier
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
      query.abort();
      return true;
    }
    if (status != ARES_SUCCESS) {
      query.fail(std::make_exception_ptr(ResolveError(query.host, ares_strerror(status), is_not_found(status))));
      return true;
    }
    return false;
  }

  static void on_addrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
    std::unique_ptr<std::shared_ptr<Query>> holder(static_cast<std::shared_ptr<Query>*>(arg));
    std::unique_ptr<ares_addrinfo, decltype(&ares_freeaddrinfo)> owned(result, &ares_freeaddrinfo);
    auto& query = **holder;
    if (ended(query, status)) return;
    ended(query, query.addrinfo_ok(result));
  }

  static void on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<std::shared_ptr<Query>> holder(static_cast<std::shared_ptr<Query>*>(arg));
    auto& query = **holder;
    if (ended(query, status)) return;
    ended(query, query.answer_ok(abuf, alen));
  }

  // One c-ares socket. The descriptor does not own the fd: c-ares closes it, after release().
  struct Watch {
    Watch(const asio::any_io_executor& executor, int fd) : descriptor(executor, fd) {}
    asio::posix::stream_descriptor descriptor;
    bool want_read = false;
    bool want_write = false;
    bool reading = false;  // an async_wait(wait_read) is in flight
    bool writing = false;
    bool closed = false;  // released: its late completions must not reach c-ares
  };

  // c-ares's socket-state callback: which directions to watch on `fd`; neither means the socket
  // is about to be closed.
  static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Impl*>(data);
    auto it = self->watches_.find(fd);
    if (readable == 0 && writable == 0) {
      if (it != self->watches_.end()) {
        close_watch(*it->second);
        self->watches_.erase(it);
      }
      return;
    }
    if (it == self->watches_.end()) {
      it = self->watches_.emplace(fd, std::make_shared<Watch>(self->executor_, fd)).first;
    }
    it->second->want_read = readable != 0;
    it->second->want_write = writable != 0;
    self->arm(it->second);
  }

  static void close_watch(Watch& watch) {
    watch.closed = true;
    boost::system::error_code ignored;
    watch.descriptor.cancel(ignored);
    static_cast<void>(watch.descriptor.release());  // not ours to close
  }

  void arm(const std::shared_ptr<Watch>& watch) {
    std::weak_ptr<Impl> weak = weak_from_this();
    if (watch->want_read && !watch->reading) {
      watch->reading = true;
      watch->descriptor.async_wait(asio::posix::descriptor_base::wait_read,
                                   [weak, watch](boost::system::error_code ec) {
                                     watch->reading = false;
                                     auto self = weak.lock();
                                     if (ec || !self || watch->closed) return;
                                     self->ready(watch, true);
                                   });
    }
    if (watch->want_write && !watch->writing) {
      watch->writing = true;
      watch->descriptor.async_wait(asio::posix::descriptor_base::wait_write,
                                   [weak, watch](boost::system::error_code ec) {
                                     watch->writing = false;
                                     auto self = weak.lock();
                                     if (ec || !self || watch->closed) return;
                                     self->ready(watch, false);
                                   });
    }
  }

  void ready(const std::shared_ptr<Watch>& watch, bool read) {
    const auto fd = watch->descriptor.native_handle();
    if (read ? watch->want_read : watch->want_write) {
      ares_process_fd(channel_, read ? fd : ARES_SOCKET_BAD, read ? ARES_SOCKET_BAD : fd);
    }
    if (!watch->closed) arm(watch);  // still wanted (on_socket_state may have changed what)
    schedule_timeout();
  }

  // The timer follows c-ares's next deadline (a retry, a timeout); none pending: no wait.
  void schedule_timeout() {
    timeval tv{};
    const timeval* next = ares_timeout(channel_, nullptr, &tv);
    if (next == nullptr) {
      timer_.cancel();
      return;
    }
    timer_.expires_after(std::chrono::seconds(next->tv_sec) + std::chrono::microseconds(next->tv_usec));
    std::weak_ptr<Impl> weak = weak_from_this();
    timer_.async_wait([weak](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      self->schedule_timeout();
    });
  }

  asio::any_io_executor executor_;
  ResolverOptions options_;
  ares_channel channel_ = nullptr;
  asio::steady_timer timer_;
  std::map<ares_socket_t, std::shared_ptr<Watch>> watches_;
  std::chrono::milliseconds lookup_deadline_{};
};

Resolver::Resolver(asio::any_io_executor executor, ResolverOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

Resolver::~Resolver() = default;

const asio::any_io_executor& Resolver::get_executor() const noexcept { return impl_->executor(); }

void Resolver::start_resolve(std::string host, Handler handler) { impl_->resolve(std::move(host), std::move(handler)); }

void Resolver::start_resolve_records(std::string host, asio::any_completion_handler<RecordsSignature> handler) {
  impl_->resolve_records(std::move(host), std::move(handler));
}

void Resolver::start_query_srv(std::string name, asio::any_completion_handler<SrvSignature> handler) {
  impl_->query_srv(std::move(name), std::move(handler));
}

void Resolver::start_query_naptr(std::string name, asio::any_completion_handler<NaptrSignature> handler) {
  impl_->query_naptr(std::move(name), std::move(handler));
}

}  // namespace astmrf::util
