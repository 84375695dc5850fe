// ari::Client: connection life cycle (connect, reconnect forever with backoff, re-registration,
// reconcile), event intake, handler registration and waits.
#include "client_impl.hpp"
#include "decode.hpp"

#include <astmrf/ari/generated/models.hpp>
#include <astmrf/util/base64.hpp>
#include <astmrf/util/log.hpp>
#include <astmrf/util/resolver.hpp>
#include <astmrf/util/tls_client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <stdexcept>
#include <unordered_set>

namespace astmrf::ari {

namespace asio = boost::asio;
using verb = boost::beast::http::verb;

namespace detail {

namespace {

template <typename T>
T decode_json(const Response& r) {
  T out{};
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (!ec) decode_field(v, out);
  return out;
}

}  // namespace

// ---- waits ----------------------------------------------------------------------------------

struct WaitState : std::enable_shared_from_this<WaitState> {
  explicit WaitState(const asio::any_io_executor& ex) : timer(ex) {}

  void on_event(const Event& e) {
    if (done) return;
    if (types.empty() || std::find(types.begin(), types.end(), e.type()) != types.end()) {
      finish(nullptr, e);
      return;
    }
    for (const auto& ref : e.resources()) {
      if (ref.kind == kind && ref.id == key && e.ends(ref)) last = e;  // reported with resource_ended
    }
  }
  void on_end(EndReason r) {
    const auto code = r == EndReason::ended      ? errc::resource_ended
                      : r == EndReason::vanished ? errc::resource_vanished
                                                 : errc::closed;
    finish(std::make_exception_ptr(WaitError(code, last)), last);
  }
  void finish(std::exception_ptr e, Event ev) {
    if (done) return;
    done = true;
    error = std::move(e);
    result = std::move(ev);
    sub.reset();
    deliver();
  }
  void deliver() {
    if (!handler) return;
    timer.cancel();
    auto h = std::move(handler);
    // Posted (astmrf::detail::complete): a waiting coroutine never resumes inside the dispatch loop.
    (*h)(error, result);
  }

  asio::steady_timer timer;
  std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr, Event)>> handler;
  Event result;
  Event last;
  std::exception_ptr error;
  bool done = false;
  ResourceKind kind{};
  std::string key;
  std::vector<EventType> types;
  Subscription sub;
};

// ---- ClientImpl -------------------------------------------------------------------------------

ClientImpl::ClientImpl(asio::any_io_executor executor, ClientOptions o)
    : ex(std::move(executor)), opts(std::move(o)), backoff_(ex), reconnect_delays_(opts.reconnect) {
  log = util::logger_or_default(opts.logger);
  shared.executor = ex;
  shared.target = parse_target(opts.url);
  server = opts.metrics_name.empty() ? shared.target.host_header : opts.metrics_name;
  if (opts.metrics) metrics = std::make_unique<ClientMetrics>(*opts.metrics, server);
  if (shared.target.tls) shared.tls = util::make_client_tls_context(opts.tls);
  shared.authorization = "Basic " + util::base64_encode(opts.user + ":" + opts.password);
  shared.options = std::make_shared<const ClientOptions>(opts);
  shared.resolver = std::make_shared<util::Resolver>(ex, opts.resolver);
  pool = make_http_pool(shared);
}

void ClientImpl::request(Request r, ResponseHandler handler) {
  auto method = std::string(boost::beast::http::to_string(r.method));
  auto path = r.target;
  const auto family = resource_family(path);
  const auto start = std::chrono::steady_clock::now();
  // Weak: a call in flight does not keep a destroyed client's state (its series are gone anyway).
  pool->request(std::move(r), [weak = weak_from_this(), h = std::move(handler), method = std::move(method),
                               path = std::move(path), family, start](std::exception_ptr e, Response resp) mutable {
    if (auto self = weak.lock()) self->request_done(family, start, method, path, e, resp.status);
    if (!e && resp.status >= 400) e = make_error(resp.status, resp.body, std::move(method), std::move(path));
    std::move(h)(e, std::move(resp));
  });
}

// Counts and traces one REST call. `error`: no response (status is then meaningless).
void ClientImpl::request_done(ResourceFamily family, std::chrono::steady_clock::time_point start,
                              const std::string& method, const std::string& path, const std::exception_ptr& error,
                              unsigned status) {
  const bool trace = log->should_log(spdlog::level::trace);
  if (!metrics && !trace) return;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int outcome = static_cast<int>(status);
  std::string why;
  if (error) {
    outcome = kStatusError;
    try {
      std::rethrow_exception(error);
    } catch (const TransportError& x) {
      if (x.code() == errc::timed_out) outcome = kStatusTimeout;
      why = x.what();
    } catch (const std::exception& x) {
      why = x.what();
    } catch (...) {
      why = "unknown exception";
    }
  }
  if (metrics) metrics->request_done(family, outcome, seconds);
  if (!trace) return;
  // The path is relative to /ari: no credentials (they travel in the Authorization header only).
  if (error) {
    log->trace("event=ari_request server={} method={} path={} status={} duration_ms={:.3f} error={}",
               util::quote(server), method, util::quote(loggable_target(path)),
               outcome == kStatusTimeout ? "timeout" : "error", seconds * 1e3, util::quote(why));
  } else {
    log->trace("event=ari_request server={} method={} path={} status={} duration_ms={:.3f}", util::quote(server),
               method, util::quote(loggable_target(path)), status, seconds * 1e3);
  }
}

asio::awaitable<Response> ClientImpl::call(Request r) {
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr, Response)>(
      [this](auto h, Request req) { request(std::move(req), ResponseHandler(std::move(h))); }, asio::use_awaitable,
      std::move(r));
}

