#include <astmrf/sip/header_id.hpp>
#include <astmrf/sip/message.hpp>
#include <astmrf/srf/registrar.hpp>
#include <astmrf/util/ascii.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <deque>
#include <unordered_map>
#include <variant>

namespace astmrf::srf {

namespace {

using Clock = std::chrono::system_clock;
using sip::iequals;

// RFC 3261 19.1.4, simplified: scheme and host case-insensitive, user exact (unescaped),
// parameters case-insensitive and order-free.
std::string contact_key(const sip::Uri& uri) {
  std::string key = util::to_lower(uri.scheme_text) + ":" + sip::unescape(uri.user) + "@" + util::to_lower(uri.host) +
                    ":" + std::to_string(uri.port);
  std::vector<std::string> params;
  for (const auto& p : uri.param_list()) params.push_back(util::to_lower(p.name) + "=" + util::to_lower(p.value));
  std::sort(params.begin(), params.end());
  for (const auto& p : params) key += ";" + p;
  return key;
}

// q = "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ], in thousandths.
std::optional<int> parse_q(std::string_view v) {
  if (v.empty() || (v[0] != '0' && v[0] != '1')) return std::nullopt;
  int whole = v[0] - '0';
  int frac = 0;
  if (v.size() > 1) {
    if (v[1] != '.' || v.size() > 5) return std::nullopt;
    int scale = 100;
    for (std::size_t i = 2; i < v.size(); ++i, scale /= 10) {
      if (!std::isdigit(static_cast<unsigned char>(v[i]))) return std::nullopt;
      frac += (v[i] - '0') * scale;
    }
  }
  const int q = whole * 1000 + frac;
  if (q > 1000) return std::nullopt;
  return q;
}

std::string unquoted(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return sip::unquote(v.substr(1, v.size() - 2));
  return std::string(v);
}

std::string http_date(Clock::time_point t) {
  const std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

bool live(const Binding& b, Clock::time_point now) { return b.expires_at > now; }

// One parsed Contact of a REGISTER, owning its text.
struct NewContact {
  std::string uri;
  std::string key;
  std::string params;
  int q{1000};
  std::uint32_t expires{0};
  std::string instance_id;
  std::optional<std::uint32_t> reg_id;
};

// Everything of a REGISTER the registrar needs, copied out of the message.
struct Parsed {
  std::string aor;
  std::string call_id;
  std::uint32_t cseq{0};
  bool star{false};
  std::vector<NewContact> contacts;
  std::vector<std::string> path;
  bool supports_path{false};
  std::string source;
};

RegisterReply error_reply(int status, std::string reason) { return RegisterReply{status, std::move(reason), {}}; }

// The user part of a normalised AOR ("sip:alice@host" → "alice", "tel:+123" → "+123").
std::string_view aor_user(std::string_view aor) {
  const auto colon = aor.find(':');
  if (colon == std::string_view::npos) return {};
  const auto rest = aor.substr(colon + 1);
  if (aor.substr(0, colon) == "tel") return rest;
  const auto at = rest.find('@');
  return at == std::string_view::npos ? std::string_view{} : rest.substr(0, at);
}

// Parses and checks a REGISTER (RFC 3261 10.3 steps 1 to 3, 5, 6 and the 423 check of 7);
// a reply when it is refused.
std::variant<Parsed, RegisterReply> parse_register(const sip::Message& msg, const RegistrarOptions& options,
                                                   std::string_view authenticated_user) {
  Parsed p;
  // Step 1: a domain of ours.
  if (!options.domains.empty()) {
    auto target = sip::parse_uri(msg.request_uri());
    const bool ours =
        target && std::any_of(options.domains.begin(), options.domains.end(),
                              [&](const std::string& domain) { return util::iequals(target->host, domain); });
    if (!ours) return error_reply(404, "Domain Not Served");
  }
  // Step 2: Require with extensions we do not know.
  if (msg.has(sip::HeaderId::require)) {
    std::string unsupported;
    for (auto v : msg.values(sip::HeaderId::require)) {
      if (iequals(v, "path")) continue;
      unsupported += (unsupported.empty() ? "" : ", ") + std::string(v);
    }
    if (!unsupported.empty()) {
      RegisterReply r = error_reply(420, "Bad Extension");
      r.headers.emplace_back("Unsupported", unsupported);
      return r;
    }
  }
  auto to = msg.to();
  if (!to) return error_reply(400, "Malformed To");
  auto aor = Registrar::normalise_aor(to->uri_text);
  if (!aor) return error_reply(416, "Unsupported URI Scheme");
  p.aor = *aor;
  // Step 3: the authenticated user may change this AOR's bindings.
  if (!authenticated_user.empty()) {
    const bool allowed =
        options.authorize ? options.authorize(authenticated_user, p.aor) : aor_user(p.aor) == authenticated_user;
    if (!allowed) return error_reply(403, "Not Allowed For This Address Of Record");
  }
  p.call_id = std::string(msg.call_id());
  if (p.call_id.empty()) return error_reply(400, "Missing Call-ID");
  auto cseq = msg.cseq();
  if (!cseq) return error_reply(400, "Malformed CSeq");
  p.cseq = cseq->number;

  std::optional<std::uint32_t> header_expires;
  if (msg.has(sip::HeaderId::expires)) {
    auto e = msg.expires();
    if (!e) return error_reply(400, "Malformed Expires");
    header_expires = *e;
  }
  for (auto v : msg.values(sip::HeaderId::supported)) {
    if (iequals(v, "path")) p.supports_path = true;
  }
  for (const auto& h : msg.headers()) {
    if (!iequals(h.name, "Path")) continue;
    for (auto v : sip::split_list(h.value)) {
      if (!sip::parse_name_addr(v)) return error_reply(400, "Malformed Path");
      p.path.emplace_back(v);
    }
  }

  if (!msg.has(sip::HeaderId::contact)) return p;  // a query
  auto contacts = msg.contacts();
  if (!contacts) return error_reply(400, "Malformed Contact");
  if (contacts->star) {
    // Step 6: `*` only alone and with Expires: 0.
    if (!contacts->contacts.empty() || msg.count(sip::HeaderId::contact) > 1) {
      return error_reply(400, "Wildcard Contact with other contacts");
    }
    if (!header_expires || *header_expires != 0) return error_reply(400, "Wildcard Contact needs Expires: 0");
    p.star = true;
    return p;
  }
  const auto default_expires = static_cast<std::uint32_t>(options.default_expires.count());
  const auto max_expires = static_cast<std::uint32_t>(options.max_expires.count());
  const auto min_expires = static_cast<std::uint32_t>(options.min_expires.count());
  bool too_brief = false;
  for (const auto& c : contacts->contacts) {
    if (c.uri.scheme != sip::UriScheme::sip && c.uri.scheme != sip::UriScheme::sips &&
        c.uri.scheme != sip::UriScheme::tel) {
      return error_reply(400, "Malformed Contact: unsupported URI scheme");
    }
    if (c.uri.scheme != sip::UriScheme::tel && c.uri.host.empty())
      return error_reply(400, "Malformed Contact: no host");
    NewContact n;
    n.uri = std::string(c.uri_text);
    n.key = contact_key(c.uri);
    n.expires = header_expires.value_or(default_expires);
    for (const auto& param : c.params) {
      if (iequals(param.name, "expires")) {
        auto e = sip::parse_uint32(param.value);
        if (!e) return error_reply(400, "Malformed Contact: bad expires");
        n.expires = *e;
        continue;  // echoed with the granted value instead
      }
      if (iequals(param.name, "q")) {
        auto q = parse_q(param.value);
        if (!q) return error_reply(400, "Malformed Contact: bad q");
        n.q = *q;
      } else if (iequals(param.name, "+sip.instance")) {
        n.instance_id = unquoted(param.value);
      } else if (iequals(param.name, "reg-id")) {
        auto id = sip::parse_uint32(param.value);
        if (!id) return error_reply(400, "Malformed Contact: bad reg-id");
        n.reg_id = *id;
      }
      n.params += ";" + std::string(param.name);
      if (param.has_value) n.params += "=" + std::string(param.value);
    }
    if (n.expires != 0 && n.expires < min_expires) too_brief = true;
    n.expires = std::min(n.expires, max_expires);
    p.contacts.push_back(std::move(n));
  }
  if (too_brief) {
    // Step 7: nothing is stored; the UA retries with at least Min-Expires.
    RegisterReply r = error_reply(423, "Interval Too Brief");
    r.headers.emplace_back("Min-Expires", std::to_string(min_expires));
    return r;
  }
  return p;
}

bool same_binding(const Binding& b, const NewContact& n, const std::string& key_of_b) {
  // RFC 5626: an instance (with its reg-id) names the binding, whatever its URI.
  if (!n.instance_id.empty() && !b.instance_id.empty()) return b.instance_id == n.instance_id && b.reg_id == n.reg_id;
  return key_of_b == n.key;
}

std::string binding_key(const Binding& b) {
  auto uri = sip::parse_uri(b.contact);
  return uri ? contact_key(*uri) : b.contact;
}

// A store may complete on its own thread: continue on the registrar's executor.
template <typename F>
auto on_executor(const boost::asio::any_io_executor& executor, F f) {
  return [executor, f = std::move(f)](auto... args) mutable {
    boost::asio::dispatch(executor, [f, ... a = std::move(args)]() mutable { f(std::move(a)...); });
  };
}

}  // namespace

void MemoryRegistrationStore::get(const std::string& aor, GetHandler done) {
  std::vector<Binding> result;
  if (auto it = bindings_.find(aor); it != bindings_.end()) result = it->second;
  boost::asio::post(executor_, [d = std::move(done), r = std::move(result)]() mutable { d(nullptr, std::move(r)); });
}

void MemoryRegistrationStore::put(const std::string& aor, std::vector<Binding> bindings, PutHandler done) {
  if (bindings.empty()) {
    bindings_.erase(aor);
  } else {
    bindings_[aor] = std::move(bindings);
  }
  boost::asio::post(executor_, [d = std::move(done)]() mutable { d(nullptr); });
}

struct Registrar::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::any_io_executor ex, RegistrarOptions o, std::shared_ptr<RegistrationStore> s)
      : executor(std::move(ex)), options(o), store(std::move(s)), changes(executor) {}

