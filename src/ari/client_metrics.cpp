#include "client_metrics.hpp"

#include <astmrf/util/metrics.hpp>

#include <algorithm>

namespace astmrf::ari::detail {

namespace {

constexpr std::array<std::string_view, kResourceFamilies> kFamilyNames{
    "channels",     "bridges",   "playbacks",    "recordings", "sounds", "asterisk",
    "applications", "endpoints", "deviceStates", "mailboxes",  "events", "other"};

std::string status_label(int status) {
  if (status == kStatusTimeout) return "timeout";
  if (status < 0) return "error";
  return std::to_string(status);
}

}  // namespace

ResourceFamily resource_family(std::string_view target) noexcept {
  if (!target.empty() && target.front() == '/') target.remove_prefix(1);
  const auto end = target.find_first_of("/?");
  const auto segment = target.substr(0, end);
  for (std::size_t i = 0; i + 1 < kFamilyNames.size(); ++i) {
    if (kFamilyNames[i] == segment) return static_cast<ResourceFamily>(i);
  }
  return ResourceFamily::other;
}

std::string_view to_string(ResourceFamily f) noexcept {
  const auto i = static_cast<std::size_t>(f);
  return i < kFamilyNames.size() ? kFamilyNames[i] : "other";
}

std::string loggable_target(std::string_view target) {
  std::string out(target);
  const auto q = out.find('?');
  if (q == std::string::npos) return out;
  std::size_t pos = q + 1;
  while (pos < out.size()) {
    auto amp = out.find('&', pos);
    if (amp == std::string::npos) amp = out.size();
    const auto eq = out.find('=', pos);
    if (eq != std::string::npos && eq < amp) {
      const std::string_view name(out.data() + pos, eq - pos);
      if (name == "api_key" || name == "password" || name == "secret") {
        out.replace(eq + 1, amp - eq - 1, "<redacted>");
        amp = eq + 1 + std::string_view("<redacted>").size();
      }
    }
    pos = amp + 1;
  }
  return out;
}

ClientMetrics::ClientMetrics(util::metrics::Registry& registry, std::string server)
    : server_(std::move(server)),
      requests_family_(registry.counter("astmrf_ari_requests_total",
                                        "ARI REST requests completed, by resource family and HTTP status "
                                        "(\"error\": no response, \"timeout\": deadline passed)",
                                        {"server", "family", "status"})),
      durations_family_(registry.histogram("astmrf_ari_request_duration_seconds",
                                           "ARI REST request duration from the call to its completion "
                                           "(waiting for a pooled connection included)",
                                           util::metrics::latency_buckets(), {"server", "family"})),
      events_family_(registry.counter("astmrf_ari_events_total",
                                      "ARI events received, by type (\"unknown\": not in events.json)",
                                      {"server", "type"})) {
  decode_errors_ = registry
                       .counter("astmrf_ari_event_decode_errors_total",
                                "ARI WebSocket messages dropped: not a JSON object with a type", {"server"})
                       .with({server_});
  websocket_up_ =
      registry.gauge("astmrf_ari_websocket_up", "1 while the ARI events WebSocket is connected, else 0", {"server"})
          .with({server_});
  reconnects_ = registry
                    .counter("astmrf_ari_reconnects_total",
                             "Successful reconnects of the ARI events WebSocket after it was lost", {"server"})
                    .with({server_});
  websocket_up_->set(0);
  events_.resize(static_cast<std::size_t>(EventType::text_message_received) + 1);
}

ClientMetrics::~ClientMetrics() = default;

void ClientMetrics::request_done(ResourceFamily family, int status, double seconds) {
  const auto f = static_cast<std::size_t>(family);
  auto& slots = requests_[f];
  auto it = std::find_if(slots.begin(), slots.end(), [status](const StatusCounter& s) { return s.status == status; });
  if (it == slots.end()) {
    slots.push_back({status, requests_family_.with({server_, std::string(to_string(family)), status_label(status)})});
    it = std::prev(slots.end());
  }
  it->counter->inc();
  auto& h = durations_[f];
  if (!h) h = durations_family_.with({server_, std::string(to_string(family))});
  h->observe(seconds);
}

void ClientMetrics::event(EventType type) {
  const auto i = static_cast<std::size_t>(type);
  if (i >= events_.size()) events_.resize(i + 1);
  auto& c = events_[i];
  if (!c) {
    c = events_family_.with(
        {server_, type == EventType::unknown ? std::string("unknown") : std::string(ari::to_string(type))});
  }
  c->inc();
}

void ClientMetrics::decode_error() noexcept { decode_errors_->inc(); }
void ClientMetrics::websocket_up(bool up) noexcept { websocket_up_->set(up ? 1 : 0); }
void ClientMetrics::reconnected() noexcept { reconnects_->inc(); }

}  // namespace astmrf::ari::detail
