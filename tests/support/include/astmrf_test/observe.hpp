// What tests read back of the library's observability: the log lines a logger wrote and
// the value of one series of a metrics registry.
#pragma once

#include <astmrf/util/log.hpp>
#include <astmrf/util/metrics.hpp>

#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace astmrf_test {

// A logger that keeps its last `keep` lines in memory (thread-safe), formatted with `pattern`
// ("%v": the key=value payload alone).
class LogCapture {
 public:
  explicit LogCapture(spdlog::level::level_enum level = spdlog::level::trace, std::string pattern = "%v",
                      std::size_t keep = 10000)
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(keep)),
        logger_(std::make_shared<spdlog::logger>("test", sink_)) {
    logger_->set_level(level);
    logger_->set_pattern(std::move(pattern));
  }

  [[nodiscard]] const std::shared_ptr<spdlog::logger>& logger() const { return logger_; }

  // The lines, oldest first, without their line ends.
  [[nodiscard]] std::vector<std::string> lines() const {
    auto lines = sink_->last_formatted();
    for (auto& line : lines) {
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    }
    return lines;
  }

  // Each line parsed back into its fields (astmrf::util::parse_fields).
  [[nodiscard]] std::vector<std::vector<std::pair<std::string, std::string>>> fields() const {
    std::vector<std::vector<std::pair<std::string, std::string>>> out;
    for (const auto& line : lines()) out.push_back(astmrf::util::parse_fields(line));
    return out;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> logger_;
};

// The value of one series (`name{labels}` exactly as exposed) of `registry`, or -1 when it is
// not exposed.
inline double exposed_value(const astmrf::util::metrics::Registry& registry, const std::string& series) {
  const auto text = "\n" + registry.expose();
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace astmrf_test
