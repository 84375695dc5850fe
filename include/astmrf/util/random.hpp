// Random identifiers for the modules above (SIP tags and Call-IDs, ARI resource ids,
// Stasis application names, drachtio transaction ids). One implementation of each;
// the random source is an object its owner keeps (no global generator). Also the name-based
// UUID (version 5) of a stable Stasis application name (mrf::ConnectOptions::instance_id).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace astmrf::util {

/// A pseudo-random source seeded from std::random_device, owned by whoever needs
/// ids (an engine, a client, a media server). Not for cryptographic secrets. It is a
/// UniformRandomBitGenerator, so it also feeds the standard library's distributions.
class Random {
 public:
  /// The type of the values it yields.
  using result_type = std::uint64_t;
  /// Seeded from std::random_device (the full state, not one word).
  Random();
  /// A fixed seed: the same sequence every time (tests).
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  /// The smallest value it yields.
  static constexpr result_type min() { return std::mt19937_64::min(); }
  /// The largest value it yields.
  static constexpr result_type max() { return std::mt19937_64::max(); }
  /// 64 random bits.
  result_type operator()() { return engine_(); }

  /// `digits` random lowercase hex digits, appended to `out`.
  void append_hex(std::string& out, std::size_t digits);
  /// `digits` random lowercase hex digits.
  std::string hex(std::size_t digits);
  /// An RFC 4122 version 4 UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" (lowercase).
  std::string uuid4();

 private:
  std::mt19937_64 engine_;
};

/// An RFC 9562 version 5 (name-based, SHA-1) UUID of `name` in the namespace `namespace_uuid`
/// ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", either case), lowercase: the same inputs always give the
/// same UUID. Throws std::invalid_argument when `namespace_uuid` is not a UUID.
std::string uuid5(std::string_view namespace_uuid, std::string_view name);

}  // namespace astmrf::util
