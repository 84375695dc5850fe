// The engine's cleanup timers are rounded up to shared 100 ms boundaries; short waits are exact.
#include "sip/engine/timer_coalescing.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using astmrf::sip::detail::coalesced;

Clock::time_point at(std::chrono::nanoseconds since_epoch) { return Clock::time_point(since_epoch); }

TEST(TimerCoalescing, LongWaitsEndOnTheNextHundredMilliseconds) {
  const auto now = at(1'000'000'123ns);
  EXPECT_EQ(coalesced<Clock>(now + 32s, now), at(33'100'000'000ns));
  EXPECT_EQ(coalesced<Clock>(at(40'000'000'000ns), now), at(40'000'000'000ns));  // already on a boundary
  EXPECT_EQ(coalesced<Clock>(now + 1s, now), at(2'100'000'000ns));
  // Never earlier than asked, never more than one step later.
  for (auto wait = 1000ms; wait < 40s; wait += 37ms) {
    const auto rounded = coalesced<Clock>(now + wait, now);
    EXPECT_GE(rounded, now + wait);
    EXPECT_LT(rounded, now + wait + 100ms);
  }
}

TEST(TimerCoalescing, TwoTransactionsEndingCloseTogetherShareOneExpiry) {
  const auto now = at(5'000'000'000ns);
  EXPECT_EQ(coalesced<Clock>(now + 32s + 10ms, now), coalesced<Clock>(now + 32s + 90ms, now));
}

TEST(TimerCoalescing, ShortWaitsStayExact) {
  const auto now = at(1'000'000'123ns);
  EXPECT_EQ(coalesced<Clock>(now + 500ms, now), now + 500ms);  // Timer A/E at T1
  EXPECT_EQ(coalesced<Clock>(now, now), now);                  // reliable transports: at once
  EXPECT_EQ(coalesced<Clock>(now + 999ms, now), now + 999ms);
}

}  // namespace
