// The engine's metrics (EngineConfig::metrics) and the helpers of its log lines.
// The children of each family are looked up once: fixed ones at construction, the
// per method / status class ones on first use (a small array indexed by MethodId), so
// that counting a message is one relaxed atomic add.
#pragma once

#include <astmrf/sip/engine/transport.hpp>
#include <astmrf/sip/message.hpp>
#include <astmrf/util/metrics.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace astmrf::sip::detail {

/// The label value of a method: its name for the 14 methods the engine knows, "other" otherwise.
std::string_view method_label(MethodId method) noexcept;

class EngineMetrics {
 public:
  static constexpr std::size_t kMethods = 15;  // MethodId values, unknown ("other") included
  enum class Drop : std::uint8_t { parse_error, send_buffer_full, stray_response };

  explicit EngineMetrics(util::metrics::Registry& registry);

  void request_received(MethodId method) { child(requests_received_, requests_received_family_, method)->inc(); }
  void request_sent(MethodId method) { child(requests_sent_, requests_sent_family_, method)->inc(); }
  void response_received(MethodId method, int status) {
    response_child(responses_received_, *responses_received_family_, method, status)->inc();
  }
  void response_sent(MethodId method, int status) {
    response_child(responses_sent_, *responses_sent_family_, method, status)->inc();
  }
  void dropped(Drop reason) { dropped_[static_cast<std::size_t>(reason)]->inc(); }

  std::shared_ptr<util::metrics::Counter> retransmissions_sent;
  std::shared_ptr<util::metrics::Counter> retransmissions_absorbed;
  std::shared_ptr<util::metrics::Counter> overload_rejections;
  std::shared_ptr<util::metrics::Gauge> server_transactions;
  std::shared_ptr<util::metrics::Gauge> client_transactions;
  std::shared_ptr<util::metrics::Gauge> dialogs;
  std::shared_ptr<util::metrics::Gauge> tcp_connections;
  std::shared_ptr<util::metrics::Counter> send_buffer_full;  // also in dropped_ (the transport counts it)

 private:
  using Counters = std::array<std::shared_ptr<util::metrics::Counter>, kMethods>;
  using ByClass = std::array<std::array<std::shared_ptr<util::metrics::Counter>, 6>, kMethods>;
  static std::size_t index(MethodId method) noexcept {
    auto i = static_cast<std::size_t>(method);
    return i < kMethods ? i : 0;
  }
  static util::metrics::Counter* child(Counters& counters, util::metrics::CounterFamily* family, MethodId method) {
    auto& slot = counters[index(method)];
    if (!slot) slot = family->with({std::string(method_label(method))});
    return slot.get();
  }
  static util::metrics::Counter* response_child(ByClass& counters, util::metrics::CounterFamily& family,
                                                MethodId method, int status);

  util::metrics::CounterFamily* requests_received_family_;
  util::metrics::CounterFamily* requests_sent_family_;
  util::metrics::CounterFamily* responses_received_family_;
  util::metrics::CounterFamily* responses_sent_family_;
  Counters requests_received_{};
  Counters requests_sent_{};
  ByClass responses_received_{};
  ByClass responses_sent_{};
  std::array<std::shared_ptr<util::metrics::Counter>, 3> dropped_{};
};

/// "udp", "tcp", "tls", "ws" or "wss".
inline std::string_view transport_label(Transport transport) noexcept { return uri_param(transport); }

}  // namespace astmrf::sip::detail