  boost::asio::any_io_executor executor;
  RegistrarOptions options;
  std::shared_ptr<RegistrationStore> store;
  astmrf::detail::Signal<BindingChange> changes;
  // Operations on one AOR run one after the other: a read-modify-write on an async store.
  using Op = std::function<void(std::function<void()> finished)>;
  std::unordered_map<std::string, std::deque<Op>> queues;
  // One timer per AOR with bindings, set to its earliest expiry.
  std::unordered_map<std::string, std::unique_ptr<boost::asio::steady_timer>> timers;
  bool closed{false};

  void serialise(const std::string& aor, Op op) {
    auto& q = queues[aor];
    q.push_back(std::move(op));
    if (q.size() == 1) run_next(aor);
  }

  void run_next(const std::string& aor) {
    auto it = queues.find(aor);
    if (it == queues.end() || it->second.empty()) return;
    std::weak_ptr<Impl> weak = weak_from_this();
    auto op = it->second.front();
    op([weak, aor] {
      auto self = weak.lock();
      if (!self) return;
      auto i = self->queues.find(aor);
      if (i == self->queues.end()) return;
      i->second.pop_front();
      if (i->second.empty()) {
        self->queues.erase(i);
      } else {
        self->run_next(aor);
      }
    });
  }

  void emit(const std::string& aor, const Binding& b, BindingChangeKind kind) {
    changes.emit(BindingChange{aor, b, kind});
  }

