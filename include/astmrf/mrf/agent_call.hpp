// Calling an agent for a connected caller (drachtio-fsmrf's "B2BUA through the media
// server"): the agent gets its own Endpoint on the caller's media server, the Srf places the
// call with that endpoint's SDP, the caller hears ringback while the agent rings, and once the
// agent answers the two endpoints meet in a bridge.
//
//   auto call = co_await mrf::async_call_agent(caller.endpoint, "sip:agent@10.0.0.7", {}, use_awaitable);
//   // hold `call` (its bridge, its endpoint, its dialog) for as long as the two should talk
//
// Busy, no answer and other rejections fail with mrf::AgentCallFailed; on any failure nothing
// is left behind (the agent's endpoint is destroyed, ringback stopped, no dialog).
#pragma once

#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/bridge.hpp>
#include <astmrf/mrf/endpoint.hpp>
#include <astmrf/mrf/errors.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <cstdint>
#include <exception>
#include <memory>
#include <string>

namespace astmrf::mrf {

/// What the caller hears while the agent rings.
enum class Ringback : std::uint8_t {
  ringing,        ///< the ring tone of the channel's tone zone (ARI playback `tone:ring`), in-band
  music_on_hold,  ///< music on hold of AgentCallOptions::moh_class
  none,           ///< nothing (silence)
};

/// Options of mrf::async_call_agent.
struct AgentCallOptions {
  /// The INVITE to the agent: headers, from, to, proxy, auth, on_provisional; `timeout` is the
  /// time the agent may ring before the call is CANCELled (AgentCallFailed::Reason::no_answer;
  /// 0: rings until the agent or the caller gives up). `local_sdp` and `answer_late_offer` are
  /// ignored: the offer is the agent endpoint's SDP.
  srf::UacOptions uac{};
  /// What the caller hears while the agent rings.
  Ringback ringback{Ringback::ringing};
  /// The music on hold class with Ringback::music_on_hold (empty: the channel's).
  std::string moh_class{};
  /// Either side's hang-up ends the other (the caller's endpoint, whose caller gets BYE from
  /// connect_caller, and the agent's endpoint and dialog). Off: only the agent's own legs end
  /// together; the caller stays up (back in Stasis) when the agent hangs up.
  bool end_together{true};
  /// The bridge the two endpoints meet in (Endpoint::async_bridge).
  BridgeOptions bridge{};
};

/// What mrf::async_call_agent yields. Hold it for as long as the call should stay connected:
/// dropping the bridge unbridges the two, dropping the agent's endpoint or dialog hangs the
/// agent up.
struct AgentCall {
  /// The agent's endpoint on the caller's media server.
  std::shared_ptr<Endpoint> agent{};
  /// The agent's SIP dialog (this application as UAC).
  std::shared_ptr<srf::Dialog> agent_dialog{};
  /// The bridge of the caller's and the agent's endpoints.
  std::shared_ptr<Bridge> bridge{};
};

namespace detail {
/// The type-erased handler of async_call_agent.
using AgentCallHandler = boost::asio::any_completion_handler<void(std::exception_ptr, AgentCall)>;
/// Starts an agent call (src/mrf/agent_call.cpp).
void start_call_agent(std::shared_ptr<Endpoint> caller, std::string uri, AgentCallOptions options,
                      AgentCallHandler handler);
}  // namespace detail

/// Calls the agent at `uri` for `caller` (an endpoint that is up, e.g. a connected caller's)
/// and bridges the two; completes with `(std::exception_ptr, AgentCall)` once they are bridged.
///
/// The agent's endpoint is created on the caller's media server with Asterisk's own offer,
/// which the agent is offered (sendrecv); the agent's answer is then re-offered to that endpoint
/// (Endpoint::async_modify) so that Asterisk sends to the agent. While the agent rings the caller
/// hears AgentCallOptions::ringback. Fails with AgentCallFailed: busy (486, 600), no_answer (the
/// uac timeout passed: CANCEL sent; or 408), rejected (other final statuses, an unreachable
/// agent), caller_gone (the caller's endpoint ended while the agent rang: CANCEL sent); a media
/// failure passes through (MediaServerUnavailable, CallEnded...). Cancelling it completes it with
/// operation_aborted and CANCELs the INVITE. On any failure the agent's endpoint is destroyed,
/// ringback stopped and no dialog is left. A null caller fails with std::invalid_argument.
template <typename CompletionToken>
auto async_call_agent(std::shared_ptr<Endpoint> caller, std::string uri, AgentCallOptions options,
                      CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, AgentCall)>(
      [](auto handler, std::shared_ptr<Endpoint> c, std::string u, AgentCallOptions o) {
        detail::start_call_agent(std::move(c), std::move(u), std::move(o),
                                 detail::AgentCallHandler(std::move(handler)));
      },
      token, std::move(caller), std::move(uri), std::move(options));
}

}  // namespace astmrf::mrf
