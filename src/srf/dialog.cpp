#include "server_state.hpp"
#include "session_timer.hpp"

#include <astmrf/detail/async.hpp>
#include <astmrf/sip/sdp.hpp>
#include <astmrf/srf/dialog.hpp>
#include <astmrf/srf/errors.hpp>

#include <stdexcept>

namespace astmrf::srf {

std::string_view to_string(DestroyedInfo::Who who) noexcept {
  switch (who) {
    case DestroyedInfo::Who::local: return "local";
    case DestroyedInfo::Who::remote: return "remote";
    case DestroyedInfo::Who::system: return "system";
  }
  return "unknown";
}

Dialog::Dialog(std::shared_ptr<BackendDialog> backend, Role role, std::string local_sdp, std::string remote_sdp,
               boost::asio::any_io_executor executor)
    : backend_(std::move(backend)),
      role_(role),
      local_sdp_(std::move(local_sdp)),
      remote_sdp_(std::move(remote_sdp)),
      executor_(std::move(executor)),
      destroyed_(executor_) {}

Dialog::~Dialog() {
  // A dialog nobody holds any more cannot be hung up later: end the call now
  // rather than leave it up with no owner.
  if (!destroyed_.ended() && !backend_->terminated()) backend_->bye({});
  if (!destroyed_.ended() && observers_ && observers_->metrics) {
    observers_->dialogs[role_ == Role::uas ? 0 : 1]->dec();  // dropped before it ended
  }
}

void Dialog::attach() {
  std::weak_ptr<Dialog> weak = weak_from_this();
  backend_->on_end([weak](DialogEndReason reason) {
    if (auto self = weak.lock()) self->ended(reason);
  });
  backend_->on_request([weak](const std::shared_ptr<BackendServerTransaction>& transaction) {
    if (auto self = weak.lock())
      self->incoming(transaction);
    else
      transaction->respond(ResponseSpec{481, "Call/Transaction Does Not Exist", {}, {}, {}});
  });
  // An offerless re-INVITE got our offer in its 2xx: the ACK carries the peer's answer.
  backend_->on_ack([weak](const sip::Message& ack) {
    auto self = weak.lock();
    if (self && !ack.body().empty()) self->remote_sdp_ = std::string(ack.body());
  });
}

void Dialog::destroy(HeaderList headers) {
  if (destroyed_.ended() || destroy_requested_) return;
  destroy_requested_ = true;
  auto keep = shared_from_this();
  backend_->bye(std::move(headers));  // ends the dialog: ended(local_bye) runs from here
  if (!destroyed_.ended()) ended(DialogEndReason::local_bye);
}

void Dialog::on_destroy(std::function<void(const DestroyedInfo&)> handler) { destroyed_.on_end(std::move(handler)); }

void Dialog::on_modify(std::function<void(Request, Response)> handler) { on_modify_ = std::move(handler); }

void Dialog::on(const std::string& method, std::function<void(Request, Response)> handler) {
  handlers_[method] = std::move(handler);
}

void Dialog::ended(DialogEndReason reason) {
  DestroyedInfo info;
  // Our BYE for an expired session: the timer ended it, not the application.
  if (session_expired_ && reason == DialogEndReason::local_bye) reason = DialogEndReason::session_timer;
  info.reason = reason;
  info.who = reason == DialogEndReason::local_bye    ? DestroyedInfo::Who::local
             : reason == DialogEndReason::remote_bye ? DestroyedInfo::Who::remote
                                                     : DestroyedInfo::Who::system;
  if (!destroyed_.set(info)) return;
  auto keep = shared_from_this();
  if (observers_) {
    if (observers_->metrics) observers_->dialogs[role_ == Role::uas ? 0 : 1]->dec();
    if (observers_->log->should_log(spdlog::level::debug))
      observers_->log->debug("event=dialog_ended call_id={} role={} reason={}", util::quote(backend_->call_id()),
                             role_ == Role::uas ? "uas" : "uac", sip::to_string(reason));
  }
  if (session_timer_) session_timer_->timer.cancel();
  on_modify_ = nullptr;  // handlers may hold the dialog: release them
  handlers_.clear();
  refer_notify_ = nullptr;
  destroyed_.notify();
}

void Dialog::wait_destroyed(DestroyedHandler handler) { destroyed_.wait(std::move(handler)); }

void Dialog::incoming(const std::shared_ptr<BackendServerTransaction>& transaction) {
  auto state = std::make_shared<detail::ServerState>(transaction, executor_);
  auto req = detail::Access::request(state);
  auto res = detail::Access::response(state);
  const std::string method(req.method());
  try {
    if (method == "INVITE" || method == "UPDATE") {
      record_answer(*state, std::string(req.body()));
      if (session_timer_) session_refresh_received(*state);
    }
    if (method == "INVITE") {
      if (on_modify_) {
        auto handler = on_modify_;
        handler(req, res);
      } else {
        res.send(200, ResponseOptions{{}, {}, "application/sdp", local_sdp_});
      }
      return;
    }
    if (method == "NOTIFY" && refer_notify_ && detail::is_refer_event(req.header("Event"))) {
      auto handler = refer_notify_;
      handler(req, res);
      return;
    }
    auto it = handlers_.find(method);
    if (it != handlers_.end()) {
      auto handler = it->second;
      handler(req, res);
    } else if (method == "REFER") {
      res.send(603, ResponseOptions{"Declined", {}, {}, {}});
    } else if (method == "UPDATE" && !req.body().empty()) {
      res.send(200, ResponseOptions{{}, {}, "application/sdp", local_sdp_});  // an offer needs an answer
    } else {
      res.send(200);
    }
  } catch (const std::exception&) {
    if (!res.finished()) res.send(500);
  }
}

void Dialog::record_answer(detail::ServerState& state, std::string offer) {
  // Both SDPs change only when the offer is accepted (2xx): a rejected re-offer leaves the
  // session as it was (RFC 3264 8). Without an offer, a 2xx body is our offer and the
  // peer's answer comes in the ACK (see attach()).
  std::weak_ptr<Dialog> weak = weak_from_this();
  state.on_final = [weak, offer = std::move(offer)](int status, const std::string& body) {
    auto self = weak.lock();
    if (!self || status < 200 || status >= 300) return;
    if (!offer.empty()) self->remote_sdp_ = offer;
    if (!body.empty()) self->local_sdp_ = body;
  };
}

void Dialog::start_request(std::string method, RequestOptions options, MessageHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (destroyed_.ended()) {
    (*once)(std::make_exception_ptr(DialogGone()), sip::Message{});
    return;
  }
  RequestSpec spec;
  spec.method = std::move(method);
  spec.headers = std::move(options.headers);
  spec.content_type = std::move(options.content_type);
  spec.body = std::move(options.body);
  std::shared_ptr<BackendClientTransaction> transaction;
  try {
    transaction =
        backend_->request(std::move(spec), [once](const sip::Message& response, const std::shared_ptr<BackendDialog>&) {
          if (response.status() >= 200) (*once)(nullptr, response);
        });
  } catch (...) {
    (*once)(std::current_exception(), sip::Message{});
    return;
  }
  if (!transaction) {
    (*once)(std::make_exception_ptr(DialogGone()), sip::Message{});
    return;
  }
  // Cancelled: the request still completes on the wire; its response is dropped.
  once->on_cancel();
}

void Dialog::start_modify(std::string sdp, SdpHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  std::weak_ptr<Dialog> weak = weak_from_this();
  RequestOptions options{{}, "application/sdp", sdp};
  // The re-INVITE is an in-dialog request whose 2xx also updates both SDPs, even after
  // the application cancelled the wait (the peer's state changed all the same).
  start_request("INVITE", std::move(options),
                MessageHandler([once, weak, sdp](std::exception_ptr error, sip::Message response) mutable {
                  if (!error && response.status() >= 300) {
                    error =
                        std::make_exception_ptr(SipFailure(response.status(), std::string(response.reason()), false));
                  }
                  std::string remote;
                  if (!error) {
                    remote = std::string(response.body());
                    if (auto self = weak.lock()) {
                      self->local_sdp_ = std::move(sdp);
                      self->remote_sdp_ = remote;
                    }
                  }
                  (*once)(error, std::move(remote));
                }));
  once->on_cancel();
}

std::string Dialog::with_direction(std::string_view direction) const {
  auto parsed = sip::sdp::parse(local_sdp_);
  if (!parsed) throw std::invalid_argument("the dialog's local SDP cannot be parsed: " + parsed.error().message());
  auto wanted = direction == "sendonly" ? sip::sdp::Direction::sendonly : sip::sdp::Direction::sendrecv;
  for (auto& media : parsed->media) media.set_direction(wanted);
  return parsed->to_string();
}

}  // namespace astmrf::srf