  // The store failed while expiring: try again in a second.
  void retry_expiry(const std::string& aor) {
    Binding later;
    later.expires_at = Clock::now() + std::chrono::seconds(1);
    schedule_expiry(aor, {later});
  }

  void schedule_expiry(const std::string& aor, const std::vector<Binding>& bindings) {
    if (closed) return;
    if (bindings.empty()) {
      timers.erase(aor);
      return;
    }
    auto earliest = std::min_element(bindings.begin(), bindings.end(), [](const Binding& a, const Binding& b) {
                      return a.expires_at < b.expires_at;
                    })->expires_at;
    auto& timer = timers[aor];
    if (!timer) timer = std::make_unique<boost::asio::steady_timer>(executor);
    const auto wait = std::max(Clock::duration::zero(), earliest - Clock::now());
    timer->expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait) +
                         std::chrono::milliseconds(1));
    std::weak_ptr<Impl> weak = weak_from_this();
    timer->async_wait([weak, aor](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed) return;
      self->expire(aor);
    });
  }

  void expire(const std::string& aor) {
    std::weak_ptr<Impl> weak = weak_from_this();
    serialise(aor, [weak, aor](std::function<void()> finished) {
      auto self = weak.lock();
      if (!self) return;
      self->store->get(aor, on_executor(self->executor, [weak, aor, finished](std::exception_ptr error,
                                                                              std::vector<Binding> bindings) {
                         auto me = weak.lock();
                         if (!me) return;
                         if (error) {
                           me->retry_expiry(aor);
                           finished();
                           return;
                         }
                         const auto now = Clock::now();
                         std::vector<Binding> kept;
                         std::vector<Binding> gone;
                         for (auto& b : bindings) (live(b, now) ? kept : gone).push_back(std::move(b));
                         if (gone.empty()) {
                           me->schedule_expiry(aor, kept);
                           finished();
                           return;
                         }
                         auto kept_copy = kept;
                         me->store->put(aor, std::move(kept),
                                        on_executor(me->executor, [weak, aor, finished, gone = std::move(gone),
                                                                   kept = std::move(kept_copy)](std::exception_ptr e) {
                                          auto me2 = weak.lock();
                                          if (!me2) return;
                                          if (e) {
                                            me2->retry_expiry(aor);
                                            finished();
                                            return;
                                          }
                                          me2->schedule_expiry(aor, kept);
                                          finished();
                                          for (const auto& b : gone) me2->emit(aor, b, BindingChangeKind::expired);
                                        }));
                       }));
    });
  }

  // Step 7 and 8 on the AOR's current bindings.
  void apply(Parsed p, std::function<void(RegisterReply)> done) {
    std::weak_ptr<Impl> weak = weak_from_this();
    const std::string aor = p.aor;
    serialise(aor, [weak, p = std::move(p), done = std::move(done)](std::function<void()> finished) mutable {
      auto self = weak.lock();
      if (!self) return;
      const std::string key = p.aor;
      self->store->get(key,
                       on_executor(self->executor, [weak, p = std::move(p), done = std::move(done), finished](
                                                       std::exception_ptr error, std::vector<Binding> current) mutable {
                         auto me = weak.lock();
                         if (!me) return;
                         if (error) {
                           done(error_reply(500, "Registration store failed"));
                           finished();
                           return;
                         }
                         me->update(std::move(p), std::move(current), std::move(done), std::move(finished));
                       }));
    });
  }

  void update(Parsed p, std::vector<Binding> current, std::function<void(RegisterReply)> done,
              std::function<void()> finished) {
    const auto now = Clock::now();
    std::vector<std::pair<Binding, BindingChangeKind>> events;
    // Expired ones are gone whatever this REGISTER says.
    std::vector<Binding> bindings;
    for (auto& b : current) {
      if (live(b, now)) {
        bindings.push_back(std::move(b));
      } else {
        events.emplace_back(std::move(b), BindingChangeKind::expired);
      }
    }
    auto out_of_order = [&](const Binding& b) { return b.call_id == p.call_id && p.cseq <= b.cseq; };
    const bool modifies = p.star || !p.contacts.empty();
    if (p.star) {
      for (const auto& b : bindings) {
        if (out_of_order(b)) {
          done(error_reply(500, "Out of order REGISTER (CSeq)"));
          finished();
          return;
        }
      }
      for (auto& b : bindings) events.emplace_back(std::move(b), BindingChangeKind::removed);
      bindings.clear();
    }
    std::vector<std::string> seen;  // contacts this REGISTER already set (a contact listed twice)
    for (const auto& n : p.contacts) {
      auto it = std::find_if(bindings.begin(), bindings.end(),
                             [&](const Binding& b) { return same_binding(b, n, binding_key(b)); });
      const bool again = std::find(seen.begin(), seen.end(), n.key) != seen.end();
      seen.push_back(n.key);
      if (it != bindings.end() && !again && out_of_order(*it)) {
        done(error_reply(500, "Out of order REGISTER (CSeq)"));
        finished();
        return;
      }
      if (n.expires == 0) {
        if (it != bindings.end()) {
          events.emplace_back(*it, BindingChangeKind::removed);
          bindings.erase(it);
        }
        continue;
      }
      Binding b;
      b.contact = n.uri;
      b.params = n.params;
      b.q = n.q;
      b.expires_at = now + std::chrono::seconds(n.expires);
      b.call_id = p.call_id;
      b.cseq = p.cseq;
      b.path = p.path;
      b.instance_id = n.instance_id;
      b.reg_id = n.reg_id;
      b.source = p.source;
      if (it == bindings.end()) {
        events.emplace_back(b, BindingChangeKind::added);
        bindings.push_back(std::move(b));
      } else if (binding_key(*it) != n.key) {
        // Same instance, new contact: the old binding is replaced (RFC 5626).
        events.emplace_back(*it, BindingChangeKind::removed);
        events.emplace_back(b, BindingChangeKind::added);
        *it = std::move(b);
      } else {
        events.emplace_back(b, BindingChangeKind::refreshed);
        *it = std::move(b);
      }
    }
    if (options.max_bindings != 0 && bindings.size() > options.max_bindings) {
      done(error_reply(403, "Too many bindings"));
      finished();
      return;
    }
    auto reply = std::make_shared<RegisterReply>();
    reply->status = 200;
    reply->reason = "OK";
    for (const auto& b : bindings) {
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(b.expires_at - now).count();
      reply->headers.emplace_back("Contact", "<" + b.contact + ">" + b.params + ";expires=" + std::to_string(left));
    }
    if (p.supports_path) {
      for (const auto& path : p.path) reply->headers.emplace_back("Path", path);
    }
    reply->headers.emplace_back("Date", http_date(now));
    if (!modifies && events.empty()) {  // a query: nothing to write
      done(std::move(*reply));
      finished();
      return;
    }
    std::weak_ptr<Impl> weak = weak_from_this();
    auto kept = bindings;
    store->put(
        p.aor, std::move(bindings),
        on_executor(executor, [weak, aor = p.aor, kept = std::move(kept), events = std::move(events), reply,
                               done = std::move(done), finished = std::move(finished)](std::exception_ptr error) {
          auto self = weak.lock();
          if (!self) return;
          if (error) {
            done(error_reply(500, "Registration store failed"));
            finished();
            return;
          }
          self->schedule_expiry(aor, kept);
          done(std::move(*reply));
          finished();  // before the callbacks: one that throws must not stall the AOR's queue
          for (const auto& [b, kind] : events) self->emit(aor, b, kind);
        }));
  }
};

