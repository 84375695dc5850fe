#include "media_pool.hpp"

namespace astmrf::ivr {

std::shared_ptr<mrf::MediaServer> MediaPool::next() {
  for (std::size_t tried = 0; tried < servers_.size(); ++tried) {
    auto& server = servers_[next_ % servers_.size()];
    ++next_;
    if (server->connected()) return server;
  }
  return nullptr;
}

void MediaPool::disconnect_all() {
  for (auto& server : servers_) server->disconnect();
}

}  // namespace astmrf::ivr
