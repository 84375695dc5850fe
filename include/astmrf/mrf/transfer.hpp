// Transfers on connected calls: a caller's REFER performed as "call the Refer-To target and
// connect it with the other party" (blind transfer, RFC 3515), the referring leg ended once
// the target answered. The replacing INVITE of an attended transfer (RFC 3891) is
// MediaServer::async_replace_caller (mrf.hpp).
//
//   legs.dialog->on("REFER", [=](srf::Request req, srf::Response res) {
//     mrf::async_blind_transfer(legs, req, res, agent.agent, {}, [](std::exception_ptr, mrf::AgentCall) {...});
//   });
#pragma once

#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/agent_call.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/refer.hpp>
#include <astmrf/srf/request.hpp>

#include <boost/asio/async_result.hpp>

#include <exception>
#include <memory>

namespace astmrf::mrf {

/// Options of mrf::async_blind_transfer.
struct TransferOptions {
  /// The call to the Refer-To target (ringback to the other party, timeout, headers...).
  AgentCallOptions call{};
  /// End the referrer's legs (its endpoint and its dialog: BYE) once the target is connected.
  bool end_referrer{true};
};

namespace detail {
/// Starts a blind transfer (src/mrf/transfer.cpp).
void start_blind_transfer(ConnectedCaller referrer, srf::Request refer, srf::Response res,
                          std::shared_ptr<Endpoint> other, TransferOptions options, AgentCallHandler handler);
}  // namespace detail

/// Performs the REFER `refer` received on `referrer`'s dialog as a blind transfer of `other`
/// (the party the referrer talks with, e.g. the agent of an agent call): answers it 202 and
/// NOTIFYs "100 Trying" (srf::accept_refer), calls the Refer-To target for `other` with
/// async_call_agent (other hears options.call.ringback; the INVITE carries the Refer-To's embedded
/// headers, its Replaces of an attended transfer and the Referred-By), NOTIFYs the final status (200, or the
/// failure's: AgentCallFailed::status(), 487 when cancelled, 503 otherwise), then ends the
/// referrer's legs (options.end_referrer) without ending `other` (their end-together tie is
/// undone). Completes with `(std::exception_ptr, AgentCall)`: the target's call. On failure the
/// referrer's call stays as it was. A REFER without a usable Refer-To is answered 400 and fails
/// with std::invalid_argument. Cancelling it cancels the call to the target (NOTIFY 487).
template <typename CompletionToken>
auto async_blind_transfer(ConnectedCaller referrer, srf::Request refer, srf::Response res,
                          std::shared_ptr<Endpoint> other, TransferOptions options, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, AgentCall)>(
      [](auto handler, ConnectedCaller r, srf::Request q, srf::Response s, std::shared_ptr<Endpoint> o,
         TransferOptions t) {
        detail::start_blind_transfer(std::move(r), std::move(q), std::move(s), std::move(o), std::move(t),
                                     detail::AgentCallHandler(std::move(handler)));
      },
      token, std::move(referrer), std::move(refer), std::move(res), std::move(other), std::move(options));
}

}  // namespace astmrf::mrf