Registrar::Registrar(boost::asio::any_io_executor executor, RegistrarOptions options,
                     std::shared_ptr<RegistrationStore> store)
    : impl_(std::make_shared<Impl>(std::move(executor), options, std::move(store))) {}

Registrar::~Registrar() {
  impl_->closed = true;
  impl_->timers.clear();  // cancels the expiry waits
  impl_->changes.close(astmrf::detail::operation_aborted());
}

boost::asio::any_io_executor Registrar::get_executor() const { return impl_->executor; }

astmrf::detail::SignalConnection Registrar::on_change(std::function<void(const BindingChange&)> callback) {
  return impl_->changes.connect(std::move(callback));
}

std::optional<std::string> Registrar::normalise_aor(std::string_view text) {
  auto uri = sip::parse_uri(text);
  if (!uri) return std::nullopt;
  if (uri->scheme == sip::UriScheme::tel) {
    if (uri->user.empty()) return std::nullopt;
    return "tel:" + sip::unescape(uri->user);
  }
  if (uri->scheme != sip::UriScheme::sip && uri->scheme != sip::UriScheme::sips) return std::nullopt;
  if (uri->host.empty()) return std::nullopt;
  std::string aor = "sip:";
  if (!uri->user.empty()) aor += sip::unescape(uri->user) + "@";
  aor += uri->host_kind == sip::HostKind::ipv6 ? "[" + util::to_lower(uri->host) + "]" : util::to_lower(uri->host);
  if (uri->has_port) aor += ":" + std::to_string(uri->port);
  return aor;
}

