// connect_caller: an endpoint with the caller's SDP, then the caller answered
// with Asterisk's SDP; the two legs then end together. Mid-call, each side's re-offer is
// relayed to the other and answered with its answer, and the caller's INFO DTMF becomes
// the endpoint's DTMF event.
#include "call_helpers.hpp"
#include "telemetry.hpp"

#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/sip/dtmf.hpp>
#include <astmrf/sip/sdp.hpp>
#include <astmrf/util/log.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace astmrf::mrf {

namespace {

// What the caller hears when the Asterisk leg cannot be set up.
srf::ResponseOptions failure_response(std::exception_ptr error, const ConnectCallerOptions& options, int& status) {
  srf::ResponseOptions response;
  status = 500;
  if (astmrf::detail::is_operation_aborted(error)) {
    status = 487;  // the application cancelled the operation
    response.reason = "Request Terminated";
    return response;
  }
  try {
    std::rethrow_exception(error);
  } catch (const srf::SipFailure& failure) {
    status = failure.local() ? 503 : failure.status();
    response.reason = failure.local() ? std::string{} : failure.reason();
  } catch (const MediaServerOverloaded&) {
    status = 503;
  } catch (const MediaSetupTimeout&) {
    status = 503;
  } catch (const MediaServerUnavailable&) {
    status = 503;
  } catch (...) {
  }
  if (auto it = options.status_map.find(status); it != options.status_map.end()) {
    status = it->second;
    response.reason.clear();
  }
  if (status == 503 && options.retry_after.count() > 0) {
    response.headers.emplace_back("Retry-After", std::to_string(options.retry_after.count()));
  }
  return response;
}

}  // namespace

namespace {

void send_safely(srf::Response& res, int status, srf::ResponseOptions options = {}) {
  if (res.finished()) return;
  try {
    res.send(status, std::move(options));
  } catch (const std::exception&) {  // the transaction is gone: nothing left to answer
  }
}

srf::ResponseOptions with_sdp(std::string sdp) {
  return srf::ResponseOptions{{}, {}, "application/sdp", std::move(sdp)};
}

// What the sender of a relayed re-offer hears when the other leg refused it: the same
// rejection (488, 491...), except those that describe the other leg itself (481, 408,
// auth) and local failures (time-out, dialog gone), which become 500.
int relay_failure_status(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const srf::SipFailure& failure) {
    const int status = failure.status();
    if (failure.local() || status < 400 || status > 699 || status == 481 || status == 408 || status == 401 ||
        status == 407) {
      return 500;
    }
    return status;
  } catch (const std::logic_error&) {
    return 491;  // the other leg has a re-INVITE of its own in progress (the application's async_modify)
  } catch (...) {
    return 500;
  }
}

// `previous` as a new version after `offer` (RFC 3264 8: each new offer bumps the version).
std::string rolled_back(const std::string& previous, std::string_view offer) {
  auto session = sip::sdp::parse(previous);
  auto newer = sip::sdp::parse(offer);
  if (!session || !newer) return previous;
  try {
    session->origin.session_version = std::to_string(
        std::max(std::stoull(session->origin.session_version), std::stoull(newer->origin.session_version)) + 1);
  } catch (const std::exception&) {
    return previous;
  }
  return session->to_string();
}

// The offer/answer relay between the caller and its endpoint. One re-offer crosses the pair
// at a time: another one from either side meanwhile gets 491 (RFC 3261 14.2 across both
// legs). The handlers on the two dialogs own it; it holds the legs weakly, and whatever is
// pending is answered (500) if a leg ends mid-relay.
struct Relay {
  std::weak_ptr<srf::Dialog> caller;
  std::weak_ptr<Endpoint> endpoint;
  std::optional<srf::Response> pending;  // the re-offer being relayed, owed an answer
  std::uint64_t generation{0};

  [[nodiscard]] bool busy() const { return pending.has_value() && !pending->finished(); }

  void answer(std::uint64_t id, int status, srf::ResponseOptions options = {}) {
    if (id != generation || !pending) return;
    auto res = std::move(*pending);
    pending.reset();
    send_safely(res, status, std::move(options));
  }

