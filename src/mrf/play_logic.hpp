// The pure logic of the playback verbs (no I/O), unit-tested on its own: the media URIs
// of async_say, the checks of CollectOptions, and the digit collection of one try of
// async_play_and_collect as a state machine fed with digits, prompt ends and time.
#pragma once

#include <astmrf/mrf/endpoint.hpp>

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::mrf::detail {

/// The media URIs that speak `value` as `kind`; std::invalid_argument for bad input.
std::vector<std::string> say_media(std::string_view value, SayKind kind);

/// Whether `c` is a DTMF digit (0-9, *, #, A-D).
bool is_dtmf_digit(char c) noexcept;

/// Checks `options` (std::invalid_argument) and compiles its regex (none when empty).
std::optional<std::regex> check_collect_options(const CollectOptions& options);

/// One try of play-and-collect. Digits that arrive while the prompt plays are kept (and
/// the prompt must be stopped) with barge-in, dropped without. Timeouts: first digit
/// (from the prompt's end), inter-digit (from the last digit), overall (from the try's
/// start); a zero duration is no timeout.
class DigitCollector {
 public:
  using Clock = std::chrono::steady_clock;

  /// `options` must outlive the collector; `regex` is check_collect_options' result.
  DigitCollector(const CollectOptions& options, const std::optional<std::regex>& regex)
      : options_(options), regex_(regex) {}

  /// Starts a try at `now`; `prompt_playing`: a prompt plays first.
  void start_try(Clock::time_point now, bool prompt_playing);
  /// The prompt ended (played out or stopped) at `now`.
  void prompt_ended(Clock::time_point now);
  /// A digit at `now`. True when the prompt must be stopped now (the first barge-in digit).
  bool add_digit(char digit, Clock::time_point now);
  /// Ends the try with a timeout if its deadline passed at `now`.
  void tick(Clock::time_point now);

  /// When the try times out; none while it can only end by a digit (or it has ended).
  [[nodiscard]] std::optional<Clock::time_point> deadline() const;
  /// How the try ended, once it has.
  [[nodiscard]] std::optional<CollectEnd> end() const noexcept { return end_; }
  /// The digits of the try (terminator excluded).
  [[nodiscard]] const std::string& digits() const noexcept { return digits_; }
  /// Whether the prompt is still playing.
  [[nodiscard]] bool prompt_playing() const noexcept { return prompt_playing_; }
  /// Whether the digits pass min_digits, the regex and the validate callback.
  [[nodiscard]] bool valid() const;

 private:
  const CollectOptions& options_;
  const std::optional<std::regex>& regex_;
  std::string digits_;
  std::optional<CollectEnd> end_;
  bool prompt_playing_{false};
  bool barged_{false};
  Clock::time_point try_start_{};
  Clock::time_point prompt_end_{};
  Clock::time_point last_digit_{};
};

}  // namespace astmrf::mrf::detail
