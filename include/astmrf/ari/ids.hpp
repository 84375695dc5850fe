// Client-chosen resource ids (channels, bridges, playbacks, recordings, snoops).
// Ids are `<prefix>-<time base36>-<96 random bits hex>`: unique across processes and restarts
// without coordination, valid as ARI path segments and recording names.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace astmrf::ari {

/// Makes client-chosen ids, `<prefix>-<ms base36>-<96 random bits>`: unique across processes and
/// restarts, so they can be chosen before the request that creates the resource.
class IdGenerator {
 public:
  /// Seeds from std::random_device.
  IdGenerator();
  /// A new id starting with `prefix`.
  std::string next(std::string_view prefix);

 private:
  std::mt19937_64 rng_;
};

}  // namespace astmrf::ari
