// What the Mrf, its media servers and its pools log through and count in (docs/observability.md).
// The children are looked up once, here; a setup or a call only touches atomics.
#pragma once

#include <astmrf/mrf/mrf.hpp>
#include <astmrf/util/metrics.hpp>

#include <spdlog/logger.h>

#include <array>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

namespace astmrf::mrf::detail {

using util::metrics::Counter;
using util::metrics::Gauge;
using util::metrics::Histogram;

/// Why an endpoint setup ended (label `cause` of astmrf_mrf_endpoint_setups_total).
enum class SetupCause : std::uint8_t {
  none,         // it is up
  unavailable,  // the server is down, draining or disconnected
  overloaded,   // a limit of the server
  timeout,      // not up within setup_timeout
  rejected,     // Asterisk answered the INVITE with a failure
  sip_error,    // no answer, transport error
  ari_error,    // an ARI call of the setup failed
  cancelled,    // the caller's CANCEL or the application's cancellation
  other
};
inline constexpr std::size_t kSetupCauses = 9;
std::string_view to_string(SetupCause cause) noexcept;
SetupCause cause_of(const std::exception_ptr& error) noexcept;

/// The end of a connect_caller (label `outcome` of astmrf_mrf_caller_connects_total).
enum class CallerOutcome : std::uint8_t { answered, rejected, cancelled, failed };
inline constexpr std::size_t kCallerOutcomes = 4;

/// One per Mrf, shared with its servers and pools.
struct Telemetry {
  Telemetry(std::shared_ptr<spdlog::logger> logger, std::shared_ptr<util::metrics::Registry> registry);

  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<util::metrics::Registry> registry;  // null: metrics off
  std::array<std::shared_ptr<Counter>, kCallerOutcomes> caller_connects;
  std::shared_ptr<Histogram> caller_connect_seconds;  // connect_caller's start → the caller's 200 OK
  std::shared_ptr<Counter> failovers;
  std::shared_ptr<Counter> pool_refused;

  void caller_done(CallerOutcome outcome) const {
    if (auto& c = caller_connects[static_cast<std::size_t>(outcome)]) c->inc();
  }
};

/// One per media server, labelled server="<name>".
struct ServerMetrics {
  ServerMetrics(util::metrics::Registry& registry, const std::string& server);
  std::array<std::shared_ptr<Counter>, kSetupCauses> setups;  // by cause (none: up)
  std::shared_ptr<Histogram> setup_seconds;                   // INVITE sent → endpoint up
  std::array<std::shared_ptr<Counter>, 4> ended;              // by EndpointEnd
  std::shared_ptr<Gauge> endpoints;
  std::shared_ptr<Gauge> pending;
  std::array<std::shared_ptr<Gauge>, 4> state;  // 1 for the current ServerState
  std::shared_ptr<Gauge> up;
  std::shared_ptr<Counter> orphans;  // channels of the app the sweep hung up
};

}  // namespace astmrf::mrf::detail