void Registrar::process(const sip::Message& msg, std::string source, std::function<void(RegisterReply)> done,
                        std::string_view authenticated_user) {
  auto parsed = parse_register(msg, impl_->options, authenticated_user);
  if (auto* reply = std::get_if<RegisterReply>(&parsed)) {
    boost::asio::post(impl_->executor, [d = std::move(done), r = std::move(*reply)]() mutable { d(std::move(r)); });
    return;
  }
  auto& p = std::get<Parsed>(parsed);
  p.source = std::move(source);
  impl_->apply(std::move(p), std::move(done));
}

namespace {
// Answers 503 when the reply never comes (the Registrar went away with the REGISTER queued).
struct PendingReply {
  Response res;
  explicit PendingReply(Response r) : res(std::move(r)) {}
  PendingReply(const PendingReply&) = delete;
  PendingReply& operator=(const PendingReply&) = delete;
  ~PendingReply() {
    try {
      if (!res.finished()) res.send(503, ResponseOptions{"Registrar gone", {}, {}, {}});
    } catch (...) {  // a destructor: nothing more to do
    }
  }
};
}  // namespace

void Registrar::handle(Request req, Response res) {
  auto pending = std::make_shared<PendingReply>(std::move(res));
  process(
      req.msg(), req.source(),
      [req, pending](RegisterReply reply) {
        if (pending->res.finished()) return;
        pending->res.send(reply.status, ResponseOptions{std::move(reply.reason), std::move(reply.headers), {}, {}});
      },
      req.authenticated_user());
}

Handler Registrar::handler() {
  std::weak_ptr<Impl> weak = impl_;
  return [this, weak](Request req, Response res) {
    if (weak.expired()) {
      res.send(503, ResponseOptions{"Registrar gone", {}, {}, {}});
      return;
    }
    handle(std::move(req), std::move(res));
  };
}

void Registrar::start_lookup(std::string aor_or_uri, LookupHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), impl_->executor);
  once->on_cancel();
  auto aor = normalise_aor(aor_or_uri);
  if (!aor) {
    (*once)(std::make_exception_ptr(Error("not a sip, sips or tel URI: " + aor_or_uri)), {});
    return;
  }
  impl_->store->get(*aor, on_executor(impl_->executor, [once](std::exception_ptr error, std::vector<Binding> bindings) {
    if (error) {
      (*once)(error, {});
      return;
    }
    const auto now = Clock::now();
    std::erase_if(bindings, [&](const Binding& b) { return !live(b, now); });
    std::stable_sort(bindings.begin(), bindings.end(), [](const Binding& a, const Binding& b) {
      if (a.q != b.q) return a.q > b.q;
      return a.expires_at > b.expires_at;
    });
    (*once)(nullptr, std::move(bindings));
  }));
}

}  // namespace astmrf::srf
