// A back-to-back user agent built from the two halves Srf already has: a UAC
// toward B, then a UAS toward the caller with B's SDP, tied together.
#include "completion.hpp"
#include "server_state.hpp"

#include <astmrf/srf/srf.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

namespace astmrf::srf {

namespace {

struct B2bua {
  std::optional<boost::asio::any_completion_handler<void(std::exception_ptr, B2buaLegs)>> handler;
  boost::asio::cancellation_signal cancel_b;
  boost::asio::any_io_executor executor;

  void finish(std::exception_ptr error, B2buaLegs legs) {
    if (!handler) return;
    auto h = std::move(*handler);
    handler.reset();
    detail::complete(std::move(h), executor, error, std::move(legs));
  }
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
  state->handler.emplace(std::move(handler));
  state->executor = get_executor();

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
      res.send(status,
               ResponseOptions{std::string(provisional.reason()), {}, content_type, std::string(provisional.body())});
    };
  }
  // The caller's CANCEL cancels B.
  std::weak_ptr<B2bua> weak = state;
  req.on_cancel([weak] {
    if (auto s = weak.lock()) s->cancel_b.emit(boost::asio::cancellation_type::terminal);
  });

  auto uas_headers = std::move(options.uas_headers);
  const bool end_together = options.end_together;
  start_uac(std::move(uri), std::move(uac),
            DialogHandler(boost::asio::bind_cancellation_slot(
                state->cancel_b.slot(), [state, req, res, uas_headers, end_together](
                                            std::exception_ptr error, std::shared_ptr<Dialog> b) mutable {
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
                  UasOptions uas{b->remote_sdp(), std::move(uas_headers)};
                  detail::answer_uas(
                      state->executor, req, std::move(uas),
                      DialogHandler([state, b, end_together](std::exception_ptr uas_error, std::shared_ptr<Dialog> a) {
                        if (uas_error) {
                          b->destroy();  // the caller is gone: do not leave B up
                          state->finish(uas_error, {});
                          return;
                        }
                        if (end_together) tie_legs(a, b);
                        state->finish(nullptr, B2buaLegs{a, b});
                      }));
                })));
}

}  // namespace astmrf::srf