void ClientImpl::set_state(ConnectionState s, boost::system::error_code ec) {
  if (state == s && !ec) return;
  state = s;
  if (metrics) metrics->websocket_up(s == ConnectionState::connected);
  registry->publish_state(s, ec);
}

void ClientImpl::on_message(std::string_view text) {
  boost::system::error_code ec;
  auto e = Event::parse(text, ec);
  if (ec) {
    ++stats.malformed_events;
    if (metrics) metrics->decode_error();
    log->warn("event=ari_event_malformed server={} bytes={} error={}", util::quote(server), text.size(),
              util::quote(ec.message()));
    return;
  }
  ++stats.events;
  if (metrics) metrics->event(e.type());
  if (log->should_log(spdlog::level::trace)) trace_event(e, text);
  if (e.type() == EventType::unknown) {
    ++stats.unknown_events;
    log->debug("event=ari_event_unknown_type server={} type={}", util::quote(server), util::quote(e.type_name()));
  }
  try {
    registry->dispatch(e);
  } catch (const std::exception& x) {
    log->error("event=ari_handler_threw server={} type={} error={}", util::quote(server), util::quote(e.type_name()),
               util::quote(x.what()));
  }
  if (!sources.empty()) forget_ended_sources(e);
}

// One trace line per event: its type, the ids it carries, then the whole message (trace only).
void ClientImpl::trace_event(const Event& e, std::string_view text) {
  fmt::memory_buffer line;
  auto out = std::back_inserter(line);
  fmt::format_to(out, "event=ari_event server={} type={}", util::quote(server), util::quote(e.type_name()));
  constexpr std::pair<ResourceKind, std::string_view> kIds[] = {{ResourceKind::channel, "channel_id"},
                                                                {ResourceKind::bridge, "bridge_id"},
                                                                {ResourceKind::playback, "playback_id"},
                                                                {ResourceKind::recording, "recording_name"}};
  for (const auto& [kind, key] : kIds) {
    const auto id = e.id(kind);
    if (!id.empty()) fmt::format_to(out, " {}={}", key, util::quote(id));
  }
  fmt::format_to(out, " body={}", util::quote(text));
  log->trace("{}", std::string_view(line.data(), line.size()));
}

// An explicit subscription to a channel or bridge that ended is not re-applied after a reconnect.
void ClientImpl::forget_ended_sources(const Event& e) {
  for (const auto& ref : e.resources()) {
    if (!e.ends(ref)) continue;
    std::string source = ref.kind == ResourceKind::channel  ? "channel:"
                         : ref.kind == ResourceKind::bridge ? "bridge:"
                                                            : "";
    if (source.empty()) continue;
    source.append(ref.id);
    std::erase_if(sources, [&](const auto& s) { return s.second == source; });
  }
}

std::string ClientImpl::events_target() const {
  RequestBuilder b(verb::get);
  b.literal("/events");
  b.query("app", opts.apps);
  if (opts.subscribe_all) b.query("subscribeAll", true);
  return std::move(b).finish().target;
}

