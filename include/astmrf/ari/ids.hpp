// Client-chosen resource ids (channels, bridges, playbacks, recordings, snoops).
// Ids are `<prefix>-<time base36>-<96 random bits hex>`: unique across processes and restarts
// without coordination, valid as ARI path segments and recording names.
#pragma once

#include <astmrf/util/random.hpp>

#include <string>
#include <string_view>

namespace astmrf::ari {

/// Makes client-chosen ids, `<prefix>-<ms base36>-<96 random bits>`: unique across processes and
/// restarts, so they can be chosen before the request that creates the resource.
class IdGenerator {
 public:
  /// Seeds its own random source from std::random_device.
  IdGenerator() = default;
  /// A new id starting with `prefix`.
  std::string next(std::string_view prefix);

 private:
  util::Random random_;
};

}  // namespace astmrf::ari
