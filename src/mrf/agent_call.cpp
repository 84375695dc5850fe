// async_call_agent: the agent's endpoint (Asterisk's offer), the INVITE to the agent with it,
// ringback to the caller meanwhile, the agent's answer re-offered to its endpoint, then the two
// endpoints bridged and tied together. Every failure undoes what was started.
#include "call_helpers.hpp"

#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/agent_call.hpp>
#include <astmrf/sip/sdp.hpp>
#include <astmrf/util/log.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/system_executor.hpp>
#include <spdlog/logger.h>

#include <stdexcept>
#include <utility>

namespace astmrf::mrf {

namespace detail {

std::shared_ptr<spdlog::logger> CallHelpers::logger(MediaServer& server) { return server.log_; }
srf::Srf& CallHelpers::srf(MediaServer& server) { return server.srf_; }
boost::asio::any_io_executor CallHelpers::executor(MediaServer& server) { return server.executor_; }
void CallHelpers::install_mid_call(const std::shared_ptr<Endpoint>& endpoint,
                                   const std::shared_ptr<srf::Dialog>& dialog) {
  MediaServer::install_mid_call(endpoint, dialog, {});
}

void CallHelpers::remember(MediaServer& server, const std::shared_ptr<srf::Dialog>& dialog,
                           const std::shared_ptr<Endpoint>& endpoint) {
  server.callers_[dialog.get()] = {dialog, endpoint};
  std::weak_ptr<MediaServer> weak_server = server.weak_from_this();
  const srf::Dialog* key = dialog.get();
  dialog->on_destroy([weak_server, key](const srf::DestroyedInfo&) {
    if (auto s = weak_server.lock()) s->callers_.erase(key);
  });
}

void CallHelpers::tie(MediaServer& server, const std::shared_ptr<Endpoint>& a, const std::shared_ptr<Endpoint>& b) {
  auto tie = std::make_shared<CallTie>();
  tie->a = a;
  tie->b = b;
  a->on_destroy([tie](EndpointEnd) {
    if (!tie->active) return;
    if (auto other = tie->b.lock()) other->destroy();  // a connected caller's caller then gets BYE
  });
  b->on_destroy([tie](EndpointEnd) {
    if (!tie->active) return;
    if (auto other = tie->a.lock()) other->destroy();
  });
  std::erase_if(server.ties_, [](const std::weak_ptr<CallTie>& t) { return t.expired(); });
  server.ties_.push_back(tie);
}

std::vector<std::shared_ptr<Endpoint>> CallHelpers::untie(MediaServer& server, const Endpoint& endpoint) {
  std::vector<std::shared_ptr<Endpoint>> partners;
  for (auto& weak : server.ties_) {
    auto tie = weak.lock();
    if (!tie || !tie->active) continue;
    auto a = tie->a.lock();
    auto b = tie->b.lock();
    if (a.get() != &endpoint && b.get() != &endpoint) continue;
    tie->active = false;
    auto other = a.get() == &endpoint ? b : a;
    if (other && !other->destroyed()) partners.push_back(std::move(other));
  }
  return partners;
}

}  // namespace detail

namespace {

using util::quote;
using Once = astmrf::detail::Once<void(std::exception_ptr, AgentCall)>;

// `sdp` with every stream sendrecv (Asterisk's answer to an inactive offer is inactive).
std::string sendrecv(const std::string& sdp) {
  auto parsed = sip::sdp::parse(sdp);
  if (!parsed) return sdp;
  std::erase_if(parsed->attributes, [](const sip::sdp::Attribute& a) {
    return !a.has_value && (a.name == "sendonly" || a.name == "recvonly" || a.name == "inactive");
  });
  for (auto& media : parsed->media) media.set_direction(sip::sdp::Direction::sendrecv);
  return parsed->to_string();
}

// The agent's refusal as an AgentCallFailed; other errors (media, cancellation) pass through.
std::exception_ptr classify(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const srf::CallCancelled& e) {
    return std::make_exception_ptr(AgentCallFailed(AgentCallFailed::Reason::no_answer, 408, e.what()));
  } catch (const srf::SipFailure& e) {
    const int status = e.status();
    auto reason = AgentCallFailed::Reason::rejected;
    if (status == 486 || status == 600) reason = AgentCallFailed::Reason::busy;
    if (status == 408) reason = AgentCallFailed::Reason::no_answer;
    return std::make_exception_ptr(AgentCallFailed(reason, status, e.what()));
  } catch (...) {
    return error;
  }
}

// One agent call in flight: what its steps and its cancellation share.
struct AgentOp {
  std::shared_ptr<Once> once;
  std::weak_ptr<MediaServer> server;
  std::shared_ptr<spdlog::logger> log;
  std::string server_name;           // for log lines
  std::shared_ptr<Endpoint> caller;  // until it completes
  std::string uri;
  AgentCallOptions options;
  std::shared_ptr<Endpoint> agent;
  std::shared_ptr<srf::Dialog> dialog;
  boost::asio::cancellation_signal cancel_setup;     // the agent's endpoint, while it is set up
  boost::asio::cancellation_signal cancel_uac;       // the INVITE to the agent (CANCEL)
  boost::asio::cancellation_signal cancel_ringback;  // the ring tone's playback
  bool setup_pending{false};
  bool uac_pending{false};
  bool ringback_on{false};
  bool finished{false};
  Subscription caller_end;
};

// Stops what plays to the caller; `then` runs once the stop was asked (a ring tone's playback
// is stopped by cancelling its play: Asterisk adds the caller to a bridge after it ends).
void stop_ringback(const std::shared_ptr<AgentOp>& op, std::function<void()> then) {
  if (!op->ringback_on) {
    if (then) then();
    return;
  }
  op->ringback_on = false;
  switch (op->options.ringback) {
    case Ringback::ringing:
      op->cancel_ringback.emit(boost::asio::cancellation_type::terminal);
      if (then) then();
      return;
    case Ringback::music_on_hold:
      if (op->caller && !op->caller->destroyed()) {
        op->caller->async_stop_moh([then = std::move(then)](std::exception_ptr) {
          if (then) then();
        });
        return;
      }
      break;
    case Ringback::none: break;
  }
  if (then) then();
}

void start_ringback(const std::shared_ptr<AgentOp>& op) {
  auto& caller = *op->caller;
  switch (op->options.ringback) {
    case Ringback::ringing: {
      op->ringback_on = true;
      PlayOptions play;
      play.playback_id = caller.make_playback_id();
      caller.async_play(std::vector<std::string>{"tone:ring"}, std::move(play),
                        boost::asio::bind_cancellation_slot(op->cancel_ringback.slot(),
                                                            [](std::exception_ptr, const PlayResult&) {}));
      break;
    }
    case Ringback::music_on_hold:
      op->ringback_on = true;
      caller.async_start_moh(op->options.moh_class, [](std::exception_ptr) {});
      break;
    case Ringback::none: break;
  }
}

// Undoes whatever was started (the operation has completed or is completing with an error).
void teardown(const std::shared_ptr<AgentOp>& op) {
  if (op->setup_pending) op->cancel_setup.emit(boost::asio::cancellation_type::terminal);
  if (op->uac_pending) op->cancel_uac.emit(boost::asio::cancellation_type::terminal);
  stop_ringback(op, {});
  if (op->dialog) op->dialog->destroy();
  if (op->agent) op->agent->destroy();
  op->dialog.reset();
  op->agent.reset();
}

void finish(const std::shared_ptr<AgentOp>& op, std::exception_ptr error, AgentCall call = {}) {
  if (op->finished) return;
  op->finished = true;
  const std::string call_id = op->caller ? op->caller->call_id() : std::string{};
  if (error) {
    std::string what;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    op->log->debug("event=agent_call_failed call_id={} uri={} server={} error={}", quote(call_id), quote(op->uri),
                   quote(op->server_name), quote(what));
    teardown(op);
  } else {
    op->log->debug("event=agent_call_connected call_id={} uri={} agent_call_id={} channel_id={} server={}",
                   quote(call_id), quote(op->uri), quote(call.agent_dialog->call_id()), call.agent->channel_id(),
                   quote(op->server_name));
  }
  op->caller_end = {};
  op->caller.reset();
  (*op->once)(std::move(error), std::move(call));
}

void bridge(const std::shared_ptr<AgentOp>& op) {
  op->caller->async_bridge(op->agent, op->options.bridge, [op](std::exception_ptr error, std::shared_ptr<Bridge> made) {
    if (op->finished) return;
    if (error) {
      finish(op, error);
      return;
    }
    if (op->agent->destroyed() || op->dialog->destroyed() || op->caller->destroyed()) {
      finish(op, std::make_exception_ptr(CallEnded(op->agent->end_reason())));
      return;
    }
    detail::CallHelpers::install_mid_call(op->agent, op->dialog);
    if (auto server = op->server.lock()) {
      detail::CallHelpers::remember(*server, op->dialog, op->agent);  // its leg can be replaced too
    }
    if (op->options.end_together) {
      if (auto server = op->server.lock()) {
        detail::CallHelpers::tie(*server, op->caller, op->agent);
      }
    }
    AgentCall call{op->agent, op->dialog, std::move(made)};
    finish(op, nullptr, std::move(call));
  });
}

// The agent answered: its SDP goes to its endpoint, the ringback stops, the two are bridged.
void answered(const std::shared_ptr<AgentOp>& op, std::shared_ptr<srf::Dialog> dialog) {
  op->dialog = std::move(dialog);
  // The agent's two legs end together from now on (a BYE from the agent mid-step fails the step).
  std::weak_ptr<Endpoint> weak_agent = op->agent;
  std::weak_ptr<srf::Dialog> weak_dialog = op->dialog;
  op->dialog->on_destroy([weak_agent](const srf::DestroyedInfo&) {
    if (auto a = weak_agent.lock()) a->destroy();
  });
  op->agent->on_destroy([weak_dialog](EndpointEnd) {
    if (auto d = weak_dialog.lock()) d->destroy();
  });
  const std::string agent_sdp = op->dialog->remote_sdp();
  op->agent->async_modify(agent_sdp, [op](std::exception_ptr error, const std::string&) {
    if (op->finished) return;
    if (error) {
      finish(op, error);
      return;
    }
    stop_ringback(op, [op] {
      if (!op->finished) bridge(op);
    });
  });
}

void place_call(const std::shared_ptr<AgentOp>& op) {
  auto server = op->server.lock();
  if (!server) {
    finish(op, std::make_exception_ptr(MediaServerUnavailable("the media server is gone")));
    return;
  }
  srf::UacOptions uac = op->options.uac;
  uac.local_sdp = sendrecv(op->agent->local_sdp());
  uac.answer_late_offer = {};
  op->uac_pending = true;
  op->log->debug("event=agent_call_invite call_id={} uri={} channel_id={} server={}", quote(op->caller->call_id()),
                 quote(op->uri), op->agent->channel_id(), quote(op->server_name));
  detail::CallHelpers::srf(*server).async_create_uac(
      op->uri, std::move(uac),
      boost::asio::bind_cancellation_slot(op->cancel_uac.slot(),
                                          [op](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
                                            op->uac_pending = false;
                                            if (op->finished) {
                                              if (dialog) dialog->destroy();  // a 2xx that raced our end
                                              return;
                                            }
                                            if (error) {
                                              finish(op, classify(error));
                                              return;
                                            }
                                            answered(op, std::move(dialog));
                                          }));
}

}  // namespace

