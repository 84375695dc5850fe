// Metrics and log helpers of the ARI client: the REST resource family of a request, the
// request/event counters with their children looked up once per label combination.
#pragma once

#include <astmrf/ari/generated/models.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace astmrf::util::metrics {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename Metric>
class Family;
}  // namespace astmrf::util::metrics

namespace astmrf::ari::detail {

/// The REST resource families of ARI (the first path segment after /ari): a bounded label set.
enum class ResourceFamily : std::uint8_t {
  channels,
  bridges,
  playbacks,
  recordings,
  sounds,
  asterisk,
  applications,
  endpoints,
  device_states,
  mailboxes,
  events,
  other,
};
inline constexpr std::size_t kResourceFamilies = 12;

/// The family of a request target relative to /ari ("/channels/123/answer?x=1" → channels).
ResourceFamily resource_family(std::string_view target) noexcept;
/// The family's label value ("deviceStates" for device_states).
std::string_view to_string(ResourceFamily f) noexcept;

/// How a REST call ended, besides an HTTP status.
inline constexpr int kStatusError = -1;    // transport failure (no response)
inline constexpr int kStatusTimeout = -2;  // the request's deadline passed

/// The target for a log line: the values of credential-like query parameters (api_key, password)
/// replaced by <redacted> (the client never adds them; a caller's generic request might).
std::string loggable_target(std::string_view target);

/// The client's metrics. Used on the client's executor only: the lazy caches take no lock (the
/// registry's families lock themselves when a child is first made).
class ClientMetrics {
 public:
  ClientMetrics(util::metrics::Registry& registry, std::string server);
  ~ClientMetrics();
  ClientMetrics(const ClientMetrics&) = delete;
  ClientMetrics& operator=(const ClientMetrics&) = delete;

  /// A REST call completed: `status` an HTTP status, kStatusError or kStatusTimeout.
  void request_done(ResourceFamily family, int status, double seconds);
  void event(EventType type);
  void decode_error() noexcept;
  void websocket_up(bool up) noexcept;
  void reconnected() noexcept;

 private:
  struct StatusCounter {
    int status;
    std::shared_ptr<util::metrics::Counter> counter;
  };
  std::string server_;
  util::metrics::Family<util::metrics::Counter>& requests_family_;
  util::metrics::Family<util::metrics::Histogram>& durations_family_;
  util::metrics::Family<util::metrics::Counter>& events_family_;
  std::array<std::vector<StatusCounter>, kResourceFamilies> requests_;                  // a few statuses each
  std::array<std::shared_ptr<util::metrics::Histogram>, kResourceFamilies> durations_;  // lazily
  std::vector<std::shared_ptr<util::metrics::Counter>> events_;                         // indexed by EventType, lazily
  std::shared_ptr<util::metrics::Counter> decode_errors_;
  std::shared_ptr<util::metrics::Gauge> websocket_up_;
  std::shared_ptr<util::metrics::Counter> reconnects_;
};

}  // namespace astmrf::ari::detail
