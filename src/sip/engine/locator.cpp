// RFC 3263 section 4 on util::Resolver. The steps, each answer cached for its TTL:
//   1. transport: the explicit one; else with an IP or a port, UDP (TLS for sips); else the
//      NAPTR records of the host (SIP+D2U, SIP+D2T, SIPS+D2T, kept when the engine has the
//      transport; sips keeps SIPS only), else SRV queries for the transports the engine has;
//   2. SRV (no explicit port, not an IP): the records, RFC 2782 ordered, each target's
//      addresses in turn; none: the host's own addresses on the default port;
//   3. A/AAAA: IPv4 first.
#include "locator.hpp"

#include <astmrf/sip/uri.hpp>
#include <astmrf/util/ascii.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <random>
#include <utility>

namespace astmrf::sip::detail {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

using util::iends_with;
using util::iequals;

std::optional<asio::ip::address> ip_of(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(std::string(host), ec);
  if (ec) return std::nullopt;
  return address;
}

std::uint16_t default_port(Transport transport) {
  switch (transport) {
    case Transport::tls: return 5061;
    case Transport::ws: return 80;  // RFC 7118: the WebSocket URI's default
    case Transport::wss: return 443;
    default: return 5060;
  }
}

// The SRV name of a transport (RFC 3263 4.1); none for WebSocket (RFC 7118 defines no SRV).
std::optional<std::string> srv_prefix(Transport transport) {
  switch (transport) {
    case Transport::udp: return "_sip._udp.";
    case Transport::tcp: return "_sip._tcp.";
    case Transport::tls: return "_sips._tcp.";
    default: return std::nullopt;
  }
}

std::optional<Transport> naptr_transport(std::string_view service) {
  if (iequals(service, "SIP+D2U")) return Transport::udp;
  if (iequals(service, "SIP+D2T")) return Transport::tcp;
  if (iequals(service, "SIPS+D2T")) return Transport::tls;
  return std::nullopt;
}

}  // namespace

bool is_invalid_host(std::string_view host) {
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return iequals(host, "invalid") || iends_with(host, ".invalid");
}

std::optional<LocateRequest> locate_request_from_uri(std::string_view text) {
  auto uri = parse_uri(text);
  if (!uri || (uri->scheme != UriScheme::sip && uri->scheme != UriScheme::sips)) return std::nullopt;
  if (uri->host_kind == HostKind::none || uri->host.empty()) return std::nullopt;
  LocateRequest out;
  out.host = std::string(uri->host);
  if (uri->has_port) out.port = uri->port;
  out.secure = uri->scheme == UriScheme::sips;
  if (auto name = uri->param("transport")) {
    if (auto transport = transport_from_name(*name)) {
      // RFC 3261 26.2: sips is TLS on every hop; a transport=tcp on it means TLS over TCP.
      if (!out.secure) out.transport = *transport;
      if (out.secure && (*transport == Transport::wss)) out.transport = Transport::wss;
    }
  }
  if (out.secure && !out.transport) out.transport = Transport::tls;
  return out;
}

