// MediaServer::async_replace_caller: the replacing INVITE of an attended transfer (RFC 3891)
// takes the replaced caller's place: connected, put in its bridge, given its end-together ties;
// then the replaced call ends.
#include "call_helpers.hpp"

#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/bridge.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/util/log.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <spdlog/logger.h>

#include <stdexcept>
#include <utility>
#include <vector>

namespace astmrf::mrf {

namespace {

using util::quote;

void send_safely(srf::Response& res, int status) {
  if (res.finished()) return;
  try {
    res.send(status);
  } catch (const std::exception&) {  // the transaction is gone
  }
}

}  // namespace

namespace {

struct ReplaceOp {
  std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr, ConnectedCaller)>> once;
  std::weak_ptr<srf::Dialog> replaced;
  std::weak_ptr<Endpoint> replaced_endpoint;
  boost::asio::cancellation_signal cancel_connect;
};

}  // namespace

void MediaServer::start_replace_caller(srf::Request req, srf::Response res, ConnectCallerOptions options,
                                       CallerHandler handler) {
  auto op = std::make_shared<ReplaceOp>();
  op->once = astmrf::detail::make_once(std::move(handler), executor_);
  auto replaced = req.replaced_dialog();
  auto old = replaced ? caller_endpoint(*replaced) : nullptr;
  if (!old) {
    send_safely(res, 481);
    (*op->once)(
        std::make_exception_ptr(std::invalid_argument("replace: the replaced dialog is no caller of this server")),
        ConnectedCaller{});
    return;
  }
  op->replaced = replaced;
  op->replaced_endpoint = old;
  log_->debug("event=replace_caller call_id={} replaced_call_id={} channel_id={} server={}", quote(req.call_id()),
              quote(replaced->call_id()), old->channel_id(), quote(name()));
  std::weak_ptr<ReplaceOp> weak_op = op;
  op->once->on_cancel([weak_op] {
    if (auto o = weak_op.lock()) o->cancel_connect.emit(boost::asio::cancellation_type::terminal);
  });
  std::weak_ptr<MediaServer> weak = weak_from_this();
  async_connect_caller(
      std::move(req), std::move(res), std::move(options),
      boost::asio::bind_cancellation_slot(
          op->cancel_connect.slot(), [op, weak](std::exception_ptr error, ConnectedCaller connected) {
            if (op->once->done()) {  // cancelled meanwhile
              if (connected.endpoint) connected.endpoint->destroy();
              return;
            }
            auto self = weak.lock();
            if (error || !self) {
              (*op->once)(error ? error : std::make_exception_ptr(MediaServerUnavailable("the media server is gone")),
                          ConnectedCaller{});
              return;
            }
            auto replaced_endpoint = op->replaced_endpoint.lock();
            // The replaced caller's partners (its agent call) now end with the new caller; its own
            // end must not end them.
            auto partners = replaced_endpoint ? detail::CallHelpers::untie(*self, *replaced_endpoint)
                                              : std::vector<std::shared_ptr<Endpoint>>{};
            auto take_over = [op, weak, connected, partners](std::exception_ptr add_error) {
              auto server = weak.lock();
              auto previous = op->replaced_endpoint.lock();
              if (add_error) {
                // The new caller could not take the place: it goes, the replaced call stays as it was.
                if (server && previous) {
                  for (const auto& p : partners) detail::CallHelpers::tie(*server, previous, p);
                }
                connected.endpoint->destroy();
                (*op->once)(add_error, ConnectedCaller{});
                return;
              }
              if (server) {
                for (const auto& p : partners) detail::CallHelpers::tie(*server, connected.endpoint, p);
              }
              if (previous) previous->destroy();
              if (auto dialog = op->replaced.lock()) dialog->destroy();
              (*op->once)(nullptr, connected);
            };
            auto bridge = replaced_endpoint && !replaced_endpoint->destroyed() ? replaced_endpoint->bridge() : nullptr;
            if (!bridge) {
              take_over(nullptr);  // nothing to take over but the call itself
              return;
            }
            bridge->async_add(connected.endpoint, MemberOptions{}, std::move(take_over));
          }));
}

}  // namespace astmrf::mrf
