// The list of every ARI operation found in the api-docs the typed API was generated from,
// and whether the typed API covers it (used by the coverage report).
#pragma once

#include <span>
#include <string_view>

namespace astmrf::ari {

/// One operation of Asterisk's ARI api-docs.
struct OperationInfo {
  std::string_view method;    ///< "GET", "POST"...
  std::string_view path;      ///< "/channels/{channelId}/play"
  std::string_view resource;  ///< "channels"
  std::string_view nickname;  ///< "play"
  bool typed;                 ///< a typed method exists (false: the events WebSocket, owned by Client)
};

/// Every operation of the api-docs this library was generated from, and whether it is typed.
std::span<const OperationInfo> operation_catalog() noexcept;

}  // namespace astmrf::ari
