// Srf's metrics and log lines (SrfOptions): the call outcome counters, the live dialogs
// gauge, and the one record per call that makes sure each INVITE is counted once.
#pragma once

#include <astmrf/util/log.hpp>
#include <astmrf/util/metrics.hpp>

#include <spdlog/spdlog.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace astmrf::srf::detail {

class DialogRegistry;
class Activity;

enum class Direction : std::uint8_t { inbound, outbound };
enum class Outcome : std::uint8_t {
  answered,
  rejected_3xx,
  rejected_4xx,
  rejected_5xx,
  rejected_6xx,
  cancelled,
  failed,
};
inline constexpr std::size_t kOutcomes = 7;

/// rejected_Nxx for a final non-2xx status (failed outside 300..699).
Outcome rejected(int status) noexcept;
std::string_view outcome_label(Outcome outcome) noexcept;

/// What an Srf shares with its calls and dialogs. Immutable once made.
struct SrfObservers {
  SrfObservers(const std::shared_ptr<util::metrics::Registry>& registry, std::shared_ptr<spdlog::logger> logger);

  std::shared_ptr<spdlog::logger> log;  // never null
  bool metrics{false};
  std::array<std::array<std::shared_ptr<util::metrics::Counter>, kOutcomes>, 2> calls{};
  std::array<std::shared_ptr<util::metrics::Gauge>, 2> dialogs{};  // by Direction
  // The Srf's dialogs by Call-ID and tags (Replaces); the pointer is fixed, the registry changes.
  std::shared_ptr<DialogRegistry> dialog_registry;
  // Its calls in progress and whether it drains (Srf::set_draining); the pointer is fixed.
  std::shared_ptr<Activity> activity;

  /// A call's record is worth making: someone counts or logs it.
  [[nodiscard]] bool observing() const { return metrics || logging(); }
  /// Its end gets a log line (which names the call).
  [[nodiscard]] bool logging() const { return log->should_log(spdlog::level::debug); }
};

/// One call (an INVITE received or sent): counted and logged once, at its end state.
class CallRecord {
 public:
  CallRecord(std::shared_ptr<const SrfObservers> observers, Direction direction, std::string call_id)
      : observers_(std::move(observers)), direction_(direction), call_id_(std::move(call_id)) {}
  CallRecord(const CallRecord&) = delete;
  CallRecord& operator=(const CallRecord&) = delete;
  /// A call that reached no end state (its handler dropped it unanswered): failed.
  ~CallRecord();

  /// The call's end state; later calls do nothing.
  void end(Outcome outcome, int status, std::string_view reason);
  [[nodiscard]] bool ended() const noexcept { return ended_; }
  [[nodiscard]] const std::string& call_id() const noexcept { return call_id_; }

 private:
  std::shared_ptr<const SrfObservers> observers_;
  Direction direction_;
  std::string call_id_;
  bool ended_{false};
};

}  // namespace astmrf::srf::detail
