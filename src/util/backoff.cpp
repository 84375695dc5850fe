#include <astmrf/util/backoff.hpp>

#include <algorithm>
#include <cstdint>

namespace astmrf::util {

namespace {
constexpr std::chrono::milliseconds kFloor{1};
}

std::chrono::milliseconds next_backoff(std::chrono::milliseconds current, const BackoffOptions& options) {
  const double grown = static_cast<double>(current.count()) * std::max(options.multiplier, 1.0);
  const auto cap = std::max(options.max, kFloor);
  if (grown >= static_cast<double>(cap.count())) return cap;
  return std::max(std::chrono::milliseconds(static_cast<std::int64_t>(grown)), kFloor);
}

Backoff::Backoff(BackoffOptions options)
    : options_(options), current_(std::clamp(options.initial, kFloor, std::max(options.max, kFloor))) {}

std::chrono::milliseconds Backoff::next() {
  const auto delay = current_;
  current_ = next_backoff(current_, options_);
  const double jitter = std::clamp(options_.jitter, 0.0, 1.0);
  if (jitter == 0.0) return delay;
  std::uniform_real_distribution<double> spread(1.0 - jitter, 1.0 + jitter);
  const auto drawn = static_cast<std::int64_t>(static_cast<double>(delay.count()) * spread(random_));
  return std::max(std::chrono::milliseconds(drawn), kFloor);
}

void Backoff::reset() { current_ = std::clamp(options_.initial, kFloor, std::max(options_.max, kFloor)); }

}  // namespace astmrf::util