std::optional<LocateRequest> locate_request_from_destination(std::string_view text) {
  if (iends_with(text.substr(0, std::min<std::size_t>(text.size(), 4)), "sip:") ||
      iends_with(text.substr(0, std::min<std::size_t>(text.size(), 5)), "sips:")) {
    return locate_request_from_uri(text);
  }
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto transport = transport_from_name(text.substr(0, colon));
  if (!transport) return std::nullopt;
  LocateRequest out;
  out.transport = *transport;
  out.secure = is_secure(*transport);
  std::string_view rest = text.substr(colon + 1);
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else if (std::count(rest.begin(), rest.end(), ':') > 1) {
    return std::nullopt;  // a bare IPv6 address with a port is ambiguous: brackets needed
  } else {
    const auto c = rest.find(':');
    out.host = std::string(rest.substr(0, c));
    if (c != std::string_view::npos) {
      port = rest.substr(c + 1);
      if (port.empty()) return std::nullopt;
    }
  }
  if (out.host.empty()) return std::nullopt;
  if (!port.empty()) {
    std::uint32_t value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) return std::nullopt;
    out.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

std::vector<util::SrvRecord> order_srv(std::vector<util::SrvRecord> records, util::Random& random) {
  std::erase_if(records, [](const util::SrvRecord& r) { return r.target.empty() || r.target == "."; });
  std::stable_sort(records.begin(), records.end(),
                   [](const util::SrvRecord& a, const util::SrvRecord& b) { return a.priority < b.priority; });
  std::vector<util::SrvRecord> out;
  out.reserve(records.size());
  for (auto begin = records.begin(); begin != records.end();) {
    const auto end =
        std::find_if(begin, records.end(), [p = begin->priority](const util::SrvRecord& r) { return r.priority != p; });
    std::vector<util::SrvRecord> group(begin, end);
    // RFC 2782: weight-0 records first, then draw by running sums until the group is empty.
    std::stable_partition(group.begin(), group.end(), [](const util::SrvRecord& r) { return r.weight == 0; });
    while (!group.empty()) {
      std::uint32_t total = 0;
      for (const auto& r : group) total += r.weight;
      const std::uint32_t pick = std::uniform_int_distribution<std::uint32_t>(0, total)(random);
      std::uint32_t running = 0;
      auto chosen = group.begin();
      for (auto it = group.begin(); it != group.end(); ++it) {
        running += it->weight;
        if (running >= pick) {
          chosen = it;
          break;
        }
      }
      out.push_back(std::move(*chosen));
      group.erase(chosen);
    }
    begin = end;
  }
  return out;
}

// ------------------------------------------------------------------ the locator

struct Locator::Impl : std::enable_shared_from_this<Locator::Impl> {
  template <typename T>
  struct Entry {
    std::vector<T> records;
    Clock::time_point expires;
  };
  // What a lookup step hands on: records, or why there are none.
  template <typename T>
  struct Answer {
    std::vector<T> records;
    std::string error;
    bool not_found{false};
  };

  Impl(asio::any_io_executor e, util::ResolverOptions o, TransportSet a)
      : executor(std::move(e)), options(std::move(o)), available(a) {}

  asio::any_io_executor executor;
  util::ResolverOptions options;
  TransportSet available;
  std::unique_ptr<util::Resolver> resolver;  // made at the first lookup
  util::Random random;
  std::map<std::string, Entry<util::AddressRecord>> addresses;
  std::map<std::string, Entry<util::SrvRecord>> srv;
  std::map<std::string, Entry<util::NaptrRecord>> naptr;

  static constexpr std::size_t kMaxEntries = 4096;  // per table: a bound on memory, not a tuning knob

  bool has(Transport t) const { return available[static_cast<std::size_t>(t)]; }

  util::Resolver& dns() {
    if (!resolver) resolver = std::make_unique<util::Resolver>(executor, options);
    return *resolver;
  }

  template <typename T>
  static bool cached(std::map<std::string, Entry<T>>& table, const std::string& key, Answer<T>& out) {
    auto it = table.find(key);
    if (it == table.end()) return false;
    if (Clock::now() >= it->second.expires) {
      table.erase(it);  // expired: asked again
      return false;
    }
    out.records = it->second.records;
    return true;
  }

  template <typename T>
  static void store(std::map<std::string, Entry<T>>& table, const std::string& key, const std::vector<T>& records,
                    std::chrono::seconds ttl) {
    if (ttl.count() <= 0) return;  // "do not keep"
    if (table.size() >= kMaxEntries) {
      const auto now = Clock::now();
      std::erase_if(table, [now](const auto& kv) { return now >= kv.second.expires; });
      if (table.size() >= kMaxEntries) table.clear();
    }
    table[key] = Entry<T>{records, Clock::now() + ttl};
  }

  static void describe(const std::exception_ptr& error, std::string& text, bool& not_found) {
    try {
      std::rethrow_exception(error);
    } catch (const util::ResolveError& e) {
      text = e.what();
      not_found = e.not_found();
    } catch (const std::exception& e) {
      text = e.what();
    }
  }

  // Each step completes on the executor, also when cached (posted), with the Impl alive.
  template <typename T>
  void post_answer(std::function<void(Answer<T>)> done, Answer<T> answer) {
    asio::post(executor, [weak = weak_from_this(), done = std::move(done), answer = std::move(answer)]() mutable {
      if (weak.lock()) done(std::move(answer));
    });
  }

  void lookup_addresses(const std::string& host, std::function<void(Answer<util::AddressRecord>)> done) {
    Answer<util::AddressRecord> answer;
    if (cached(addresses, host, answer)) {
      post_answer(std::move(done), std::move(answer));
      return;
    }
    dns().async_resolve_records(host, [weak = weak_from_this(), host, done = std::move(done)](
                                          std::exception_ptr error, std::vector<util::AddressRecord> records) {
      auto self = weak.lock();
      if (!self) return;
      Answer<util::AddressRecord> a;
      if (error) {
        describe(error, a.error, a.not_found);
      } else {
        auto ttl = records.front().ttl;
        for (const auto& r : records) ttl = std::min(ttl, r.ttl);
        store(self->addresses, host, records, ttl);
        a.records = std::move(records);
      }
      done(std::move(a));
    });
  }

  template <typename T, typename Start>
  void lookup_set(std::map<std::string, Entry<T>>& table, const std::string& name, Start start,
                  std::function<void(Answer<T>)> done) {
    Answer<T> answer;
    if (cached(table, name, answer)) {
      post_answer(std::move(done), std::move(answer));
      return;
    }
    start(name, [weak = weak_from_this(), &table, name, done = std::move(done)](
                    std::exception_ptr error, std::vector<T> records, std::chrono::seconds ttl) {
      auto self = weak.lock();
      if (!self) return;  // `table` is gone with it
      Answer<T> a;
      if (error) {
        describe(error, a.error, a.not_found);
      } else {
        store(table, name, records, ttl);
        a.records = std::move(records);
      }
      done(std::move(a));
    });
  }

  void lookup_srv(const std::string& name, std::function<void(Answer<util::SrvRecord>)> done) {
    lookup_set(
        srv, name, [this](const std::string& n, auto handler) { dns().async_query_srv(n, std::move(handler)); },
        std::move(done));
  }

  void lookup_naptr(const std::string& name, std::function<void(Answer<util::NaptrRecord>)> done) {
    lookup_set(
        naptr, name, [this](const std::string& n, auto handler) { dns().async_query_naptr(n, std::move(handler)); },
        std::move(done));
  }

  // ---- the steps

  struct Job {
    LocateRequest request;
    Handler handler;
    std::string server_name;  // TLS: the URI's host (RFC 5922 4.1), never a DNS answer
  };

  static PeerAddress target(const Job& job, Transport transport, const asio::ip::address& address, std::uint16_t port) {
    PeerAddress out;
    out.transport = transport;
    out.address = address;
    out.port = port;
    if (is_secure(transport)) out.server_name = job.server_name;
    return out;
  }

  Transport default_transport(const LocateRequest& request) const {
    if (request.secure) return Transport::tls;
    return has(Transport::udp) ? Transport::udp : Transport::tcp;
  }

  void locate(LocateRequest request, Handler handler) {
    auto job = std::make_shared<Job>();
    job->server_name = request.host;
    while (!job->server_name.empty() && job->server_name.back() == '.') job->server_name.pop_back();
    job->request = std::move(request);
    job->handler = std::move(handler);
    const auto& r = job->request;
    if (is_invalid_host(r.host)) {
      fail(job, "'" + r.host + "' is an .invalid host (reached only over the connection it came on)", true);
      return;
    }
    if (ip_of(r.host) || r.port) {  // RFC 3263 4.1/4.2: no NAPTR, no SRV
      const Transport transport = r.transport ? *r.transport : default_transport(r);
      by_address(job, r.host, transport, r.port ? *r.port : default_port(transport));
      return;
    }
    if (r.transport) {
      if (auto prefix = srv_prefix(*r.transport)) {
        by_srv(job, {{*r.transport, *prefix + r.host}}, 0);
      } else {
        by_address(job, r.host, *r.transport, default_port(*r.transport));
      }
      return;
    }
    lookup_naptr(r.host, [weak = weak_from_this(), job](Answer<util::NaptrRecord> answer) {
      if (auto self = weak.lock()) self->after_naptr(job, std::move(answer));
    });
  }

  void after_naptr(const std::shared_ptr<Job>& job, Answer<util::NaptrRecord> answer) {
    std::vector<std::pair<Transport, std::string>> candidates;
    auto& records = answer.records;
    std::stable_sort(records.begin(), records.end(), [](const util::NaptrRecord& a, const util::NaptrRecord& b) {
      return a.order != b.order ? a.order < b.order : a.preference < b.preference;
    });
    for (const auto& n : records) {
      auto transport = naptr_transport(n.service);
      if (!transport || !has(*transport) || !iequals(n.flags, "s") || n.replacement.empty()) continue;
      if (job->request.secure && *transport != Transport::tls) continue;
      candidates.emplace_back(*transport, n.replacement);
    }
    if (candidates.empty()) {  // RFC 3263 4.1: no usable NAPTR: SRV per transport we have
      const auto& host = job->request.host;
      if (job->request.secure) {
        if (has(Transport::tls)) candidates.emplace_back(Transport::tls, "_sips._tcp." + host);
      } else {
        for (Transport t : {Transport::udp, Transport::tcp, Transport::tls}) {
          if (has(t)) candidates.emplace_back(t, *srv_prefix(t) + host);
        }
      }
    }
    by_srv(job, std::move(candidates), 0);
  }

  // Tries the SRV names in turn: the first with records gives the targets; none: the host's
  // addresses on the default port (RFC 3263 4.2).
  void by_srv(const std::shared_ptr<Job>& job, std::vector<std::pair<Transport, std::string>> candidates,
              std::size_t index) {
    if (index >= candidates.size()) {
      const Transport transport = job->request.transport ? *job->request.transport : default_transport(job->request);
      by_address(job, job->request.host, transport, default_port(transport));
      return;
    }
    const auto name = candidates[index].second;
    lookup_srv(name, [weak = weak_from_this(), job, candidates = std::move(candidates),
                      index](Answer<util::SrvRecord> answer) mutable {
      auto self = weak.lock();
      if (!self) return;
      auto ordered = order_srv(std::move(answer.records), self->random);
      if (ordered.empty()) {
        self->by_srv(job, std::move(candidates), index + 1);
        return;
      }
      self->srv_targets(job, candidates[index].first, std::move(ordered));
    });
  }

  // Every SRV target's addresses, looked up at once, kept in the SRV order.
  void srv_targets(const std::shared_ptr<Job>& job, Transport transport, std::vector<util::SrvRecord> records) {
    struct Gather {
      std::vector<util::SrvRecord> records;
      std::vector<std::vector<util::AddressRecord>> found;
      std::size_t pending{0};
      std::string error;
      bool not_found{true};
    };
    auto gather = std::make_shared<Gather>();
    gather->records = std::move(records);
    gather->found.resize(gather->records.size());
    gather->pending = gather->records.size();
    for (std::size_t i = 0; i < gather->records.size(); ++i) {
      lookup_addresses(gather->records[i].target, [weak = weak_from_this(), job, gather, transport,
                                                   i](Answer<util::AddressRecord> answer) {
        auto self = weak.lock();
        if (!self) return;
        if (!answer.error.empty()) {
          gather->error = answer.error;
          gather->not_found = gather->not_found && answer.not_found;
        }
        gather->found[i] = std::move(answer.records);
        if (--gather->pending != 0) return;
        Result result;
        for (std::size_t k = 0; k < gather->records.size(); ++k) {
          for (const auto& a : gather->found[k]) {
            result.targets.push_back(target(*job, transport, a.address, gather->records[k].port));
          }
        }
        if (result.targets.empty()) {
          self->fail(job, "no address for any SRV target of '" + job->request.host + "' (" + gather->error + ")",
                     gather->not_found);
          return;
        }
        job->handler(std::move(result));
      });
    }
  }

  void by_address(const std::shared_ptr<Job>& job, const std::string& host, Transport transport, std::uint16_t port) {
    if (auto ip = ip_of(host)) {
      Result result;
      result.targets.push_back(target(*job, transport, *ip, port));
      asio::post(executor, [weak = weak_from_this(), job, result = std::move(result)]() mutable {
        if (weak.lock()) job->handler(std::move(result));
      });
      return;
    }
    lookup_addresses(host, [weak = weak_from_this(), job, transport, port](Answer<util::AddressRecord> answer) {
      auto self = weak.lock();
      if (!self) return;
      if (answer.records.empty()) {
        self->fail(job, answer.error, answer.not_found);
        return;
      }
      Result result;
      for (const auto& a : answer.records) result.targets.push_back(target(*job, transport, a.address, port));
      job->handler(std::move(result));
    });
  }

  void fail(const std::shared_ptr<Job>& job, std::string error, bool not_found) {
    Result result;
    result.error = std::move(error);
    result.not_found = not_found;
    asio::post(executor, [weak = weak_from_this(), job, result = std::move(result)]() mutable {
      if (weak.lock()) job->handler(std::move(result));
    });
  }
};

Locator::Locator(asio::any_io_executor executor, util::ResolverOptions options, TransportSet available)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options), available)) {}

Locator::~Locator() = default;

void Locator::locate(LocateRequest request, Handler handler) { impl_->locate(std::move(request), std::move(handler)); }

std::size_t Locator::cache_size() const { return impl_->addresses.size() + impl_->srv.size() + impl_->naptr.size(); }

}  // namespace astmrf::sip::detail
