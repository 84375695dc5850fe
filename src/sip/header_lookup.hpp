// The header-name table behind header_id(), inline so that the parser's
// per-line lookup needs no call. Internal to astmrf_sip.
#pragma once

#include <astmrf/sip/header_id.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace astmrf::sip::detail {

struct Entry {
  std::string_view name;
  char compact;
  bool list;
};

// Indexed by HeaderId; `list` follows the "#"-rules of each header's ABNF.
inline constexpr std::array<Entry, static_cast<std::size_t>(HeaderId::count_)> kHeaders{{
    {"", '\0', false},
    {"Accept", '\0', true},
    {"Accept-Contact", 'a', true},
    {"Accept-Encoding", '\0', true},
    {"Accept-Language", '\0', true},
    {"Alert-Info", '\0', true},
    {"Allow", '\0', true},
    {"Allow-Events", 'u', true},
    {"Authentication-Info", '\0', false},
    {"Authorization", '\0', false},
    {"Call-ID", 'i', false},
    {"Call-Info", '\0', true},
    {"Contact", 'm', true},
    {"Content-Disposition", '\0', false},
    {"Content-Encoding", 'e', true},
    {"Content-Language", '\0', true},
    {"Content-Length", 'l', false},
    {"Content-Type", 'c', false},
    {"CSeq", '\0', false},
    {"Date", '\0', false},
    {"Error-Info", '\0', true},
    {"Event", 'o', false},
    {"Expires", '\0', false},
    {"From", 'f', false},
    {"Identity", 'y', false},
    {"In-Reply-To", '\0', true},
    {"Max-Forwards", '\0', false},
    {"Min-Expires", '\0', false},
    {"Min-SE", '\0', false},
    {"MIME-Version", '\0', false},
    {"Organization", '\0', false},
    {"P-Asserted-Identity", '\0', true},
    {"Priority", '\0', false},
    {"Proxy-Authenticate", '\0', false},
    {"Proxy-Authorization", '\0', false},
    {"Proxy-Require", '\0', true},
    {"RAck", '\0', false},
    {"Reason", '\0', true},
    {"Record-Route", '\0', true},
    {"Refer-To", 'r', false},
    {"Referred-By", 'b', false},
    {"Reply-To", '\0', false},
    {"Require", '\0', true},
    {"Retry-After", '\0', false},
    {"Route", '\0', true},
    {"RSeq", '\0', false},
    {"Server", '\0', false},
    {"Session-Expires", 'x', false},
    {"Subject", 's', false},
    {"Subscription-State", '\0', false},
    {"Supported", 'k', true},
    {"Timestamp", '\0', false},
    {"To", 't', false},
    {"Unsupported", '\0', true},
    {"User-Agent", '\0', false},
    {"Via", 'v', true},
    {"Warning", '\0', true},
    {"WWW-Authenticate", '\0', false},
}};

constexpr unsigned char lower(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c | 0x20) : c;
}

// Compact forms, indexed by lower-case letter.
constexpr std::array<HeaderId, 26> make_compact_table() {
  std::array<HeaderId, 26> t{};
  for (std::size_t i = 1; i < kHeaders.size(); ++i) {
    if (kHeaders[i].compact != '\0') t[static_cast<std::size_t>(kHeaders[i].compact - 'a')] = static_cast<HeaderId>(i);
  }
  return t;
}
inline constexpr auto kCompact = make_compact_table();

// Buckets by (length, first letter): at most a handful of candidates each, so a
// lookup is one hash step plus one or two case-insensitive compares.
inline constexpr std::size_t kMaxLen = 20;
struct Bucket {
  std::array<HeaderId, 4> ids{};
  std::uint8_t n{0};
};
constexpr std::size_t bucket_index(std::size_t len, unsigned char first) { return len * 26 + (lower(first) - 'a'); }
constexpr std::array<Bucket, (kMaxLen + 1) * 26> make_buckets() {
  std::array<Bucket, (kMaxLen + 1) * 26> b{};
  for (std::size_t i = 1; i < kHeaders.size(); ++i) {
    auto& bk = b[bucket_index(kHeaders[i].name.size(), static_cast<unsigned char>(kHeaders[i].name[0]))];
    bk.ids[bk.n++] = static_cast<HeaderId>(i);
  }
  return b;
}
inline constexpr auto kBuckets = make_buckets();

// Each known name in lower case, padded to 24 bytes, with a mask that has
// 0x20 on the letters: (input | mask) == lower compares letters without case
// and every other byte exactly, eight bytes per step.
inline constexpr std::size_t kPadded = 24;
struct Folded {
  std::array<std::uint64_t, kPadded / 8> lower{};
  std::array<std::uint64_t, kPadded / 8> mask{};
};
constexpr std::array<Folded, kHeaders.size()> make_folded() {
  std::array<Folded, kHeaders.size()> out{};
  for (std::size_t i = 1; i < kHeaders.size(); ++i) {
    const auto name = kHeaders[i].name;
    for (std::size_t j = 0; j < name.size(); ++j) {
      const auto c = static_cast<unsigned char>(name[j]);
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      const auto shift = 8 * (j % 8);  // little-endian byte order of the loaded words
      out[i].lower[j / 8] |= std::uint64_t{lower(c)} << shift;
      if (letter) out[i].mask[j / 8] |= std::uint64_t{0x20} << shift;
    }
  }
  return out;
}
inline constexpr auto kFolded = make_folded();

// The last 1..7 bytes of a name as one little-endian word (zero-padded).
inline std::uint64_t load_tail(const char* p, std::size_t rem) noexcept {
  if (rem >= 4) {  // two overlapping 4-byte loads; the shared bytes are equal
    std::uint32_t a = 0, b = 0;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + rem - 4, 4);
    return std::uint64_t{a} | (std::uint64_t{b} << (8 * (rem - 4)));
  }
  std::uint64_t w = static_cast<unsigned char>(p[0]);
  if (rem > 1) w |= std::uint64_t{static_cast<unsigned char>(p[1])} << 8;
  if (rem > 2) w |= std::uint64_t{static_cast<unsigned char>(p[2])} << 16;
  return w;
}

inline bool folded_equals(std::string_view name, const Folded& f) noexcept {
  const char* p = name.data();
  const std::size_t len = name.size();  // <= kMaxLen < kPadded
  std::size_t k = 0;
  for (; (k + 1) * 8 <= len; ++k) {
    std::uint64_t w = 0;
    std::memcpy(&w, p + k * 8, 8);
    if ((w | f.mask[k]) != f.lower[k]) return false;
  }
  const std::size_t rem = len - k * 8;
  return rem == 0 || (load_tail(p + k * 8, rem) | f.mask[k]) == f.lower[k];
}

inline HeaderId lookup_header_id(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxLen) return HeaderId::other;
  const auto first = lower(static_cast<unsigned char>(name[0]));
  if (first < 'a' || first > 'z') return HeaderId::other;
  if (name.size() == 1) return kCompact[first - 'a'];
  const auto& bk = kBuckets[bucket_index(name.size(), first)];
  for (std::uint8_t i = 0; i < bk.n; ++i) {
    const auto id = bk.ids[i];
    if constexpr (std::endian::native == std::endian::little) {
      if (folded_equals(name, kFolded[static_cast<std::size_t>(id)])) return id;
    } else {
      if (iequals(name, kHeaders[static_cast<std::size_t>(id)].name)) return id;
    }
  }
  return HeaderId::other;
}

}  // namespace astmrf::sip::detail
