#pragma once
/// @file
/// ASCII case folding for protocol text (SIP header names, tokens, schemes, hosts): no locale,
/// bytes above 0x7F compared as they are. Header-only and standard-library-only, so that
/// astmrf::sip can use it too.

#include <cstddef>
#include <string>
#include <string_view>

namespace astmrf::util {

/// `c` in lower case when it is an ASCII letter; any other byte unchanged.
constexpr char to_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c; }

/// A copy of `text` with its ASCII letters in lower case.
inline std::string to_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = to_lower(c);
  return out;
}

/// ASCII case-insensitive equality. Inline: it sits on the SIP parser's structured-access paths.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

/// True when `text` ends with `suffix`, ignoring ASCII case.
constexpr bool iends_with(std::string_view text, std::string_view suffix) noexcept {
  return text.size() >= suffix.size() && iequals(text.substr(text.size() - suffix.size()), suffix);
}

/// True when `word` occurs in `text`, ignoring ASCII case.
constexpr bool icontains(std::string_view text, std::string_view word) noexcept {
  if (word.size() > text.size()) return false;
  for (std::size_t at = 0; at + word.size() <= text.size(); ++at) {
    if (iequals(text.substr(at, word.size()), word)) return true;
  }
  return false;
}

}  // namespace astmrf::util
