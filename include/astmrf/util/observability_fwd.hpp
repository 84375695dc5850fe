// What the options structs of every module name to be observed, declared once: the logger
// they log through and the metrics registry they count in. Include <astmrf/util/metrics.hpp>
// to make a registry, <spdlog/spdlog.h> to make a logger.
#pragma once

namespace spdlog {
class logger;
}  // namespace spdlog

namespace astmrf::util::metrics {
class Registry;
}  // namespace astmrf::util::metrics
