// When a transaction timer may fire later than asked. The waits that only bound how long a
// transaction keeps absorbing retransmissions (RFC 3261 Timers B, D, F, H, J, K, L, M, and
// the wait of a proceeding INVITE) need no millisecond precision: rounded up to a shared
// 100 ms boundary, those of all the calls in flight expire together, in one wake-up of the
// event loop per boundary instead of one per transaction. Retransmission intervals
// (Timers A, E, G) and short waits keep their exact time.
#pragma once

#include <chrono>

namespace astmrf::sip::detail {

inline constexpr std::chrono::milliseconds kCoalescingStep{100};
inline constexpr std::chrono::milliseconds kCoalescedFrom{1000};  // waits shorter than this stay exact

/// `at`, or the next multiple of kCoalescingStep of the clock after it when the wait from
/// `now` is long enough not to care.
template <typename Clock>
typename Clock::time_point coalesced(typename Clock::time_point at, typename Clock::time_point now) {
  if (at - now < kCoalescedFrom) return at;
  const auto step = std::chrono::duration_cast<typename Clock::duration>(kCoalescingStep);
  const auto since_epoch = at.time_since_epoch();
  const auto rest = since_epoch % step;
  return rest == Clock::duration::zero() ? at : at + (step - rest);
}

}  // namespace astmrf::sip::detail