// `self` is a parameter, so that the frame keeps the client alive from its creation: a coroutine
// spawned now may first run after the Client is gone.
asio::awaitable<void> ClientImpl::connect_first(std::shared_ptr<ClientImpl> self) {
  // Fails fast: a wrong password is an AuthenticationError here, before any WebSocket attempt.
  co_await call(RequestBuilder(verb::get).literal("/asterisk/info").finish());
  log->info("event=ari_connected server={} url={} user={}", util::quote(server),
            util::quote(std::string(shared.target.tls ? "https://" : "http://") + shared.target.host_header),
            util::quote(opts.user));
  if (opts.apps.empty() || running) co_return;
  set_state(ConnectionState::connecting, {});
  try {
    co_await open_events();
  } catch (const TransportError& e) {
    set_state(ConnectionState::disconnected, e.code());
    throw;
  } catch (...) {
    set_state(ConnectionState::disconnected, errc::handshake_failed);
    throw;
  }
  running = true;
  log->info("event=ari_ws_connected server={} apps={}", util::quote(server), util::quote(app_list()));
  asio::co_spawn(ex, run_events(self), [self](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        self->log->error("event=ari_events_loop_ended server={} error={}", util::quote(self->server),
                         util::quote(x.what()));
      }
    }
  });
}

asio::awaitable<void> ClientImpl::open_events() {
  auto sock = make_event_socket(shared);
  ws = sock;
  co_await asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr)>(
      [&](auto h) { sock->connect(events_target(), std::move(h)); }, asio::use_awaitable);
  if (closed) throw TransportError(errc::closed, "client closed", "GET", "/events");
  ++stats.connects;
  // Re-apply what lives on the Asterisk side only while the app is registered.
  const bool filter = !opts.event_filter.allowed.empty() || !opts.event_filter.disallowed.empty();
  for (const auto& app : opts.apps) {
    if (!filter) break;
    boost::json::object body;
    auto list = [](const std::vector<std::string>& types) {
      boost::json::array a;
      for (const auto& t : types) a.push_back(boost::json::object{{"type", t}});
      return a;
    };
    if (!opts.event_filter.allowed.empty()) body["allowed"] = list(opts.event_filter.allowed);
    if (!opts.event_filter.disallowed.empty()) body["disallowed"] = list(opts.event_filter.disallowed);
    RequestBuilder b(verb::put);
    b.literal("/applications/").segment(app).literal("/eventFilter").body(boost::json::value(std::move(body)));
    co_await call(std::move(b).finish());
  }
  for (const auto& [app, source] : sources) {
    RequestBuilder b(verb::post);
    b.literal("/applications/").segment(app).literal("/subscription").query("eventSource", source);
    try {
      co_await call(std::move(b).finish());
    } catch (const Error& e) {
      log->warn("event=ari_resubscribe_failed server={} app={} source={} status={} error={}", util::quote(server),
                util::quote(app), util::quote(source), e.status(), util::quote(e.message()));
    }
  }
  set_state(ConnectionState::connected, {});
}

std::string ClientImpl::app_list() const {
  std::string out;
  for (const auto& app : opts.apps) {
    if (!out.empty()) out += ',';
    out += app;
  }
  return out;
}

asio::awaitable<void> ClientImpl::run_events(std::shared_ptr<ClientImpl> self) {
  for (;;) {
    auto sock = ws;
    auto [ec] =
        co_await asio::async_initiate<const asio::as_tuple_t<asio::use_awaitable_t<>>, void(boost::system::error_code)>(
            [&](auto h) { sock->run([this](std::string_view text) { on_message(text); }, std::move(h)); },
            asio::as_tuple(asio::use_awaitable));
    if (closed) co_return;
    log->warn("event=ari_ws_lost server={} error={}", util::quote(server), util::quote(ec.message()));
    set_state(ConnectionState::disconnected, ec);
    // Retry forever: capped exponential backoff with jitter.
    for (;;) {
      backoff_.expires_after(reconnect_delays_.next());
      co_await backoff_.async_wait(asio::as_tuple(asio::use_awaitable));
      if (closed) co_return;
      set_state(ConnectionState::connecting, {});
      try {
        co_await open_events();
        break;
      } catch (const std::exception& e) {
        if (closed) co_return;
        log->info("event=ari_reconnect_failed server={} error={}", util::quote(server), util::quote(e.what()));
        set_state(ConnectionState::disconnected, errc::handshake_failed);
      }
    }
    reconnect_delays_.reset();
    if (metrics) metrics->reconnected();
    log->info("event=ari_ws_reconnected server={} apps={}", util::quote(server), util::quote(app_list()));
    asio::co_spawn(ex, reconcile(self), [self](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        self->log->warn("event=ari_reconcile_failed server={} error={}", util::quote(self->server),
                        util::quote(x.what()));
      }
    });
  }
}

