#pragma once
/// @file
/// Hexadecimal digits, once for every module. Header-only and standard-library-only, so that
/// astmrf::sip (which links nothing else, for the fuzz build) can use it too.

#include <cstddef>
#include <string>
#include <string_view>

namespace astmrf::util {

/// Lowercase hex digits, indexed by value.
inline constexpr std::string_view kHexLower = "0123456789abcdef";
/// Uppercase hex digits, as percent-encoding wants them (RFC 3986 2.1).
inline constexpr std::string_view kHexUpper = "0123456789ABCDEF";

/// The value of one hex digit of either case, or -1 when `c` is not one.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Appends `byte` as two hex digits taken from `digits` (kHexLower or kHexUpper).
inline void append_hex_byte(std::string& out, unsigned char byte, std::string_view digits = kHexLower) {
  out.push_back(digits[byte >> 4]);
  out.push_back(digits[byte & 0xF]);
}

/// Appends `byte` percent-encoded: `%` and two uppercase hex digits.
inline void append_percent_encoded(std::string& out, unsigned char byte) {
  out.push_back('%');
  append_hex_byte(out, byte, kHexUpper);
}

/// `size` bytes as lowercase hex.
inline std::string to_hex(const unsigned char* data, std::size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) append_hex_byte(out, data[i]);
  return out;
}

}  // namespace astmrf::util
