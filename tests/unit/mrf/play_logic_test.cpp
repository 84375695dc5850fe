// The playback verbs' pure logic: say's media URIs, the checks of CollectOptions, and one
// try of digit collection driven by hand (digits, prompt end, time).
#include "play_logic.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

namespace mrf = astmrf::mrf;
using mrf::CollectEnd;
using mrf::SayKind;
using mrf::detail::DigitCollector;
using mrf::detail::say_media;
using namespace std::chrono_literals;
using Strings = std::vector<std::string>;

TEST(SayMedia, DigitsNumberCharacters) {
  EXPECT_EQ(say_media("0123*#", SayKind::digits), Strings{"digits:0123*#"});
  EXPECT_EQ(say_media("123", SayKind::number), Strings{"number:123"});
  EXPECT_EQ(say_media("-42", SayKind::number), Strings{"number:-42"});
  EXPECT_EQ(say_media("Ab 1!", SayKind::characters), Strings{"characters:Ab 1!"});
}

TEST(SayMedia, PhoneticIsOneSoundPerCharacter) {
  EXPECT_EQ(say_media("aZ9", SayKind::phonetic),
            (Strings{"sound:phonetic/a_p", "sound:phonetic/z_p", "sound:digits/9"}));
}

TEST(SayMedia, BadInputIsRejected) {
  for (auto kind : {SayKind::digits, SayKind::number, SayKind::characters, SayKind::phonetic}) {
    EXPECT_THROW(say_media("", kind), std::invalid_argument);
  }
  EXPECT_THROW(say_media("12a", SayKind::digits), std::invalid_argument);
  EXPECT_THROW(say_media("-", SayKind::number), std::invalid_argument);
  EXPECT_THROW(say_media("1.5", SayKind::number), std::invalid_argument);
  EXPECT_THROW(say_media("+5", SayKind::number), std::invalid_argument);
  EXPECT_THROW(say_media("99999999999", SayKind::number), std::invalid_argument);
  EXPECT_THROW(say_media("a,b", SayKind::characters), std::invalid_argument);  // ARI splits media on ','
  EXPECT_THROW(say_media("a\tb", SayKind::characters), std::invalid_argument);
  EXPECT_THROW(say_media("a-b", SayKind::phonetic), std::invalid_argument);
}

TEST(CollectOptions, AreChecked) {
  mrf::CollectOptions o;
  EXPECT_FALSE(mrf::detail::check_collect_options(o).has_value());
  o.max_digits = 0;
  EXPECT_THROW(mrf::detail::check_collect_options(o), std::invalid_argument);
  o = {};
  o.min_digits = 3;
  o.max_digits = 2;
  EXPECT_THROW(mrf::detail::check_collect_options(o), std::invalid_argument);
  o = {};
  o.tries = 0;
  EXPECT_THROW(mrf::detail::check_collect_options(o), std::invalid_argument);
  o = {};
  o.regex = "([0-9";
  EXPECT_THROW(mrf::detail::check_collect_options(o), std::invalid_argument);
  o = {};
  o.terminators = "#x";
  EXPECT_THROW(mrf::detail::check_collect_options(o), std::invalid_argument);
  o = {};
  o.inter_digit_timeout = -1ms;
  EXPECT_THROW(mrf::detail::check_collect_options(o), std::invalid_argument);
  o = {};
  o.regex = "1[0-9]+";
  EXPECT_TRUE(mrf::detail::check_collect_options(o).has_value());
}

struct Collect : testing::Test {
  DigitCollector::Clock::time_point t0 = DigitCollector::Clock::now();
  mrf::CollectOptions options;
  std::optional<std::regex> regex;
};

TEST_F(Collect, TerminatorEndsAndIsExcluded) {
  options.max_digits = 4;
  DigitCollector c(options, regex);
  c.start_try(t0, false);
  EXPECT_FALSE(c.add_digit('1', t0 + 1s));
  EXPECT_FALSE(c.add_digit('2', t0 + 2s));
  EXPECT_FALSE(c.end());
  c.add_digit('#', t0 + 3s);
  EXPECT_EQ(c.end(), CollectEnd::terminator);
  EXPECT_EQ(c.digits(), "12");
  EXPECT_TRUE(c.valid());
  c.add_digit('3', t0 + 4s);  // after the end: ignored
  EXPECT_EQ(c.digits(), "12");
}

