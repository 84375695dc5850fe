#include "engine_metrics.hpp"

namespace astmrf::sip::detail {

std::string_view method_label(MethodId method) noexcept {
  switch (method) {
    case MethodId::invite: return "INVITE";
    case MethodId::ack: return "ACK";
    case MethodId::bye: return "BYE";
    case MethodId::cancel: return "CANCEL";
    case MethodId::options: return "OPTIONS";
    case MethodId::register_: return "REGISTER";
    case MethodId::prack: return "PRACK";
    case MethodId::subscribe: return "SUBSCRIBE";
    case MethodId::notify: return "NOTIFY";
    case MethodId::publish: return "PUBLISH";
    case MethodId::info: return "INFO";
    case MethodId::refer: return "REFER";
    case MethodId::message: return "MESSAGE";
    case MethodId::update: return "UPDATE";
    case MethodId::unknown: break;
  }
  return "other";
}

EngineMetrics::EngineMetrics(util::metrics::Registry& registry)
    : requests_received_family_(&registry.counter("astmrf_sip_requests_received_total",
                                                  "SIP requests received by the engine, retransmissions included",
                                                  {"method"})),
      requests_sent_family_(&registry.counter("astmrf_sip_requests_sent_total",
                                              "SIP requests sent by the engine (first sends)", {"method"})),
      responses_received_family_(&registry.counter("astmrf_sip_responses_received_total",
                                                   "SIP responses received by the engine, retransmissions included",
                                                   {"method", "class"})),
      responses_sent_family_(&registry.counter("astmrf_sip_responses_sent_total",
                                               "SIP responses sent by the engine (first sends)", {"method", "class"})) {
  retransmissions_sent =
      registry.counter("astmrf_sip_retransmissions_sent_total", "SIP messages the engine sent again (UDP timers)")
          .with({});
  retransmissions_absorbed = registry
                                 .counter("astmrf_sip_retransmissions_absorbed_total",
                                          "Retransmitted SIP messages a transaction or dialog absorbed")
                                 .with({});
  auto& dropped = registry.counter("astmrf_sip_messages_dropped_total", "SIP messages dropped, by reason", {"reason"});
  dropped_[static_cast<std::size_t>(Drop::parse_error)] = dropped.with({"parse_error"});
  dropped_[static_cast<std::size_t>(Drop::send_buffer_full)] = dropped.with({"send_buffer_full"});
  dropped_[static_cast<std::size_t>(Drop::stray_response)] = dropped.with({"stray_response"});
  send_buffer_full = dropped_[static_cast<std::size_t>(Drop::send_buffer_full)];
  overload_rejections =
      registry.counter("astmrf_sip_overload_rejections_total", "503 responses the engine sent because of overload")
          .with({});
  auto& transactions = registry.gauge("astmrf_sip_transactions", "SIP transactions alive", {"kind"});
  server_transactions = transactions.with({"server"});
  client_transactions = transactions.with({"client"});
  dialogs = registry.gauge("astmrf_sip_dialogs", "SIP dialogs alive in the engine").with({});
  tcp_connections = registry.gauge("astmrf_sip_tcp_connections", "TCP connections the engine holds open").with({});
}

util::metrics::Counter* EngineMetrics::response_child(ByClass& counters, util::metrics::CounterFamily& family,
                                                      MethodId method, int status) {
  static constexpr std::array<std::string_view, 6> kClasses{"1xx", "2xx", "3xx", "4xx", "5xx", "6xx"};
  std::size_t cls = status >= 100 && status < 700 ? static_cast<std::size_t>(status / 100 - 1) : 4;
  auto& slot = counters[index(method)][cls];
  if (!slot) slot = family.with({std::string(method_label(method)), std::string(kClasses[cls])});
  return slot.get();
}

}  // namespace astmrf::sip::detail