  // Offers `req`'s SDP to `to` and answers `res` with `to`'s answer.
  static void start(const std::shared_ptr<Relay>& relay, srf::Dialog& to, const srf::Request& req,
                    const srf::Response& res) {
    const auto id = ++relay->generation;
    relay->pending = res;
    std::weak_ptr<Relay> weak = relay;
    std::weak_ptr<srf::Dialog> weak_to = to.shared_from_this();
    to.async_modify(std::string(req.body()), [weak, id, weak_to, req, previous = to.local_sdp()](
                                                 std::exception_ptr error, std::string answer) {
      // The sender CANCELled its re-INVITE (it got 487) but the other leg accepted the offer:
      // offer it the session it had, so that both legs agree again.
      if (!error && req.cancelled()) {
        if (auto other = weak_to.lock(); other && !other->destroyed()) {
          other->async_modify(rolled_back(previous, req.body()), [](std::exception_ptr, std::string) {});
        }
      }
      auto self = weak.lock();
      if (!self) return;
      if (error) {
        self->answer(id, relay_failure_status(error));
      } else if (answer.empty()) {
        self->answer(id, 500);  // a 2xx without the answer: nothing to pass on
      } else {
        self->answer(id, 200, with_sdp(std::move(answer)));
      }
    });
  }
};

}  // namespace

namespace {

// What a connect_caller in flight shares between its steps and its cancellation.
struct CallerOp {
  std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr, ConnectedCaller)>> once;
  boost::asio::cancellation_signal cancel_uas;  // the caller's 200 OK, until its ACK
  bool ended{false};                            // counted and logged (the handler may be gone: cancelled)
};

}  // namespace

void MediaServer::install_mid_call(const std::shared_ptr<Endpoint>& endpoint,
                                   const std::shared_ptr<srf::Dialog>& caller,
                                   std::function<void(srf::Request, srf::Response)> on_info) {
  auto relay = std::make_shared<Relay>();
  relay->caller = caller;
  relay->endpoint = endpoint;
  // A leg that ends mid-relay: the other side's re-offer is answered before anything else.
  auto answer_pending = [relay](const srf::DestroyedInfo&) { relay->answer(relay->generation, 500); };
  caller->on_destroy(answer_pending);
  endpoint->dialog()->on_destroy(answer_pending);

  // The caller's re-INVITE goes to Asterisk; Asterisk's answer goes back (hold: recvonly or
  // inactive, and Asterisk stops sending).
  const std::string caller_base = caller->local_sdp();
  caller->on_modify([relay, caller_base](srf::Request req, srf::Response res) {
    auto caller_leg = relay->caller.lock();
    auto endpoint_leg = relay->endpoint.lock();
    if (!caller_leg) {
      send_safely(res, 481);
      return;
    }
    if (relay->busy()) {
      send_safely(res, 491);
      return;
    }
    if (req.body().empty()) {
      // Offerless: our current SDP (Asterisk's) is the offer; the caller answers in its ACK,
      // which the caller's dialog records. Asterisk's session does not change.
      send_safely(res, 200, with_sdp(caller_leg->local_sdp()));
      return;
    }
    if (!endpoint_leg || endpoint_leg->destroyed()) {
      // The caller outlived its endpoint (end_caller_with_endpoint off): a correct answer with no
      // media behind it, until the application moves the caller elsewhere.
      if (auto answer = Endpoint::answer_offer(caller_base, caller_leg->local_sdp(), req.body())) {
        send_safely(res, 200, with_sdp(std::move(*answer)));
      } else {
        send_safely(res, 488);
      }
      return;
    }
    Relay::start(relay, *endpoint_leg->dialog(), req, res);
  });

  // Asterisk's re-INVITE or UPDATE with an offer goes to the caller, always as a re-INVITE
  // (every caller supports it; UPDATE would need the caller's Allow). Without an offer (its
  // connected-line updates, session refreshes) nothing changes for the caller: answered here.
  auto from_asterisk = [relay](srf::Request req, srf::Response res) {
    auto endpoint_leg = relay->endpoint.lock();
    auto caller_leg = relay->caller.lock();
    if (req.body().empty()) {
      if (req.method() == "INVITE" && endpoint_leg) {
        send_safely(res, 200, with_sdp(endpoint_leg->dialog()->local_sdp()));
      } else {
        send_safely(res, 200);
      }
      return;
    }
    if (relay->busy()) {
      send_safely(res, 491);
      return;
    }
    if (!caller_leg || caller_leg->destroyed()) {
      send_safely(res, 500);
      return;
    }
    Relay::start(relay, *caller_leg, req, res);
  };
  endpoint->dialog()->on_modify(from_asterisk);
  endpoint->dialog()->on("UPDATE", from_asterisk);
  // An UPDATE from the caller with an offer is relayed like its re-INVITE.
  caller->on("UPDATE", [relay](srf::Request req, srf::Response res) {
    auto endpoint_leg = relay->endpoint.lock();
    auto caller_leg = relay->caller.lock();
    if (req.body().empty() || !caller_leg) {
      send_safely(res, 200);
      return;
    }
    if (relay->busy()) {
      send_safely(res, 491);
      return;
    }
    if (!endpoint_leg || endpoint_leg->destroyed()) {
      send_safely(res, 488);
      return;
    }
    Relay::start(relay, *endpoint_leg->dialog(), req, res);
  });

  // INFO from the caller: DTMF becomes the endpoint's DTMF event; the rest is the application's.
  std::weak_ptr<Endpoint> weak_endpoint = endpoint;
  caller->on("INFO", [weak_endpoint, on_info = std::move(on_info)](srf::Request req, srf::Response res) {
    const auto content_type = req.header("Content-Type");
    if (sip::is_info_dtmf(content_type)) {
      auto dtmf = sip::parse_info_dtmf(content_type, req.body());
      if (!dtmf) {
        send_safely(res, 400, srf::ResponseOptions{"Bad DTMF", {}, {}, {}});
        return;
      }
      send_safely(res, 200);
      if (auto e = weak_endpoint.lock()) {
        e->dtmf_from_info(DtmfEvent{dtmf->digit, dtmf->duration, DtmfSource::sip_info});
      }
      return;
    }
    if (on_info) {
      on_info(req, res);
      return;
    }
    if (req.body().empty()) {
      send_safely(res, 200);  // an empty INFO (a keep-alive) is fine
    } else {
      send_safely(res, 415, srf::ResponseOptions{{}, {{"Accept", "application/dtmf-relay, application/dtmf"}}, {}, {}});
    }
  });
}