asio::awaitable<void> ClientImpl::reconcile([[maybe_unused]] std::shared_ptr<ClientImpl> self) {  // keeps it alive
  ReconcileReport report;
  // Channels: those of our apps that Asterisk still has (events of the gap are lost).
  if (auto tracked = registry->tracked(ResourceKind::channel); !tracked.empty()) {
    std::unordered_set<std::string> alive;
    for (const auto& app : opts.apps) {
      auto r = co_await call(RequestBuilder(verb::get).literal("/applications/").segment(app).finish());
      for (auto& id : decode_json<Application>(r).channel_ids) alive.insert(std::move(id));
    }
    for (auto& id : tracked) {
      if (!alive.contains(id)) report.lost_channels.push_back(std::move(id));
    }
  }
  if (auto tracked = registry->tracked(ResourceKind::bridge); !tracked.empty()) {
    auto r = co_await call(RequestBuilder(verb::get).literal("/bridges").finish());
    std::unordered_set<std::string> alive;
    for (auto& b : decode_json<std::vector<Bridge>>(r)) alive.insert(std::move(b.id));
    for (auto& id : tracked) {
      if (!alive.contains(id)) report.lost_bridges.push_back(std::move(id));
    }
  }
  auto probe = [&](ResourceKind kind, std::string_view path, std::vector<std::string>& lost) -> asio::awaitable<void> {
    for (auto& id : registry->tracked(kind)) {
      try {
        co_await call(RequestBuilder(verb::get).literal(path).segment(id).finish());
      } catch (const NotFound&) {
        lost.push_back(std::move(id));
      }
    }
  };
  co_await probe(ResourceKind::playback, "/playbacks/", report.lost_playbacks);
  co_await probe(ResourceKind::recording, "/recordings/live/", report.lost_recordings);
  for (const auto& id : report.lost_channels) registry->end_resource(ResourceKind::channel, id, EndReason::vanished);
  for (const auto& id : report.lost_bridges) registry->end_resource(ResourceKind::bridge, id, EndReason::vanished);
  for (const auto& id : report.lost_playbacks) registry->end_resource(ResourceKind::playback, id, EndReason::vanished);
  for (const auto& id : report.lost_recordings) {
    registry->end_resource(ResourceKind::recording, id, EndReason::vanished);
  }
  log->info("event=ari_reconciled server={} lost_channels={} lost_bridges={} lost_playbacks={} lost_recordings={}",
            util::quote(server), report.lost_channels.size(), report.lost_bridges.size(), report.lost_playbacks.size(),
            report.lost_recordings.size());
  registry->publish_reconcile(report);
}

void ClientImpl::close() {
  if (closed) return;
  closed = true;
  pool->close();
  if (ws) ws->close();
  backoff_.cancel();
  registry->close_all();
  set_state(ConnectionState::closed, errc::closed);
}

}  // namespace detail

// ---- public API -------------------------------------------------------------------------------

std::string_view to_string(ConnectionState s) noexcept {
  switch (s) {
    case ConnectionState::disconnected: return "disconnected";
    case ConnectionState::connecting: return "connecting";
    case ConnectionState::connected: return "connected";
    case ConnectionState::closed: return "closed";
  }
  return "?";
}

Subscription& Subscription::operator=(Subscription&& o) noexcept {
  if (this != &o) {
    reset();
    registry_ = std::move(o.registry_);
    id_ = std::exchange(o.id_, 0);
  }
  return *this;
}

void Subscription::reset() noexcept {
  if (id_ == 0) return;
  if (auto r = registry_.lock()) r->remove(id_);
  id_ = 0;
  registry_.reset();
}

bool Subscription::active() const noexcept {
  if (id_ == 0) return false;
  auto r = registry_.lock();
  return r && r->contains(id_);
}

Waiter& Waiter::operator=(Waiter&& o) noexcept {
  if (this != &o) {
    release();
    st_ = std::move(o.st_);
  }
  return *this;
}

void Waiter::release() noexcept {
  if (!st_) return;
  st_->sub.reset();
  if (st_->handler) st_->finish(astmrf::detail::operation_aborted(), {});
  st_.reset();
}

bool Waiter::ready() const noexcept { return st_ && st_->done; }

