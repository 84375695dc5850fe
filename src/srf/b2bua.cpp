// A back-to-back user agent built from the two halves Srf already has: a UAC
// toward B, then a UAS toward the caller with B's SDP, tied together.
#include "server_state.hpp"

#include <astmrf/detail/async.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

namespace astmrf::srf {

namespace {

struct B2bua {
  std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr, B2buaLegs)>> once;
  boost::asio::cancellation_signal cancel_b;  // the UAC toward B
  boost::asio::cancellation_signal cancel_a;  // the UAS toward the caller, until its ACK
  boost::asio::any_io_executor executor;
  std::shared_ptr<const detail::SrfObservers> observers;
  bool aborted{false};  // the application cancelled the operation

  void finish(std::exception_ptr error, B2buaLegs legs) { (*once)(error, std::move(legs)); }
};

// BYE on one leg ends the other.
void tie_legs(const std::shared_ptr<Dialog>& a, const std::shared_ptr<Dialog>& b) {
  std::weak_ptr<Dialog> weak_a = a;
  std::weak_ptr<Dialog> weak_b = b;
  a->on_destroy([weak_b](const DestroyedInfo&) {
    if (auto other = weak_b.lock()) other->destroy();
  });
  b->on_destroy([weak_a](const DestroyedInfo&) {
    if (auto other = weak_a.lock()) other->destroy();
  });
}

}  // namespace

void Srf::start_b2bua(Request req, Response res, std::string uri, B2buaOptions options, LegsHandler handler) {
  auto state = std::make_shared<B2bua>();
  state->executor = get_executor();
  state->observers = observers();
  state->once = astmrf::detail::make_once(std::move(handler), state->executor);

  UacOptions uac = std::move(options.uac);
  if (uac.local_sdp.empty()) uac.local_sdp = std::string(req.body());
  if (options.relay_provisionals) {
    auto user_provisional = std::move(uac.on_provisional);
    uac.on_provisional = [res, user_provisional](const sip::Message& provisional) mutable {
      if (user_provisional) user_provisional(provisional);
      const int status = provisional.status();
      if (status <= 100 || res.finished()) return;
      std::string content_type;
      if (!provisional.body().empty()) content_type = "application/sdp";
      // B's reliable provisional (RFC 3262) goes to the caller reliably too, when it supports 100rel.
      const bool reliable = !provisional.header(sip::HeaderId::rseq).empty();
      res.send(status,
               ResponseOptions{
                   std::string(provisional.reason()), {}, content_type, std::string(provisional.body()), reliable});
    };
  }
  // The caller's CANCEL cancels B.
  std::weak_ptr<B2bua> weak = state;
  req.on_cancel([weak] {
    if (auto s = weak.lock()) s->cancel_b.emit(boost::asio::cancellation_type::terminal);
  });
  // The application's cancellation cancels whichever leg is being set up; the caller then
  // gets 487 (or, once answered, a BYE) and B a CANCEL (or, once up, a BYE).
  state->once->on_cancel([weak] {
    auto s = weak.lock();
    if (!s) return;
    s->aborted = true;
    s->cancel_b.emit(boost::asio::cancellation_type::terminal);
    s->cancel_a.emit(boost::asio::cancellation_type::terminal);
  });

  auto uas_headers = std::move(options.uas_headers);
  const bool end_together = options.end_together;
  auto uas_session_timer = options.uas_session_timer;
  start_uac(std::move(uri), std::move(uac),
            DialogHandler(boost::asio::bind_cancellation_slot(
                state->cancel_b.slot(), [state, req, res, uas_headers, end_together, uas_session_timer](
                                            std::exception_ptr error, std::shared_ptr<Dialog> b) mutable {
                  if (state->aborted) {
                    if (b) b->destroy();
                    if (!res.finished()) res.send(487, ResponseOptions{"Request Terminated", {}, {}, {}});
                    return;
                  }
                  if (error) {
                    if (req.cancelled()) {
                      state->finish(std::make_exception_ptr(RequestCancelled()), {});
                      return;
                    }
                    // B's failure becomes the caller's, status and reason.
                    int status = 500;
                    std::string reason;
                    try {
                      std::rethrow_exception(error);
                    } catch (const SipFailure& failure) {
                      status = failure.status();
                      reason = failure.reason();
                    } catch (...) {
                    }
                    if (!res.finished()) res.send(status, ResponseOptions{reason, {}, {}, {}});
                    state->finish(error, {});
                    return;
                  }
                  UasOptions uas{b->remote_sdp(), std::move(uas_headers), uas_session_timer};
                  detail::answer_uas(state->executor, state->observers, req, std::move(uas),
                                     DialogHandler(boost::asio::bind_cancellation_slot(
                                         state->cancel_a.slot(), [state, b, end_together](std::exception_ptr uas_error,
                                                                                          std::shared_ptr<Dialog> a) {
                                           if (uas_error || state->aborted) {
                                             if (a) a->destroy();
                                             b->destroy();  // the caller is gone: do not leave B up
                                             state->finish(uas_error, {});
                                             return;
                                           }
                                           if (end_together) tie_legs(a, b);
                                           state->finish(nullptr, B2buaLegs{a, b});
                                         })));
                })));
}

}  // namespace astmrf::srf
