#include <astmrf/util/hex.hpp>
#include <astmrf/util/random.hpp>

#include <openssl/sha.h>

#include <array>
#include <stdexcept>

namespace astmrf::util {

namespace {
constexpr auto kHex = kHexLower;
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

std::string uuid5(std::string_view namespace_uuid, std::string_view name) {
  // The namespace's 16 bytes, then the name: SHA-1 over both (RFC 9562 5.5).
  std::string input;
  input.reserve(16 + name.size());
  const auto bad = [&] { return std::invalid_argument("uuid5: not a UUID: '" + std::string(namespace_uuid) + "'"); };
  if (namespace_uuid.size() != 36) throw bad();
  for (std::size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (namespace_uuid[i] != '-') throw bad();
      ++i;
      continue;
    }
    const int high = hex_value(namespace_uuid[i]);
    const int low = hex_value(namespace_uuid[i + 1]);
    if (high < 0 || low < 0) throw bad();
    input.push_back(static_cast<char>((high << 4) | low));
    i += 2;
  }
  input.append(name);
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0F) | 0x50);  // version 5
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3F) | 0x80);  // variant 10xx
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
    if (i == 3 || i == 5 || i == 7 || i == 9) out.push_back('-');
  }
  return out;
}

}  // namespace astmrf::util
