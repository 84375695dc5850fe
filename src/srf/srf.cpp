#include "activity.hpp"
#include "digest.hpp"
#include "server_state.hpp"
#include "session_timer.hpp"

#include <astmrf/detail/async.hpp>
#include <astmrf/sip/header_parsers.hpp>
#include <astmrf/srf/srf.hpp>
#include <astmrf/util/log.hpp>
#include <astmrf/util/metrics.hpp>
#include <astmrf/util/random.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <optional>
#include <vector>

namespace astmrf::srf {

namespace {

std::string allow_list(const std::map<std::string, Handler>& handlers) {
  // Dialogs take REFER (accept_refer) and NOTIFY (async_refer) whatever the handlers.
  // PRACK and UPDATE (RFC 3262, 3311): both backends take them in (early) dialogs.
  std::string allow = "INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY, PRACK, UPDATE";
  for (const auto& [method, handler] : handlers) {
    if (method != "INVITE" && method != "OPTIONS" && method != "REFER" && method != "NOTIFY" && method != "PRACK" &&
        method != "UPDATE") {
      allow += ", " + method;
    }
  }
  return allow;
}

}  // namespace

struct Srf::Impl : std::enable_shared_from_this<Srf::Impl> {
  Impl(std::shared_ptr<SignalingBackend> b, SrfOptions options)
      : backend(std::move(b)),
        executor(backend->get_executor()),
        observers(std::make_shared<const detail::SrfObservers>(options.metrics, std::move(options.logger))) {}

  void dispatch(const std::shared_ptr<BackendServerTransaction>& transaction);
  // The middleware from step `from` on, then the handler.
  void run(const std::shared_ptr<detail::ServerState>& state, std::size_t from);
  // An INVITE with Replaces: false when it was answered here (481, 486, 420, 400).
  bool check_replaces(detail::ServerState& state, Response& res);
  HeaderList capabilities() const;  // Allow (and Supported) of OPTIONS and 405

