#include "telemetry.hpp"

#include <astmrf/ari/error.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/util/log.hpp>

namespace astmrf::mrf::detail {

std::string_view to_string(SetupCause cause) noexcept {
  switch (cause) {
    case SetupCause::none: return "none";
    case SetupCause::unavailable: return "unavailable";
    case SetupCause::overloaded: return "overloaded";
    case SetupCause::timeout: return "timeout";
    case SetupCause::rejected: return "rejected";
    case SetupCause::sip_error: return "sip_error";
    case SetupCause::ari_error: return "ari_error";
    case SetupCause::cancelled: return "cancelled";
    case SetupCause::other: return "other";
  }
  return "other";
}

SetupCause cause_of(const std::exception_ptr& error) noexcept {
  if (!error) return SetupCause::none;
  if (astmrf::detail::is_operation_aborted(error)) return SetupCause::cancelled;
  try {
    std::rethrow_exception(error);
  } catch (const srf::RequestCancelled&) {
    return SetupCause::cancelled;
  } catch (const srf::SipFailure& failure) {
    return failure.local() ? SetupCause::sip_error : SetupCause::rejected;
  } catch (const MediaServerOverloaded&) {
    return SetupCause::overloaded;
  } catch (const MediaServerUnavailable&) {
    return SetupCause::unavailable;
  } catch (const MediaSetupTimeout&) {
    return SetupCause::timeout;
  } catch (const ari::Error&) {
    return SetupCause::ari_error;
  } catch (...) {
    return SetupCause::other;
  }
}

namespace {
constexpr std::array<std::string_view, kCallerOutcomes> kOutcomes{"answered", "rejected", "cancelled", "failed"};
}

Telemetry::Telemetry(std::shared_ptr<spdlog::logger> logger, std::shared_ptr<util::metrics::Registry> metrics)
    : log(util::logger_or_default(std::move(logger))), registry(std::move(metrics)) {
  if (!registry) return;
  auto& connects = registry->counter("astmrf_mrf_caller_connects_total",
                                     "Callers handled by connect_caller, by outcome: answered (the caller got the "
                                     "media server's SDP), rejected (a final error), cancelled, failed (after the 200 "
                                     "OK: no ACK).",
                                     {"outcome"});
  for (std::size_t i = 0; i < kCallerOutcomes; ++i) caller_connects[i] = connects.with({std::string(kOutcomes[i])});
  caller_connect_seconds =
      registry
          ->histogram("astmrf_mrf_caller_connect_seconds",
                      "Time from connect_caller's start (the caller's INVITE) to the caller's 200 OK, answered calls.",
                      util::metrics::latency_buckets())
          .with({});
  failovers = registry
                  ->counter("astmrf_mrf_pool_failovers_total",
                            "Endpoint setups a pool retried on another media server after a failure.")
                  .with({});
  pool_refused = registry
                     ->counter("astmrf_mrf_pool_refused_total",
                               "Endpoint setups a pool refused: no media server was up and under its limits.")
                     .with({});
}

ServerMetrics::ServerMetrics(util::metrics::Registry& registry, const std::string& server) {
  auto& setup_family =
      registry.counter("astmrf_mrf_endpoint_setups_total",
                       "Endpoint setups on a media server by outcome (up, failed, cancelled) and cause (none when up).",
                       {"server", "outcome", "cause"});
  for (std::size_t i = 0; i < kSetupCauses; ++i) {
    const auto cause = static_cast<SetupCause>(i);
    const std::string outcome = cause == SetupCause::none        ? "up"
                                : cause == SetupCause::cancelled ? "cancelled"
                                                                 : "failed";
    setups[i] = setup_family.with({server, outcome, std::string(to_string(cause))});
  }
  setup_seconds = registry
                      .histogram("astmrf_mrf_endpoint_setup_seconds",
                                 "Time from the INVITE to Asterisk to the endpoint being up, successful setups.",
                                 util::metrics::latency_buckets(), {"server"})
                      .with({server});
  auto& ended_family =
      registry.counter("astmrf_mrf_endpoints_ended_total",
                       "Endpoints that ended, by reason: destroyed (by the application), asterisk_hangup, "
                       "left_stasis, media_server_lost.",
                       {"server", "reason"});
  for (std::size_t i = 0; i < ended.size(); ++i) {
    ended[i] = ended_family.with({server, std::string(to_string(static_cast<EndpointEnd>(i)))});
  }
  endpoints = registry.gauge("astmrf_mrf_endpoints", "Endpoints up on a media server.", {"server"}).with({server});
  pending = registry.gauge("astmrf_mrf_pending_setups", "Endpoint setups in flight on a media server.", {"server"})
                .with({server});
  auto& state_family =
      registry.gauge("astmrf_mrf_server_state",
                     "1 for the media server's current state (connecting, up, down, closed).", {"server", "state"});
  for (std::size_t i = 0; i < state.size(); ++i) {
    state[i] = state_family.with({server, std::string(to_string(static_cast<ServerState>(i)))});
  }
  state[static_cast<std::size_t>(ServerState::connecting)]->set(1);
  up =
      registry.gauge("astmrf_mrf_server_up", "1 while the media server takes new calls' setups (state up).", {"server"})
          .with({server});
  orphans = registry
                .counter("astmrf_mrf_orphans_hung_up_total",
                         "Channels of the media server's Stasis application that it did not track, hung up at an ARI "
                         "(re)connect: left by an earlier process of the same instance_id.",
                         {"server"})
                .with({server});
}

}  // namespace astmrf::mrf::detail
