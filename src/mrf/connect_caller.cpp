// connect_caller: an endpoint with the caller's SDP, then the caller answered
// with Asterisk's SDP; the two legs then end together.
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

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
  if (status == 503) response.headers.emplace_back("Retry-After", "5");
  return response;
}

}  // namespace

namespace {

// What a connect_caller in flight shares between its steps and its cancellation.
struct CallerOp {
  std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr, ConnectedCaller)>> once;
  boost::asio::cancellation_signal cancel_uas;  // the caller's 200 OK, until its ACK
};

}  // namespace

void MediaServer::start_connect_caller(srf::Request req, srf::Response res, ConnectCallerOptions options,
                                       CallerHandler handler) {
  auto op = std::make_shared<CallerOp>();
  op->once = astmrf::detail::make_once(std::move(handler), executor_);
  auto finish = [op](std::exception_ptr error, ConnectedCaller result) { (*op->once)(error, std::move(result)); };
  if (req.cancelled()) {
    finish(std::make_exception_ptr(srf::RequestCancelled()), {});
    return;
  }
  auto shared_options = std::make_shared<ConnectCallerOptions>(std::move(options));
  srf::Srf* srf = &srf_;
  auto setup = begin_setup(
      EndpointOptions{std::string(req.body()), {}},
      [op, finish, req, res, shared_options, srf](std::exception_ptr error,
                                                  std::shared_ptr<Endpoint> endpoint) mutable {
        if (error) {
          if (req.cancelled()) {
            finish(std::make_exception_ptr(srf::RequestCancelled()), {});
            return;
          }
          int status = 500;
          auto response = failure_response(error, *shared_options, status);
          if (!res.finished()) res.send(status, std::move(response));
          finish(error, {});
          return;
        }
        if (req.cancelled() || op->once->done()) {
          endpoint->destroy();
          if (!res.finished()) res.send(487, srf::ResponseOptions{"Request Terminated", {}, {}, {}});
          finish(std::make_exception_ptr(srf::RequestCancelled()), {});
          return;
        }
        srf::UasOptions uas{endpoint->local_sdp(), shared_options->headers};
        srf->async_create_uas(
            req, res, std::move(uas),
            boost::asio::bind_cancellation_slot(
                op->cancel_uas.slot(),
                [finish, endpoint, shared_options](std::exception_ptr uas_error, std::shared_ptr<srf::Dialog> dialog) {
                  if (uas_error) {
                    endpoint->destroy();  // the caller is gone: so is its media
                    finish(uas_error, {});
                    return;
                  }
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
                  finish(nullptr, ConnectedCaller{endpoint, dialog});
                }));
      });
  // The caller's CANCEL during setup tears the Asterisk leg down.
  std::weak_ptr<MediaServer> weak = weak_from_this();
  std::weak_ptr<Setup> weak_setup = setup;
  req.on_cancel([weak, weak_setup] {
    auto self = weak.lock();
    auto s = weak_setup.lock();
    if (self && s) self->fail_setup(s, std::make_exception_ptr(srf::RequestCancelled()));
  });
  // The application's cancellation, at any step: during setup the Asterisk leg is undone
  // as on a timeout and the caller gets 487; once the caller was answered (waiting for
  // its ACK) both legs are ended with BYE.
  std::weak_ptr<CallerOp> weak_op = op;
  op->once->on_cancel([weak, weak_setup, weak_op] {
    auto self = weak.lock();
    auto s = weak_setup.lock();
    if (self && s) self->fail_setup(s, astmrf::detail::operation_aborted());
    if (auto o = weak_op.lock()) o->cancel_uas.emit(boost::asio::cancellation_type::terminal);
  });
}

}  // namespace astmrf::mrf