  std::shared_ptr<SignalingBackend> backend;
  boost::asio::any_io_executor executor;
  std::vector<Middleware> middleware;
  std::map<std::string, Handler> handlers;
  Handler replaces_handler;
  util::Random random;  // Call-IDs, tags and cnonces of the requests it places
  std::shared_ptr<const detail::SrfObservers> observers;
};

void Srf::Impl::dispatch(const std::shared_ptr<BackendServerTransaction>& transaction) {
  if (observers->activity->draining && transaction->message().method_id() == sip::MethodId::options) {
    // The load balancer's probe: stop sending new calls here (set_draining).
    transaction->respond(ResponseSpec{503,
                                      "Service Unavailable",
                                      {{"Retry-After", std::to_string(observers->activity->retry_after.count())}},
                                      {},
                                      {}});
    return;
  }
  auto state = std::make_shared<detail::ServerState>(transaction, executor);
  if (transaction->message().method_id() == sip::MethodId::invite) state->activity = observers->activity->hold();
  if (transaction->message().method_id() == sip::MethodId::invite && observers->observing()) {
    // The Call-ID is copied only for the log line: with metrics alone the record is all.
    state->call = std::make_shared<detail::CallRecord>(
        observers, detail::Direction::inbound,
        observers->logging() ? std::string(transaction->message().call_id()) : std::string());
  }
  std::weak_ptr<detail::ServerState> weak = state;
  // The call's record lives as long as the transaction (not only as long as the application
  // holds the request): a CANCEL after the application let go is still counted.
  transaction->on_cancel([weak, call = state->call] {
    if (auto s = weak.lock())
      s->cancelled();
    else if (call)
      call->end(detail::Outcome::cancelled, 487, "caller cancelled");
  });
  state->replacing =
      transaction->message().method_id() == sip::MethodId::invite && !transaction->message().header("Replaces").empty();
  run(state, 0);
}

void Srf::Impl::run(const std::shared_ptr<detail::ServerState>& state, std::size_t from) {
  auto req = detail::Access::request(state);
  auto res = detail::Access::response(state);
  const auto& transaction = state->transaction;
  try {
    // Never an ordinary new call: refused here, or given to the replaces handler.
    if (from == 0 && state->replacing && !check_replaces(*state, res)) return;
    // Middleware runs in order; each one answers, calls next() (now or later: an asynchronous
    // lookup), or keeps the request to itself. Only the first call of a step's next() counts.
    for (std::size_t i = from; i < middleware.size(); ++i) {
      state->middleware_step = i;
      state->next_taken = false;
      state->in_middleware = true;
      // next holds the request: a middleware may keep only next for its asynchronous work.
      const std::function<void()> next = [impl = weak_from_this(), s = state, i] {
        if (s->middleware_step != i || s->next_taken) return;
        s->next_taken = true;
        if (s->in_middleware) return;  // called during the middleware: the loop below goes on
        if (auto self = impl.lock())
          self->run(s, i + 1);
        else if (!s->transaction->final_sent())
          s->transaction->respond(ResponseSpec{503, "Service Unavailable", {}, {}, {}});
      };
      middleware[i](req, res, next);
      state->in_middleware = false;
      if (!state->next_taken) return;
    }
    if (state->replacing) {
      auto handler = replaces_handler;
      if (handler) {
        handler(req, res);
      } else if (!res.finished()) {
        res.send(420, ResponseOptions{"Bad Extension", {{"Unsupported", "replaces"}}, {}, {}});
      }
      return;
    }
    auto it = handlers.find(std::string(req.method()));
    if (it != handlers.end()) {
      auto handler = it->second;
      handler(req, res);
      return;
    }
    res.send(req.method() == "OPTIONS" ? 200 : 405, ResponseOptions{{}, capabilities(), {}, {}});
  } catch (const std::exception& e) {
    if (state->call) state->call->end(detail::Outcome::failed, 500, e.what());
    observers->log->warn("event=request_handler_failed call_id={} method={} error={}",
                         util::quote(transaction->message().call_id()), util::quote(transaction->message().method()),
                         util::quote(e.what()));
    // A handler bug must not leave the peer waiting on an unanswered transaction.
    if (!transaction->final_sent()) res.send(500, ResponseOptions{"Server Internal Error", {}, {}, {}});
  }
}

HeaderList Srf::Impl::capabilities() const {
  HeaderList headers{{"Allow", allow_list(handlers)}};
  headers.emplace_back("Supported", replaces_handler ? "replaces, 100rel" : "100rel");
  return headers;
}

bool Srf::Impl::check_replaces(detail::ServerState& state, Response& res) {
  const auto& message = state.transaction->message();
  const std::string call_id(message.call_id());
  auto refuse = [&](int status, std::string reason, HeaderList headers = {}) {
    if (state.call) state.call->end(detail::rejected(status), status, reason);
    observers->log->debug("event=replaces_refused call_id={} status={} reason={}", util::quote(call_id), status,
                          util::quote(reason));
    res.send(status, ResponseOptions{std::move(reason), std::move(headers), {}, {}});
    return false;
  };
  std::size_t count = 0;
  std::string_view value;
  for (const auto& field : message.headers()) {
    if (sip::iequals(field.name, "Replaces")) {
      ++count;
      value = field.value;
    }
  }
  if (count != 1) return refuse(400, "Bad Replaces Header");  // RFC 3891 3: exactly one
  auto parsed = sip::parse_replaces(value);
  if (!parsed) return refuse(400, "Bad Replaces Header");
  auto dialog = observers->dialog_registry->find(parsed->call_id, parsed->to_tag, parsed->from_tag);
  if (!dialog) return refuse(481, "Call/Transaction Does Not Exist");
  // Srf's dialogs are all confirmed (made by a 2xx): an early-only Replaces never fits.
  if (parsed->early_only) return refuse(486, "Busy Here");
  if (!replaces_handler) return refuse(420, "Bad Extension", {{"Unsupported", "replaces"}});
  state.replaced = dialog;
  observers->log->debug("event=replaces_matched call_id={} replaced_call_id={}", util::quote(call_id),
                        util::quote(dialog->call_id()));
  return true;
}

Srf::Srf(std::shared_ptr<SignalingBackend> backend, SrfOptions options)
    : impl_(std::make_shared<Impl>(std::move(backend), std::move(options))) {
  std::weak_ptr<Impl> weak = impl_;
  impl_->backend->on_request([weak](const std::shared_ptr<BackendServerTransaction>& transaction) {
    if (auto impl = weak.lock())
      impl->dispatch(transaction);
    else
      transaction->respond(ResponseSpec{503, "Service Unavailable", {}, {}, {}});
  });
}

Srf::~Srf() = default;

void Srf::use(Middleware middleware) { impl_->middleware.push_back(std::move(middleware)); }
void Srf::replaces(Handler handler) {
  impl_->replaces_handler = std::move(handler);
  impl_->backend->route("INVITE");  // INVITEs with Replaces are INVITEs to drachtio-server
}
void Srf::on(const std::string& method, Handler handler) {
  impl_->handlers[method] = std::move(handler);
  impl_->backend->route(method);
}
boost::asio::any_io_executor Srf::get_executor() const { return impl_->executor; }
std::shared_ptr<const detail::SrfObservers> Srf::observers() const { return impl_->observers; }

// ------------------------------------------------------------------ UAS

void Srf::start_uas(Request req, Response /*res: shares req's transaction*/, UasOptions options,
                    DialogHandler handler) {
  detail::answer_uas(impl_->executor, impl_->observers, std::move(req), std::move(options), std::move(handler));
}

void detail::answer_uas(
    const boost::asio::any_io_executor& executor, std::shared_ptr<const SrfObservers> observers, Request req,
    UasOptions options,
    boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Dialog>)> handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor);
  const auto& transaction = detail::Access::state(req)->transaction;
  // The call's record: counted answered at the ACK, failed without one.
  std::shared_ptr<CallRecord> call = detail::Access::state(req)->call;
  if (transaction->cancelled()) {
    if (call) call->end(Outcome::cancelled, 487, "caller cancelled");
    (*once)(std::make_exception_ptr(RequestCancelled()), nullptr);
    return;
  }
  std::optional<SessionTimerPlan> timer_plan;
  if (options.session_timer) {
    auto negotiated = negotiate_uas(transaction->message(), *options.session_timer);
    if (negotiated.reject_min_se != 0) {
      // RFC 4028 8.1: the interval asked for is below our Min-SE.
      if (call) call->end(rejected(422), 422, "Session Interval Too Small");
      transaction->respond(ResponseSpec{
          422, "Session Interval Too Small", {{"Min-SE", std::to_string(negotiated.reject_min_se)}}, {}, {}});
      detail::Access::state(req)->answered();
      (*once)(std::make_exception_ptr(SipFailure(422, "Session Interval Too Small", true)), nullptr);
      return;
    }
    for (auto& header : negotiated.headers) options.headers.push_back(std::move(header));
    timer_plan = negotiated.plan;
  }
  std::shared_ptr<BackendDialog> backend;
  try {
    backend =
        transaction->respond(ResponseSpec{200, {}, std::move(options.headers), "application/sdp", options.local_sdp});
  } catch (const std::exception& e) {
    if (call) call->end(Outcome::failed, 0, e.what());
    (*once)(std::current_exception(), nullptr);
    return;
  }
  detail::Access::state(req)->answered();
  if (!backend) {
    if (call) call->end(Outcome::cancelled, 487, "caller cancelled");  // the CANCEL won the race
    (*once)(std::make_exception_ptr(RequestCancelled()), nullptr);
    return;
  }
  auto dialog = detail::Access::dialog(backend, Dialog::Role::uas, std::move(options.local_sdp),
                                       std::string(req.body()), executor, std::move(observers));
  // Until the ACK, the backend's handlers own the dialog; attach() then hands
  // them weak references and the application becomes the owner.
  backend->on_ack([once, dialog, call, timer_plan](const sip::Message&) {
    if (call) call->end(Outcome::answered, 200, "OK");
    detail::Access::attach(*dialog);
    if (timer_plan) detail::Access::start_session_timer(*dialog, *timer_plan);
    (*once)(nullptr, dialog);
  });
  backend->on_end([once, call](DialogEndReason reason) {
    if (call) call->end(Outcome::failed, 200, reason == DialogEndReason::no_ack ? "no ACK" : sip::to_string(reason));
    (*once)(reason == DialogEndReason::no_ack ? std::make_exception_ptr(AckTimeout())
                                              : std::make_exception_ptr(DialogGone()),
            nullptr);
  });
  // Cancelled while waiting for the ACK: the 200 OK is out, so the call is ended with BYE.
  std::weak_ptr<BackendDialog> weak_backend = backend;
  once->on_cancel([weak_backend] {
    if (auto b = weak_backend.lock(); b && !b->terminated()) b->bye({});
  });
}

