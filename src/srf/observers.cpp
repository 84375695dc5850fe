#include "observers.hpp"

#include "activity.hpp"
#include "dialog_registry.hpp"

namespace astmrf::srf::detail {

Outcome rejected(int status) noexcept {
  switch (status / 100) {
    case 3: return Outcome::rejected_3xx;
    case 4: return Outcome::rejected_4xx;
    case 5: return Outcome::rejected_5xx;
    case 6: return Outcome::rejected_6xx;
    default: return Outcome::failed;
  }
}

std::string_view outcome_label(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::answered: return "answered";
    case Outcome::rejected_3xx: return "rejected_3xx";
    case Outcome::rejected_4xx: return "rejected_4xx";
    case Outcome::rejected_5xx: return "rejected_5xx";
    case Outcome::rejected_6xx: return "rejected_6xx";
    case Outcome::cancelled: return "cancelled";
    case Outcome::failed: return "failed";
  }
  return "failed";
}

namespace {

std::string_view direction_label(Direction direction) noexcept {
  return direction == Direction::inbound ? "inbound" : "outbound";
}

std::string_view event_of(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::answered: return "call_answered";
    case Outcome::cancelled: return "call_cancelled";
    case Outcome::failed: return "call_failed";
    default: return "call_rejected";
  }
}

}  // namespace

SrfObservers::SrfObservers(const std::shared_ptr<util::metrics::Registry>& registry,
                           std::shared_ptr<spdlog::logger> logger)
    : log(util::logger_or_default(std::move(logger))),
      metrics(registry != nullptr),
      dialog_registry(std::make_shared<DialogRegistry>()),
      activity(std::make_shared<Activity>()) {
  if (!registry) return;
  auto& calls_family = registry->counter("astmrf_srf_calls_total", "Calls (INVITEs) Srf handled or placed, by outcome",
                                         {"direction", "outcome"});
  auto& dialogs_family = registry->gauge("astmrf_srf_dialogs", "Srf dialogs alive", {"direction"});
  for (auto direction : {Direction::inbound, Direction::outbound}) {
    auto d = static_cast<std::size_t>(direction);
    for (std::size_t o = 0; o < kOutcomes; ++o) {
      calls[d][o] = calls_family.with(
          {std::string(direction_label(direction)), std::string(outcome_label(static_cast<Outcome>(o)))});
    }
    dialogs[d] = dialogs_family.with({std::string(direction_label(direction))});
  }
}

CallRecord::~CallRecord() {
  if (!ended_) end(Outcome::failed, 0, "not answered");
}

void CallRecord::end(Outcome outcome, int status, std::string_view reason) {
  if (ended_) return;
  ended_ = true;
  if (observers_->metrics) {
    observers_->calls[static_cast<std::size_t>(direction_)][static_cast<std::size_t>(outcome)]->inc();
  }
  observers_->log->debug("event={} call_id={} direction={} outcome={} status={} reason={}", event_of(outcome),
                         util::quote(call_id_), direction_label(direction_), outcome_label(outcome), status,
                         util::quote(reason));
}

}  // namespace astmrf::srf::detail