namespace detail {

void start_call_agent(std::shared_ptr<Endpoint> caller, std::string uri, AgentCallOptions options,
                      AgentCallHandler handler) {
  auto server = caller ? caller->media_server() : nullptr;
  if (!server) {
    auto error = caller ? std::make_exception_ptr(MediaServerUnavailable("the caller's media server is gone"))
                        : std::make_exception_ptr(std::invalid_argument("call_agent: no caller endpoint"));
    astmrf::detail::complete(std::move(handler), boost::asio::system_executor(), error, AgentCall{});
    return;
  }
  auto op = std::make_shared<AgentOp>();
  op->once = astmrf::detail::make_once(std::move(handler), CallHelpers::executor(*server));
  op->server = server;
  op->log = CallHelpers::logger(*server);
  op->server_name = server->name();
  op->caller = std::move(caller);
  op->uri = std::move(uri);
  op->options = std::move(options);
  if (op->caller->destroyed()) {
    finish(op, std::make_exception_ptr(CallEnded(op->caller->end_reason())));
    return;
  }
  std::weak_ptr<AgentOp> weak = op;
  op->once->on_cancel([weak] {
    auto o = weak.lock();
    if (!o || o->finished) return;
    o->finished = true;  // completed with operation_aborted already
    o->log->debug("event=agent_call_cancelled call_id={} uri={}",
                  quote(o->caller ? o->caller->call_id() : std::string{}), quote(o->uri));
    teardown(o);
    o->caller_end = {};
    o->caller.reset();
  });
  // The caller hanging up while the agent rings: CANCEL, and the call fails.
  op->caller_end = op->caller->on_destroyed([weak](const EndpointEnd&) {
    auto o = weak.lock();
    if (!o || o->finished) return;
    finish(o, std::make_exception_ptr(AgentCallFailed(AgentCallFailed::Reason::caller_gone, 487,
                                                      "the caller hung up while the agent rang")));
  });
  start_ringback(op);
  EndpointOptions endpoint_options;
  endpoint_options.call_id = op->caller->call_id();
  op->setup_pending = true;
  server->async_create_endpoint(
      std::move(endpoint_options),
      boost::asio::bind_cancellation_slot(op->cancel_setup.slot(),
                                          [op](std::exception_ptr error, std::shared_ptr<Endpoint> agent) {
                                            op->setup_pending = false;
                                            if (op->finished) {
                                              if (agent) agent->destroy();
                                              return;
                                            }
                                            if (error) {
                                              finish(op, error);
                                              return;
                                            }
                                            op->agent = std::move(agent);
                                            place_call(op);
                                          }));
}

}  // namespace detail

}  // namespace astmrf::mrf
