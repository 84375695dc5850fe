// Reconnection delays, one policy for every client that reconnects (the ARI events
// WebSocket, drachtio-server connections): exponential, capped, jittered, retried forever.
#pragma once

#include <astmrf/util/random.hpp>

#include <chrono>

namespace astmrf::util {

/// Reconnection delays: retried forever, exponential, capped, jittered
/// (ari::BackoffOptions, srf::drachtio::BackoffOptions).
struct BackoffOptions {
  /// Delay before the first attempt (and the first one after a success).
  std::chrono::milliseconds initial{200};
  /// Cap of the delay.
  std::chrono::milliseconds max{10'000};
  /// Growth of the delay per failed attempt.
  double multiplier = 2.0;
  /// Each delay is drawn uniformly in [d*(1-jitter), d*(1+jitter)], so that clients that lost
  /// the same server do not come back all at once. 0 turns it off.
  double jitter = 0.2;
};

/// The delay after `current`: current × multiplier (at least 1), capped at max, never below 1 ms.
std::chrono::milliseconds next_backoff(std::chrono::milliseconds current, const BackoffOptions& options);

/// The delays of one reconnecting client, with its own random source.
class Backoff {
 public:
  /// Starts at options.initial.
  explicit Backoff(BackoffOptions options);
  /// The (jittered) delay to wait before the next attempt; the one after it grows.
  std::chrono::milliseconds next();
  /// After a success: back to options.initial.
  void reset();

 private:
  BackoffOptions options_;
  std::chrono::milliseconds current_;
  Random random_;
};

}  // namespace astmrf::util