void Waiter::start_wait(std::chrono::milliseconds timeout, detail::wait_handler handler) {
  // Misuse throws at once, before anything is registered (as a bad option does).
  if (!st_) throw std::logic_error("ari::Waiter::async_wait on an empty Waiter");
  auto st = st_;
  if (st->handler) throw std::logic_error("ari::Waiter::async_wait while another one is pending");
  st->handler = astmrf::detail::make_once(std::move(handler), st->timer.get_executor());
  if (st->done) {
    st->deliver();
    return;
  }
  // Cancelled: the wait ends (operation_aborted) and its registration goes.
  std::weak_ptr<detail::WaitState> weak = st;
  st->handler->on_cancel([weak] {
    if (auto s = weak.lock()) {
      s->done = true;
      s->handler.reset();
      s->sub.reset();
      s->timer.cancel();
    }
  });
  st->timer.expires_after(std::min(timeout, std::chrono::milliseconds(std::chrono::hours(24 * 365))));
  st->timer.async_wait([st](boost::system::error_code ec) {
    if (!ec) st->finish(std::make_exception_ptr(WaitError(errc::timed_out, {})), {});
  });
}

Client::Client(executor_type executor, ClientOptions options)
    : impl_(std::make_shared<detail::ClientImpl>(std::move(executor), std::move(options))) {}

Client::~Client() {
  if (impl_) impl_->close();
}

Client::executor_type Client::get_executor() const noexcept { return impl_->ex; }
const ClientOptions& Client::options() const noexcept { return impl_->opts; }
void Client::close() { impl_->close(); }

void Client::start_connect(detail::call_handler<void> handler) {
  auto impl = impl_;
  auto once = astmrf::detail::make_once(std::move(handler), impl->ex);
  std::weak_ptr<detail::ClientImpl> weak = impl;
  once->on_cancel([weak] {
    if (auto i = weak.lock()) i->close();
  });
  asio::co_spawn(impl->ex, impl->connect_first(impl), [once](std::exception_ptr e) { (*once)(e); });
}

void Client::start_source(bool add, std::string app, std::string source, detail::call_handler<void> handler) {
  RequestBuilder b(add ? verb::post : verb::delete_);
  b.literal("/applications/").segment(app).literal("/subscription").query("eventSource", source);
  if (add) {
    impl_->sources.emplace(app, source);
  } else {
    impl_->sources.erase({app, source});
  }
  start_call<void>(std::move(b).finish(), std::move(handler));
}

Subscription Client::on_event(EventHandler handler) {
  return {impl_->registry, impl_->registry->add_global(std::move(handler))};
}

Subscription Client::on_event(EventType type, EventHandler handler) {
  return {impl_->registry, impl_->registry->add_type(type, std::move(handler))};
}

Subscription Client::subscribe(ResourceKind kind, std::string id, EventHandler handler, EndHandler on_end) {
  return {impl_->registry, impl_->registry->add_resource(kind, std::move(id), std::move(handler), std::move(on_end))};
}

Waiter Client::expect(ResourceKind kind, std::string id, std::vector<EventType> types) {
  auto st = std::make_shared<detail::WaitState>(impl_->ex);
  st->kind = kind;
  st->key = id;
  st->types = std::move(types);
  std::weak_ptr<detail::WaitState> w = st;
  if (impl_->closed) {
    st->done = true;
    st->error = std::make_exception_ptr(WaitError(errc::closed, {}));
    return Waiter(std::move(st));
  }
  auto sid = impl_->registry->add_resource(
      kind, std::move(id),
      [w](const Event& e) {
        if (auto s = w.lock()) s->on_event(e);
      },
      [w](EndReason r) {
        if (auto s = w.lock()) s->on_end(r);
      });
  st->sub = Subscription(impl_->registry, sid);
  return Waiter(std::move(st));
}

void Client::start_wait_for(ResourceKind kind, std::string id, std::vector<EventType> types,
                            std::chrono::milliseconds timeout, detail::wait_handler handler) {
  // The timer's handler keeps the state alive until the wait completes.
  auto w = expect(kind, std::move(id), std::move(types));
  w.start_wait(timeout, std::move(handler));
  w.detach();
}

void Client::dispatch_message(std::string_view text) { impl_->on_message(text); }
ConnectionState Client::state() const noexcept { return impl_->state; }

Subscription Client::on_state(StateHandler handler) {
  return {impl_->registry, impl_->registry->add_state(std::move(handler))};
}

Subscription Client::on_reconcile(ReconcileHandler handler) {
  return {impl_->registry, impl_->registry->add_reconcile(std::move(handler))};
}

ClientStats Client::stats() const noexcept {
  auto s = impl_->stats;
  s.subscriptions = impl_->registry->size();
  return s;
}

std::string Client::make_id(std::string_view prefix) { return impl_->ids.next(prefix); }

}  // namespace astmrf::ari
