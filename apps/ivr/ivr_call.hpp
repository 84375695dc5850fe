// One caller's dialogue: connect to Asterisk, prompt, collect DTMF digits, read
// them back, hang up. The caller may hang up at any moment; the call then ends
// without further media requests.
#pragma once

#include <astmrf/mrf/mrf.hpp>
#include <astmrf/mrf/pool.hpp>

#include <boost/asio/awaitable.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace astmrf::ivr {

struct DialogueOptions {
  std::vector<std::string> prompt;
  std::size_t max_digits{10};
  char terminator{'#'};
  std::chrono::milliseconds first_digit_timeout{8000};  ///< counted from the end of the prompt
  std::chrono::milliseconds inter_digit_timeout{4000};
  /// Bound on the prompt with its collection (CollectOptions::overall_timeout), and on the read-back.
  std::chrono::milliseconds media_timeout{60000};
};

enum class CallResult : std::uint8_t {
  completed,      ///< digits read back, we hung up
  no_input,       ///< no digit in time, we said goodbye and hung up
  caller_hangup,  ///< the caller left first
  media_ended,    ///< the Asterisk side ended first (shutdown, ARI hangup, media server lost)
  not_connected,  ///< the call never reached Asterisk (the caller got an error status)
  failed,         ///< an ARI request failed; we hung up
};
std::string_view to_string(CallResult result) noexcept;

struct CallOutcome {
  CallResult result{CallResult::failed};
  std::string digits;
  bool refused{false};  ///< no media server could take it: the caller got 503 + Retry-After
};

/// Runs the whole call on a media server of `pool` (which must outlive the connect phase).
/// Every log line carries call_id (the caller's Call-ID) and, once known, channel_id.
boost::asio::awaitable<CallOutcome> run_call(mrf::MediaServerPool& pool, srf::Request req, srf::Response res,
                                             DialogueOptions options, std::shared_ptr<spdlog::logger> log);

}  // namespace astmrf::ivr
