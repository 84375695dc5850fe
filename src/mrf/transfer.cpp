// The blind transfer: a REFER performed as an agent call to the Refer-To target for the other
// party, NOTIFYs with its progress, then the referrer's legs ended.
#include "call_helpers.hpp"

#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/transfer.hpp>
#include <astmrf/util/log.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/system_executor.hpp>
#include <spdlog/logger.h>

#include <stdexcept>
#include <utility>

namespace astmrf::mrf {

namespace {

using util::quote;

// The final NOTIFY's status line for a failed call to the target.
std::pair<int, std::string> final_status(const std::exception_ptr& error) {
  if (astmrf::detail::is_operation_aborted(error)) return {487, "Request Terminated"};
  try {
    std::rethrow_exception(error);
  } catch (const AgentCallFailed& failed) {
    switch (failed.reason()) {
      case AgentCallFailed::Reason::busy: return {failed.status(), "Busy Here"};
      case AgentCallFailed::Reason::no_answer: return {failed.status(), "Request Timeout"};
      case AgentCallFailed::Reason::caller_gone: return {failed.status(), "Request Terminated"};
      case AgentCallFailed::Reason::rejected: return {failed.status(), "Rejected"};
    }
  } catch (...) {
  }
  return {503, "Service Unavailable"};
}

void send_safely(srf::Response& res, int status) {
  if (res.finished()) return;
  try {
    res.send(status);
  } catch (const std::exception&) {  // the transaction is gone
  }
}

struct TransferOp {
  std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr, AgentCall)>> once;
  std::shared_ptr<srf::ReferNotifier> notifier;
  ConnectedCaller referrer;
  std::weak_ptr<MediaServer> server;
  std::shared_ptr<spdlog::logger> log;
  TransferOptions options;
  boost::asio::cancellation_signal cancel_call;
};

// The target answered: final NOTIFY, then the referrer's legs end (its ties to `other` undone first).
void transferred(const std::shared_ptr<TransferOp>& op, AgentCall made) {
  op->notifier->async_notify(200, "OK", [op, made = std::move(made)](std::exception_ptr) mutable {
    auto& referrer = op->referrer;
    if (op->options.end_referrer) {
      if (auto server = op->server.lock(); server && referrer.endpoint) {
        detail::CallHelpers::untie(*server, *referrer.endpoint);
      }
      if (referrer.endpoint) referrer.endpoint->destroy();
      if (referrer.dialog) referrer.dialog->destroy();
    }
    op->log->debug("event=blind_transfer_done call_id={} target_call_id={}",
                   quote(referrer.dialog ? referrer.dialog->call_id() : std::string{}),
                   quote(made.agent_dialog->call_id()));
    op->referrer = {};
    (*op->once)(nullptr, std::move(made));
  });
}

}  // namespace

namespace detail {

void start_blind_transfer(ConnectedCaller referrer, srf::Request refer, srf::Response res,
                          std::shared_ptr<Endpoint> other, TransferOptions options, AgentCallHandler handler) {
  auto server = other ? other->media_server() : nullptr;
  if (!server || !referrer.dialog) {
    send_safely(res, 503);
    auto error = std::make_exception_ptr(std::invalid_argument("blind transfer: no referrer dialog or other party"));
    astmrf::detail::complete(std::move(handler), boost::asio::system_executor(), error, AgentCall{});
    return;
  }
  auto op = std::make_shared<TransferOp>();
  op->once = astmrf::detail::make_once(std::move(handler), CallHelpers::executor(*server));
  op->notifier = srf::accept_refer(referrer.dialog, refer, res);
  if (!op->notifier) {  // answered 400
    (*op->once)(std::make_exception_ptr(std::invalid_argument("blind transfer: the REFER has no usable Refer-To")),
                AgentCall{});
    return;
  }
  op->referrer = std::move(referrer);
  op->server = server;
  op->log = CallHelpers::logger(*server);
  op->options = std::move(options);
  const auto& refer_to = op->notifier->refer_to();
  const std::string target = refer_to.uri;
  // What the REFER asks the INVITE to carry (RFC 3515 2.1, RFC 3891 attended transfer, RFC 3892).
  auto& headers = op->options.call.uac.headers;
  for (const auto& header : refer_to.headers) headers.push_back(header);
  if (refer_to.replaces) headers.emplace_back("Replaces", srf::format_replaces(*refer_to.replaces));
  if (!op->notifier->referred_by().empty()) headers.emplace_back("Referred-By", op->notifier->referred_by());
  op->log->debug("event=blind_transfer call_id={} target={} referred_by={}", quote(op->referrer.dialog->call_id()),
                 quote(target), quote(op->notifier->referred_by()));
  std::weak_ptr<TransferOp> weak = op;
  op->once->on_cancel([weak] {
    if (auto o = weak.lock()) o->cancel_call.emit(boost::asio::cancellation_type::terminal);
  });
  async_call_agent(
      std::move(other), target, op->options.call,
      boost::asio::bind_cancellation_slot(op->cancel_call.slot(), [op](std::exception_ptr error, AgentCall made) {
        if (!error) {
          transferred(op, std::move(made));
          return;
        }
        auto [status, reason] = final_status(error);
        op->log->debug("event=blind_transfer_failed call_id={} status={}", quote(op->referrer.dialog->call_id()),
                       status);
        op->notifier->async_notify(status, reason, [op, error](std::exception_ptr) {
          op->referrer = {};
          (*op->once)(error, AgentCall{});
        });
      }));
}

}  // namespace detail

}  // namespace astmrf::mrf
