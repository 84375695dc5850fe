#include <astmrf/sip/spec.hpp>

namespace astmrf::sip {

std::string_view to_string(DialogEndReason reason) noexcept {
  switch (reason) {
    case DialogEndReason::local_bye: return "local_bye";
    case DialogEndReason::remote_bye: return "remote_bye";
    case DialogEndReason::no_ack: return "no_ack";
    case DialogEndReason::request_timeout: return "request_timeout";
    case DialogEndReason::remote_gone: return "remote_gone";
    case DialogEndReason::cancelled: return "cancelled";
    case DialogEndReason::backend_stopped: return "backend_stopped";
    case DialogEndReason::connection_lost: return "connection_lost";
    case DialogEndReason::session_timer: return "session_timer";
  }
  return "unknown";
}

}  // namespace astmrf::sip