// ------------------------------------------------------------------ UAC

namespace {

struct UacCall : std::enable_shared_from_this<UacCall> {
  std::string uri;
  UacOptions options;
  std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr, std::shared_ptr<Dialog>)>> once;
  std::shared_ptr<SignalingBackend> backend;
  boost::asio::any_io_executor executor;
  std::string call_id;
  std::string from_tag;
  std::string cnonce;
  std::uint32_t cseq{1};
  bool auth_tried{false};
  bool timer_retried{false};                 // a 422 is retried once
  std::uint32_t session_expires{0};          // seconds asked for (raised by a 422)
  std::uint32_t min_se{0};                   // our Min-SE (raised by a 422)
  std::pair<std::string, std::string> auth;  // the credentials header sent, for a 422 retry
  std::shared_ptr<BackendClientTransaction> transaction;
  std::unique_ptr<boost::asio::steady_timer> timer;
  std::string cancel_reason;
  std::optional<detail::CallRecord> record;  // none: nobody counts or logs calls (part of the call: no allocation)
  std::shared_ptr<const detail::SrfObservers> observers;
  std::shared_ptr<void> activity;  // a call in progress until it completes (Srf::calls_in_progress)

  void send(const std::string& auth_header = {}, const std::string& auth_value = {}) {
    RequestSpec spec;
    spec.method = "INVITE";
    spec.cseq = cseq;
    if (options.auth || options.session_timer) {
      // A challenge (or a 422) may need the request again (with credentials): copy its parts.
      spec.uri = uri;
      spec.from = options.from;
      spec.to = options.to;
      spec.call_id = call_id;
      spec.from_tag = from_tag;
      spec.headers = options.headers;
      spec.destination = options.proxy;
    } else {
      // Sent once: the parts move into the request (nothing reads them afterwards).
      spec.uri = std::move(uri);
      spec.from = std::move(options.from);
      spec.to = std::move(options.to);
      spec.call_id = std::move(call_id);
      spec.from_tag = std::move(from_tag);
      spec.headers = std::move(options.headers);
      spec.destination = std::move(options.proxy);
    }
    if (!auth_header.empty()) auth = {auth_header, auth_value};
    if (!auth.first.empty()) spec.headers.emplace_back(auth.first, auth.second);
    if (options.session_timer) {
      const auto prefer = options.session_timer->refresher;
      std::string value = std::to_string(session_expires);
      if (prefer == SessionTimerOptions::Refresher::uac) value += ";refresher=uac";
      if (prefer == SessionTimerOptions::Refresher::uas) value += ";refresher=uas";
      spec.headers.emplace_back("Supported", "timer");
      spec.headers.emplace_back("Session-Expires", std::move(value));
      spec.headers.emplace_back("Min-SE", std::to_string(min_se));
    }
    if (!options.local_sdp.empty()) {
      spec.content_type = "application/sdp";
      spec.body = options.local_sdp;
    }
    auto self = shared_from_this();
    transaction = backend->send_request(
        std::move(spec),
        [self](const sip::Message& response, const std::shared_ptr<BackendDialog>& dialog) {
          self->on_response(response, dialog);
        },
        options.local_sdp.empty());
  }

