// Placeholder until the rtp transport lands (issue 19).
#include "transport.hpp"

#include <stdexcept>

namespace astmrf::mrf::detail {

std::unique_ptr<MediaTransport> make_rtp_transport(TransportContext) {
  throw std::invalid_argument("the rtp transport is not built yet");
}

}  // namespace astmrf::mrf::detail
