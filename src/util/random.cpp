#include <astmrf/util/random.hpp>

#include <array>

namespace astmrf::util {

namespace {
constexpr char kHex[] = "0123456789abcdef";
}

Random::Random() {
  std::random_device device;
  std::array<std::uint32_t, 8> words{};
  for (auto& word : words) word = device();
  std::seed_seq seed(words.begin(), words.end());
  engine_.seed(seed);
}

void Random::append_hex(std::string& out, std::size_t digits) {
  out.reserve(out.size() + digits);
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (i % 16 == 0) bits = engine_();
    out.push_back(kHex[bits & 0xF]);
    bits >>= 4;
  }
}

std::string Random::hex(std::size_t digits) {
  std::string out;
  append_hex(out, digits);
  return out;
}

std::string Random::uuid4() {
  // 122 random bits; the version (4) and the variant (10xx) are fixed (RFC 4122 4.4).
  std::uint64_t hi = engine_();
  std::uint64_t lo = engine_();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;
  lo = (lo & ~(0xC000ULL << 48)) | (0x8000ULL << 48);
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 32; ++i) {
    const std::uint64_t word = i < 16 ? hi : lo;
    const int shift = 60 - 4 * (i % 16);
    out.push_back(kHex[(word >> shift) & 0xF]);
    if (i == 7 || i == 11 || i == 15 || i == 19) out.push_back('-');
  }
  return out;
}

}  // namespace astmrf::util
