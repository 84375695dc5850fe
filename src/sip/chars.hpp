// Character classes of the RFC 3261 grammar as 256-entry bit tables: one load
// and one AND per byte on the hot paths.
#pragma once

#include <astmrf/util/ascii.hpp>
#include <astmrf/util/hex.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace astmrf::sip::detail {

enum CharClass : std::uint32_t {
  kAlnum = 1 << 0,
  kToken = 1 << 1,        // token: alnum / "-.!%*_+`'~"
  kUnreserved = 1 << 2,   // alnum / mark
  kUserExtra = 1 << 3,    // user-unreserved: "&=+$,;?/"
  kPassExtra = 1 << 4,    // "&=+$,"
  kParamExtra = 1 << 5,   // param-unreserved: "[]/:&+$"
  kHeaderExtra = 1 << 6,  // hnv-unreserved: "[]/?:+$"
  kHost = 1 << 7,         // hostname chars: alnum / "-" / "."
  kDigit = 1 << 8,
  kHex = 1 << 9,
  kWord = 1 << 10,        // word: token chars plus "()<>:\\\"/[]?{}"
  kPhone = 1 << 11,       // tel number chars: digits, hex, visual separators, *#+
  kWsp = 1 << 12,         // SP / HTAB
  kParamValue = 1 << 13,  // unquoted generic-param value: token / host chars ":[]"
  kQText = 1 << 14,       // inside a quoted-string without escape: not '"', '\\' or a control below 0x20 (HTAB allowed)
  kListSpecial = 1 << 15,  // what split_list must look at: ',' '"' '<' '>' '\\'
  kAddrStop = 1 << 16,     // ends an addr-spec without <>: ';' ',' SP HTAB
  kScheme = 1 << 17,       // scheme chars: alnum / "+-."
  kAlpha = 1 << 18,
  kVisible = 1 << 19,  // neither whitespace nor a control: > 0x20 and not DEL
};

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  auto add = [&t](std::string_view chars, std::uint32_t cls) {
    for (char c : chars) t[static_cast<unsigned char>(c)] |= cls;
  };
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    if (alpha || digit)
      t[static_cast<std::size_t>(c)] |= kAlnum | kToken | kUnreserved | kHost | kWord | kParamValue | kScheme;
    if (alpha) t[static_cast<std::size_t>(c)] |= kAlpha;
    if (c > 0x20 && c != 0x7f) t[static_cast<std::size_t>(c)] |= kVisible;
    if ((c >= 0x20 && c != '"' && c != '\\') || c == '\t') t[static_cast<std::size_t>(c)] |= kQText;
    if (digit) t[static_cast<std::size_t>(c)] |= kDigit | kHex | kPhone;
    if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) t[static_cast<std::size_t>(c)] |= kHex | kPhone;
  }
  add("-.!%*_+`'~", kToken | kWord);
  add("-_.!~*'()", kUnreserved);
  add("&=+$,;?/", kUserExtra);
  add("&=+$,", kPassExtra);
  add("[]/:&+$", kParamExtra);
  add("[]/?:+$", kHeaderExtra);
  add("-.", kHost);
  add("()<>:\\\"/[]?{}", kWord);
  add("-.()*#+pPwW", kPhone);
  add(" \t", kWsp);
  add("-.!%*_+`'~:[]", kParamValue);
  add(",\"<>\\", kListSpecial);
  add(";, \t", kAddrStop);
  add("+-.", kScheme);
  return t;
}

inline constexpr auto kCharTable = make_table();

constexpr bool is(char c, std::uint32_t cls) noexcept { return (kCharTable[static_cast<unsigned char>(c)] & cls) != 0; }
/// Index of the first byte in [i, n) that is not in `cls`, or n. Unrolled by
/// four so that most bytes cost a load, a table lookup and a test.
inline std::size_t skip_class(const char* p, std::size_t i, std::size_t n, std::uint32_t cls) noexcept {
  while (i + 4 <= n) {
    if (!is(p[i], cls)) return i;
    if (!is(p[i + 1], cls)) return i + 1;
    if (!is(p[i + 2], cls)) return i + 2;
    if (!is(p[i + 3], cls)) return i + 3;
    i += 4;
  }
  while (i < n && is(p[i], cls)) ++i;
  return i;
}

/// Index of the first byte in [i, n) that is in `cls`, or n.
inline std::size_t find_class(const char* p, std::size_t i, std::size_t n, std::uint32_t cls) noexcept {
  while (i + 4 <= n) {
    if (is(p[i], cls)) return i;
    if (is(p[i + 1], cls)) return i + 1;
    if (is(p[i + 2], cls)) return i + 2;
    if (is(p[i + 3], cls)) return i + 3;
    i += 4;
  }
  while (i < n && !is(p[i], cls)) ++i;
  return i;
}

/// s.find(c, from) for the short spans of header values: eight bytes per step
/// inline (a zero byte in x ^ (c * 0x01..01) marks a match) instead of a
/// library call.
inline std::size_t find_char(std::string_view s, char c, std::size_t from = 0) noexcept {
  const char* p = s.data();
  const std::size_t n = s.size();
  std::size_t i = from;
  if constexpr (std::endian::native == std::endian::little) {
    const std::uint64_t pattern = 0x0101010101010101ULL * static_cast<unsigned char>(c);
    while (i + 8 <= n) {
      std::uint64_t x;
      std::memcpy(&x, p + i, 8);
      x ^= pattern;
      const std::uint64_t t = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
      if (t != 0) return i + static_cast<std::size_t>(std::countr_zero(t) >> 3);
      i += 8;
    }
  }
  for (; i < n; ++i) {
    if (p[i] == c) return i;
  }
  return std::string_view::npos;
}

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_wsp(char c) noexcept { return c == ' ' || c == '\t'; }
using util::to_lower;

using util::hex_value;

inline std::string_view trim(std::string_view s) noexcept {
  std::size_t b = 0, e = s.size();
  while (b < e && is_wsp(s[b])) ++b;
  while (e > b && is_wsp(s[e - 1])) --e;
  return s.substr(b, e - b);
}

/// True when every char of `s` is in `cls` or is a valid %HH escape.
inline bool all_escaped_of(std::string_view s, std::uint32_t cls) noexcept {
  const std::size_t n = s.size();
  if (is('%', cls)) {  // '%' would be skipped as a plain member: check byte by byte
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s[i];
      if (c == '%') {
        if (i + 2 >= n || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0) return false;
        i += 2;
      } else if (!is(c, cls)) {
        return false;
      }
    }
    return true;
  }
  std::size_t i = 0;
  while (true) {
    i = skip_class(s.data(), i, n, cls);
    if (i == n) return true;
    if (s[i] != '%' || i + 2 >= n || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0) return false;
    i += 3;
  }
}

inline bool all_of(std::string_view s, std::uint32_t cls) noexcept {
  return skip_class(s.data(), 0, s.size(), cls) == s.size();
}

/// Parses a decimal number of at most `max` into `out`; false on any non-digit,
/// empty input or overflow.
inline bool parse_uint(std::string_view s, std::uint64_t max, std::uint64_t& out) noexcept {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
    if (v > max) return false;
  }
  out = v;
  return true;
}

}  // namespace astmrf::sip::detail