std::shared_ptr<Endpoint> MediaServer::caller_endpoint(const srf::Dialog& dialog) const {
  auto it = callers_.find(&dialog);
  if (it == callers_.end() || it->second.first.lock().get() != &dialog) return nullptr;
  auto endpoint = it->second.second.lock();
  return endpoint && !endpoint->destroyed() && !dialog.destroyed() ? endpoint : nullptr;
}

void MediaServer::start_connect_caller(srf::Request req, srf::Response res, ConnectCallerOptions options,
                                       CallerHandler handler) {
  std::weak_ptr<MediaServer> weak = weak_from_this();
  auto starter = [weak](EndpointOptions endpoint_options, SetupDone done) -> std::function<void(std::exception_ptr)> {
    auto self = weak.lock();
    if (!self) {
      done(std::make_exception_ptr(MediaServerUnavailable("the media server is gone")), nullptr);
      return [](std::exception_ptr) {};
    }
    return self->abort_of(self->begin_setup(std::move(endpoint_options), std::move(done)));
  };
  connect_caller(executor_, srf_, std::move(req), std::move(res), std::move(options), std::move(starter),
                 std::move(handler), telemetry_);
}

void MediaServer::connect_caller(boost::asio::any_io_executor executor, srf::Srf& srf_ref, srf::Request req,
                                 srf::Response res, ConnectCallerOptions options, SetupStarter starter,
                                 CallerHandler handler, std::shared_ptr<const detail::Telemetry> telemetry) {
  using detail::CallerOutcome;
  using util::quote;
  auto op = std::make_shared<CallerOp>();
  op->once = astmrf::detail::make_once(std::move(handler), executor);
  const auto started = std::chrono::steady_clock::now();
  // Every end of the operation goes through here: counted and logged once.
  auto finish = [op, telemetry, call_id = std::string(req.call_id())](std::exception_ptr error, ConnectedCaller result,
                                                                      CallerOutcome outcome, int status) {
    if (op->ended) return;
    op->ended = true;
    telemetry->caller_done(outcome);
    auto& log = *telemetry->log;
    switch (outcome) {
      case CallerOutcome::answered:
        log.debug("event=caller_connected call_id={} channel_id={} server={}", quote(call_id),
                  result.endpoint->channel_id(),
                  quote(result.endpoint->media_server() ? result.endpoint->media_server()->name() : ""));
        break;
      case CallerOutcome::cancelled: log.debug("event=caller_cancelled call_id={}", quote(call_id)); break;
      case CallerOutcome::rejected:
      case CallerOutcome::failed: {
        std::string what;
        try {
          if (error) std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        log.warn("event={} call_id={} status={} cause={} error={}",
                 outcome == CallerOutcome::rejected ? "caller_rejected" : "caller_failed", quote(call_id), status,
                 detail::to_string(detail::cause_of(error)), quote(what));
        break;
      }
    }
    (*op->once)(error, std::move(result));
  };
  if (req.cancelled()) {
    finish(std::make_exception_ptr(srf::RequestCancelled()), {}, CallerOutcome::cancelled, 487);
    return;
  }
  auto shared_options = std::make_shared<ConnectCallerOptions>(std::move(options));
  srf::Srf* srf = &srf_ref;
  EndpointOptions endpoint_options{std::string(req.body()), {}, std::string(req.call_id())};
  auto abort = starter(std::move(endpoint_options), [op, finish, req, res, shared_options, srf, telemetry, started](
                                                        std::exception_ptr error,
                                                        std::shared_ptr<Endpoint> endpoint) mutable {
    if (error) {
      if (req.cancelled()) {
        finish(std::make_exception_ptr(srf::RequestCancelled()), {}, CallerOutcome::cancelled, 487);
        return;
      }
      int status = 500;
      auto response = failure_response(error, *shared_options, status);
      if (!res.finished()) res.send(status, std::move(response));
      finish(error, {}, status == 487 ? CallerOutcome::cancelled : CallerOutcome::rejected, status);
      return;
    }
    if (req.cancelled() || op->once->done()) {
      endpoint->destroy();
      if (!res.finished()) res.send(487, srf::ResponseOptions{"Request Terminated", {}, {}, {}});
      finish(std::make_exception_ptr(srf::RequestCancelled()), {}, CallerOutcome::cancelled, 487);
      return;
    }
    srf::UasOptions uas{endpoint->local_sdp(), shared_options->headers};
    // The caller is answered now (the 200 OK goes out at once); the operation completes at its ACK.
    const auto answered = std::chrono::steady_clock::now();
    srf->async_create_uas(
        req, res, std::move(uas),
        boost::asio::bind_cancellation_slot(
            op->cancel_uas.slot(), [finish, endpoint, shared_options, telemetry, started, answered](
                                       std::exception_ptr uas_error, std::shared_ptr<srf::Dialog> dialog) {
              if (uas_error) {
                endpoint->destroy();  // the caller is gone: so is its media
                const bool cancelled = astmrf::detail::is_operation_aborted(uas_error) ||
                                       detail::cause_of(uas_error) == detail::SetupCause::cancelled;
                finish(uas_error, {}, cancelled ? CallerOutcome::cancelled : CallerOutcome::failed, 200);
                return;
              }
              if (telemetry->caller_connect_seconds) {
                telemetry->caller_connect_seconds->observe(std::chrono::duration<double>(answered - started).count());
              }
              install_mid_call(endpoint, dialog, shared_options->on_info);
              std::weak_ptr<Endpoint> weak_endpoint = endpoint;
              std::weak_ptr<srf::Dialog> weak_dialog = dialog;
              dialog->on_destroy([weak_endpoint](const srf::DestroyedInfo&) {
                if (auto e = weak_endpoint.lock()) e->destroy();
              });
              if (shared_options->end_caller_with_endpoint) {
                endpoint->on_destroy([weak_dialog](EndpointEnd) {
                  if (auto d = weak_dialog.lock()) d->destroy();
                });
              }
              // Known by its dialog on its server (replaces, transfers) while both legs are up.
              if (auto server = endpoint->media_server()) detail::CallHelpers::remember(*server, dialog, endpoint);
              finish(nullptr, ConnectedCaller{endpoint, dialog}, CallerOutcome::answered, 200);
            }));
  });
  // The caller's CANCEL during setup tears the Asterisk leg down.
  req.on_cancel([abort] { abort(std::make_exception_ptr(srf::RequestCancelled())); });
  // The application's cancellation, at any step: during setup the Asterisk leg is undone
  // as on a timeout and the caller gets 487; once the caller was answered (waiting for
  // its ACK) both legs are ended with BYE.
  std::weak_ptr<CallerOp> weak_op = op;
  op->once->on_cancel([abort, weak_op] {
    abort(astmrf::detail::operation_aborted());
    if (auto o = weak_op.lock()) o->cancel_uas.emit(boost::asio::cancellation_type::terminal);
  });
}

}  // namespace astmrf::mrf