TEST_F(Collect, MaxDigitsEnds) {
  options.max_digits = 2;
  DigitCollector c(options, regex);
  c.start_try(t0, false);
  c.add_digit('1', t0);
  c.add_digit('2', t0);
  EXPECT_EQ(c.end(), CollectEnd::max_digits);
  EXPECT_EQ(c.digits(), "12");
}

TEST_F(Collect, FirstDigitTimeoutCountsFromThePromptsEnd) {
  DigitCollector c(options, regex);
  c.start_try(t0, true);
  EXPECT_FALSE(c.deadline());  // the prompt plays: no first-digit timer yet
  c.tick(t0 + 60s);
  EXPECT_FALSE(c.end());
  c.prompt_ended(t0 + 10s);
  EXPECT_EQ(c.deadline(), t0 + 15s);
  c.tick(t0 + 14s);
  EXPECT_FALSE(c.end());
  c.tick(t0 + 15s);
  EXPECT_EQ(c.end(), CollectEnd::timeout);
  EXPECT_FALSE(c.valid());
}

TEST_F(Collect, InterDigitAndOverallTimeouts) {
  options.max_digits = 5;
  options.overall_timeout = 20s;
  DigitCollector c(options, regex);
  c.start_try(t0, false);
  EXPECT_EQ(c.deadline(), t0 + 5s);
  c.add_digit('1', t0 + 1s);
  EXPECT_EQ(c.deadline(), t0 + 4s);
  c.add_digit('2', t0 + 18s);
  EXPECT_EQ(c.deadline(), t0 + 20s);  // overall comes first
  c.tick(t0 + 20s);
  EXPECT_EQ(c.end(), CollectEnd::timeout);
  EXPECT_EQ(c.digits(), "12");
  EXPECT_TRUE(c.valid());  // enough digits: a timeout with valid input is valid
}

TEST_F(Collect, ZeroTimeoutsMeanNone) {
  options.first_digit_timeout = 0ms;
  DigitCollector c(options, regex);
  c.start_try(t0, false);
  EXPECT_FALSE(c.deadline());
}

TEST_F(Collect, BargeInKeepsDigitsAndStopsThePromptOnce) {
  options.max_digits = 3;
  DigitCollector c(options, regex);
  c.start_try(t0, true);
  EXPECT_TRUE(c.add_digit('1', t0 + 1s));
  EXPECT_FALSE(c.add_digit('2', t0 + 2s));  // asked once
  EXPECT_EQ(c.deadline(), t0 + 5s);         // inter-digit while the stop lands
  c.prompt_ended(t0 + 2s);
  c.add_digit('3', t0 + 3s);
  EXPECT_EQ(c.end(), CollectEnd::max_digits);
  EXPECT_EQ(c.digits(), "123");
}

TEST_F(Collect, WithoutBargeInDigitsDuringThePromptAreDropped) {
  options.max_digits = 2;
  options.barge_in = false;
  DigitCollector c(options, regex);
  c.start_try(t0, true);
  EXPECT_FALSE(c.add_digit('1', t0 + 1s));
  EXPECT_FALSE(c.add_digit('#', t0 + 1s));
  EXPECT_FALSE(c.end());
  EXPECT_EQ(c.digits(), "");
  c.prompt_ended(t0 + 5s);
  c.add_digit('7', t0 + 6s);
  EXPECT_EQ(c.digits(), "7");
}

TEST_F(Collect, ValidityUsesMinDigitsRegexAndCallback) {
  options.min_digits = 2;
  options.max_digits = 4;
  regex = std::regex("1.*");
  options.validate = [](std::string_view d) { return d != "13"; };
  DigitCollector c(options, regex);
  auto input = [&](std::string digits) {
    c.start_try(t0, false);
    for (char d : digits) c.add_digit(d, t0);
    return c.valid();
  };
  EXPECT_FALSE(input("1#"));   // too few
  EXPECT_FALSE(input("21#"));  // regex
  EXPECT_FALSE(input("13#"));  // callback
  EXPECT_TRUE(input("12#"));
  EXPECT_TRUE(input("1234"));
}

}  // namespace
