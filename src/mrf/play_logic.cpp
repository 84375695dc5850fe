#include "play_logic.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <stdexcept>

namespace astmrf::mrf::detail {

namespace {

// ARI splits its `media` list on commas, so no URI may hold one.
bool speakable_character(char c) noexcept { return c >= 0x20 && c <= 0x7e && c != ','; }

}  // namespace

bool is_dtmf_digit(char c) noexcept { return (c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D'); }

std::vector<std::string> say_media(std::string_view value, SayKind kind) {
  if (value.empty()) throw std::invalid_argument("say: empty value");
  const std::string text(value);
  switch (kind) {
    case SayKind::digits:
      if (!std::all_of(value.begin(), value.end(),
                       [](char c) { return (c >= '0' && c <= '9') || c == '*' || c == '#'; }))
        throw std::invalid_argument("say digits: only 0-9, * and # are allowed: " + text);
      return {"digits:" + text};
    case SayKind::number: {
      const auto digits = value.substr(value.front() == '-' ? 1 : 0);
      if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        throw std::invalid_argument("say number: not an integer: " + text);
      // Asterisk reads it as an int.
      std::int32_t parsed = 0;
      auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
      if (error != std::errc() || end != value.data() + value.size())
        throw std::invalid_argument("say number: out of range: " + text);
      return {"number:" + text};
    }
    case SayKind::characters:
      if (!std::all_of(value.begin(), value.end(), speakable_character))
        throw std::invalid_argument("say characters: printable ASCII without ',' only: " + text);
      return {"characters:" + text};
    case SayKind::phonetic: {
      std::vector<std::string> media;
      media.reserve(value.size());
      for (char c : value) {
        if (c >= '0' && c <= '9') {
          media.push_back(std::string("sound:digits/") + c);
        } else if (std::isalpha(static_cast<unsigned char>(c)) != 0) {
          // The sounds package has phonetic/a_p ... phonetic/z_p (alpha ... zulu).
          media.push_back(std::string("sound:phonetic/") +
                          static_cast<char>(std::tolower(static_cast<unsigned char>(c))) + "_p");
        } else {
          throw std::invalid_argument("say phonetic: letters and digits only: " + text);
        }
      }
      return media;
    }
  }
  throw std::invalid_argument("say: unknown kind");
}

std::optional<std::regex> check_collect_options(const CollectOptions& options) {
  if (options.max_digits == 0) throw std::invalid_argument("collect: max_digits must be at least 1");
  if (options.min_digits > options.max_digits) throw std::invalid_argument("collect: min_digits > max_digits");
  if (options.tries < 1) throw std::invalid_argument("collect: tries must be at least 1");
  if (options.first_digit_timeout.count() < 0 || options.inter_digit_timeout.count() < 0 ||
      options.overall_timeout.count() < 0)
    throw std::invalid_argument("collect: negative timeout");
  if (!std::all_of(options.terminators.begin(), options.terminators.end(), is_dtmf_digit))
    throw std::invalid_argument("collect: terminators must be DTMF digits: " + options.terminators);
  if (options.regex.empty()) return std::nullopt;
  try {
    return std::regex(options.regex, std::regex::ECMAScript);
  } catch (const std::regex_error& error) {
    throw std::invalid_argument("collect: bad regex '" + options.regex + "': " + error.what());
  }
}

void DigitCollector::start_try(Clock::time_point now, bool prompt_playing) {
  digits_.clear();
  end_.reset();
  barged_ = false;
  prompt_playing_ = prompt_playing;
  try_start_ = now;
  prompt_end_ = now;
  last_digit_ = now;
}

void DigitCollector::prompt_ended(Clock::time_point now) {
  if (!prompt_playing_) return;
  prompt_playing_ = false;
  prompt_end_ = now;
}

bool DigitCollector::add_digit(char digit, Clock::time_point now) {
  if (end_) return false;
  if (prompt_playing_ && !options_.barge_in) return false;  // dropped: the prompt plays to its end
  last_digit_ = now;
  const bool stop_prompt = prompt_playing_ && !barged_;
  if (prompt_playing_) barged_ = true;
  if (options_.terminators.find(digit) != std::string::npos) {
    end_ = CollectEnd::terminator;
  } else {
    digits_.push_back(digit);
    if (digits_.size() >= options_.max_digits) end_ = CollectEnd::max_digits;
  }
  return stop_prompt;
}

std::optional<DigitCollector::Clock::time_point> DigitCollector::deadline() const {
  if (end_) return std::nullopt;
  std::optional<Clock::time_point> at;
  auto earliest = [&](Clock::time_point t) {
    if (!at || t < *at) at = t;
  };
  if (options_.overall_timeout.count() > 0) earliest(try_start_ + options_.overall_timeout);
  if (!digits_.empty() || barged_) {
    if (options_.inter_digit_timeout.count() > 0) earliest(last_digit_ + options_.inter_digit_timeout);
  } else if (!prompt_playing_) {
    if (options_.first_digit_timeout.count() > 0) earliest(prompt_end_ + options_.first_digit_timeout);
  }
  return at;
}

void DigitCollector::tick(Clock::time_point now) {
  if (end_) return;
  if (auto at = deadline(); at && now >= *at) end_ = CollectEnd::timeout;
}

bool DigitCollector::valid() const {
  if (digits_.size() < options_.min_digits || digits_.size() > options_.max_digits) return false;
  if (regex_ && !std::regex_match(digits_, *regex_)) return false;
  if (options_.validate && !options_.validate(digits_)) return false;
  return true;
}

}  // namespace astmrf::mrf::detail
