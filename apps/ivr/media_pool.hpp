// The media servers calls are spread over: simple round robin among those connected.
#pragma once

#include <astmrf/mrf/mrf.hpp>

#include <memory>
#include <vector>

namespace astmrf::ivr {

class MediaPool {
 public:
  void add(std::shared_ptr<mrf::MediaServer> server) { servers_.push_back(std::move(server)); }
  /// The next connected server after the last one handed out; null when none is.
  [[nodiscard]] std::shared_ptr<mrf::MediaServer> next();
  [[nodiscard]] const std::vector<std::shared_ptr<mrf::MediaServer>>& servers() const noexcept { return servers_; }
  /// Disconnects every server (ends their endpoints, removes their Stasis apps).
  void disconnect_all();

 private:
  std::vector<std::shared_ptr<mrf::MediaServer>> servers_;
  std::size_t next_{0};
};

}  // namespace astmrf::ivr
