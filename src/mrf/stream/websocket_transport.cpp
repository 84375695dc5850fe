// Placeholder until the websocket transport lands (issue 19).
#include "transport.hpp"

#include <stdexcept>

namespace astmrf::mrf::detail {

std::unique_ptr<MediaTransport> make_websocket_transport(TransportContext) {
  throw std::invalid_argument("the websocket transport is not built yet");
}

}  // namespace astmrf::mrf::detail
