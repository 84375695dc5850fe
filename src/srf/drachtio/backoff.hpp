// Reconnection delays: exponential, capped (never zero, never above the cap).
#pragma once

#include <astmrf/srf/drachtio.hpp>

#include <algorithm>
#include <chrono>

namespace astmrf::srf::drachtio {

inline std::chrono::milliseconds next_backoff(std::chrono::milliseconds current, const BackoffOptions& options) {
  const double grown = static_cast<double>(current.count()) * std::max(options.multiplier, 1.0);
  const auto cap = std::max(options.max, std::chrono::milliseconds(1));
  if (grown >= static_cast<double>(cap.count())) return cap;
  return std::max(std::chrono::milliseconds(static_cast<std::int64_t>(grown)), std::chrono::milliseconds(1));
}

}  // namespace astmrf::srf::drachtio
