// Srf's per-call record: one count per call, whatever reports its end, and a failed
// count for a call dropped with no end state.
#include "observers.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>

namespace {

using namespace astmrf::srf::detail;
using astmrf::util::metrics::Registry;

std::uint64_t calls(Registry& registry, const std::string& direction, const std::string& outcome) {
  return registry.counter("astmrf_srf_calls_total", "", {"direction", "outcome"}).with({direction, outcome})->value();
}

TEST(CallRecord, RejectedClassesFromTheStatus) {
  EXPECT_EQ(rejected(302), Outcome::rejected_3xx);
  EXPECT_EQ(rejected(486), Outcome::rejected_4xx);
  EXPECT_EQ(rejected(503), Outcome::rejected_5xx);
  EXPECT_EQ(rejected(603), Outcome::rejected_6xx);
  EXPECT_EQ(rejected(200), Outcome::failed);
  EXPECT_EQ(outcome_label(Outcome::rejected_4xx), "rejected_4xx");
}

TEST(CallRecord, CountsOnceAndLogsWithTheCallId) {
  auto registry = std::make_shared<Registry>();
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  auto logger = std::make_shared<spdlog::logger>("srf", sink);
  logger->set_level(spdlog::level::debug);
  logger->set_pattern("%v");
  auto observers = std::make_shared<const SrfObservers>(registry, logger);
  {
    CallRecord record(observers, Direction::inbound, "call 1");
    record.end(Outcome::cancelled, 487, "caller cancelled");
    record.end(Outcome::answered, 200, "OK");  // a 2xx that lost the race to the CANCEL
  }
  { CallRecord dropped(observers, Direction::outbound, "call-2"); }
  EXPECT_EQ(calls(*registry, "inbound", "cancelled"), 1u);
  EXPECT_EQ(calls(*registry, "inbound", "answered"), 0u);
  EXPECT_EQ(calls(*registry, "outbound", "failed"), 1u);
  auto lines = sink->last_formatted();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("event=call_cancelled call_id=\"call 1\" direction=inbound outcome=cancelled status=487", 0),
            0u)
      << lines[0];
  EXPECT_EQ(lines[1].rfind("event=call_failed call_id=call-2 direction=outbound", 0), 0u) << lines[1];
}

TEST(CallRecord, WithoutMetricsOrDebugNothingObserves) {
  auto logger = std::make_shared<spdlog::logger>("srf");
  logger->set_level(spdlog::level::info);
  SrfObservers observers(nullptr, logger);
  EXPECT_FALSE(observers.observing());
  EXPECT_FALSE(observers.calls[0][0]);
}

}  // namespace