  void on_response(const sip::Message& response, const std::shared_ptr<BackendDialog>& backend_dialog) {
    const int status = response.status();
    if (once->done()) {
      if (status < 200) return;
      transaction.reset();  // the transaction's handler holds us: break the cycle
      // Cancelled by the application: a 2xx that raced the CANCEL is ended at once.
      if (status < 300 && backend_dialog) {
        if (options.local_sdp.empty()) backend_dialog->ack({}, {});
        backend_dialog->bye({});
      }
      return;
    }
    if (status < 200) {
      if (options.on_provisional) options.on_provisional(response);
      return;
    }
    if ((status == 401 || status == 407) && options.auth && !auth_tried && cancel_reason.empty()) {
      auto challenge = status == 401 ? response.www_authenticate() : response.proxy_authenticate();
      if (challenge) {
        detail::DigestInput input{"INVITE", uri, options.auth->username, options.auth->password, cnonce};
        if (auto credentials = detail::digest_credentials(*challenge, input)) {
          auth_tried = true;
          ++cseq;  // a new request in the same call (RFC 3261 22.2)
          // The credentials themselves are never logged.
          observers->log->debug("event=call_challenged call_id={} status={}", util::quote(response.call_id()), status);
          send(status == 401 ? "Authorization" : "Proxy-Authorization", *credentials);
          return;
        }
      }
    }
    if (status == 422 && options.session_timer && !timer_retried && cancel_reason.empty()) {
      // RFC 4028 7.2: retried once, asking for the Min-SE the UAS wants.
      if (auto wanted = detail::parse_min_se(response.header(sip::HeaderId::min_se)); wanted && *wanted > 0) {
        timer_retried = true;
        session_expires = std::max(session_expires, *wanted);
        min_se = std::max(min_se, *wanted);
        ++cseq;
        observers->log->debug("event=call_session_interval_too_small call_id={} min_se={}",
                              util::quote(response.call_id()), *wanted);
        send();
        return;
      }
    }
    if (status >= 300) {
      bool local = transaction && transaction->local_failure();
      if (!cancel_reason.empty() && (status == 487 || local)) {
        end(detail::Outcome::cancelled, status, cancel_reason);
        finish(std::make_exception_ptr(CallCancelled(cancel_reason)), nullptr);
      } else {
        end(local ? detail::Outcome::failed : detail::rejected(status), status, response.reason());
        auto dns_error = local ? transaction->dns_error() : std::string();
        std::string reason(response.reason());
        if (!dns_error.empty()) {
          finish(std::make_exception_ptr(
                     DnsFailure(std::move(reason), std::move(dns_error), transaction->dns_not_found())),
                 nullptr);
        } else if (local && status == 503 && reason.starts_with("TLS handshake failed")) {
          // The backends make up this reason when the next hop's TLS handshake fails.
          finish(std::make_exception_ptr(TlsHandshakeFailed(std::move(reason))), nullptr);
        } else {
          finish(std::make_exception_ptr(SipFailure(status, std::move(reason), local)), nullptr);
        }
      }
      return;
    }
    if (!backend_dialog) {
      end(detail::Outcome::failed, status, "2xx without a usable dialog");
      finish(std::make_exception_ptr(SipFailure(502, "2xx without a usable dialog", true)), nullptr);
      return;
    }
    std::string remote(response.body());
    std::string local = options.local_sdp;
    if (options.local_sdp.empty()) {
      // Late offer: the 2xx carried the offer; the ACK carries our answer.
      local = options.answer_late_offer ? options.answer_late_offer(remote) : std::string{};
      backend_dialog->ack(local.empty() ? std::string{} : "application/sdp", local);
    }
    auto dialog = detail::Access::dialog(backend_dialog, Dialog::Role::uac, std::move(local), std::move(remote),
                                         executor, observers);
    detail::Access::attach(*dialog);
    if (options.session_timer) {
      if (auto plan = detail::negotiate_uac(response, *options.session_timer, min_se))
        detail::Access::start_session_timer(*dialog, *plan);
    }
    end(detail::Outcome::answered, status, response.reason());
    finish(nullptr, std::move(dialog));
  }

  void cancel(std::string why) {
    if (!cancel_reason.empty()) return;
    cancel_reason = std::move(why);
    if (transaction) transaction->cancel();
  }

  void end(detail::Outcome outcome, int status, std::string_view reason) {
    if (record) record->end(outcome, status, reason);
  }

  void finish(std::exception_ptr error, std::shared_ptr<Dialog> dialog) {
    if (once->done()) return;
    if (error) end(detail::Outcome::failed, 0, "local error");  // when nothing above ended it
    if (timer) timer->cancel();
    transaction.reset();  // the transaction's handler holds us: break the cycle
    activity.reset();     // a dialog holds its own
    (*once)(error, std::move(dialog));
  }
};

}  // namespace

void Srf::start_uac(std::string uri, UacOptions options, DialogHandler handler) {
  auto call = std::make_shared<UacCall>();
  call->uri = std::move(uri);
  call->options = std::move(options);
  call->backend = impl_->backend;
  call->executor = impl_->executor;
  call->call_id = impl_->random.hex(32);
  call->observers = impl_->observers;
  call->activity = impl_->observers->activity->hold();
  if (impl_->observers->observing()) {
    call->record.emplace(impl_->observers, detail::Direction::outbound,
                         impl_->observers->logging() ? call->call_id : std::string());
  }
  call->from_tag = impl_->random.hex(16);
  if (call->options.auth) call->cnonce = impl_->random.hex(16);  // only digest uses it
  if (call->options.session_timer) {
    call->min_se = static_cast<std::uint32_t>(call->options.session_timer->min_se.count());
    call->session_expires =
        std::max(static_cast<std::uint32_t>(call->options.session_timer->interval.count()), call->min_se);
  }
  call->once = astmrf::detail::make_once(std::move(handler), call->executor);
  std::weak_ptr<UacCall> weak = call;
  // Cancelled: completes with operation_aborted at once; the CANCEL goes out, and a 2xx
  // that races it is ACKed and ended (on_response).
  call->once->on_cancel([weak] {
    auto c = weak.lock();
    if (!c) return;
    if (c->timer) c->timer->cancel();
    c->cancel_reason = "cancelled by the application";
    c->end(detail::Outcome::cancelled, 0, c->cancel_reason);
    c->activity.reset();
    if (c->transaction) c->transaction->cancel();
  });
  try {
    call->send();
  } catch (...) {
    call->finish(std::current_exception(), nullptr);
    return;
  }
  if (call->options.timeout.count() > 0) {
    call->timer = std::make_unique<boost::asio::steady_timer>(call->executor, call->options.timeout);
    call->timer->async_wait([weak, ms = call->options.timeout.count()](boost::system::error_code ec) {
      if (ec) return;
      if (auto c = weak.lock()) c->cancel("no answer within " + std::to_string(ms) + " ms");
    });
  }
}

// ------------------------------------------------------------------ draining

void Srf::set_draining(bool draining, std::chrono::seconds retry_after) {
  impl_->observers->activity->draining = draining;
  impl_->observers->activity->retry_after = retry_after;
  // A drachtio-server answers OPTIONS itself unless the application takes them.
  if (draining) impl_->backend->route("OPTIONS");
}
bool Srf::draining() const noexcept { return impl_->observers->activity->draining; }
std::size_t Srf::calls_in_progress() const noexcept { return impl_->observers->activity->count(); }
void Srf::start_wait_idle(IdleHandler handler) {
  impl_->observers->activity->wait_idle(std::move(handler), impl_->executor);
}

}  // namespace astmrf::srf
