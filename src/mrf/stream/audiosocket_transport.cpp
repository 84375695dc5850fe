// Placeholder until the audiosocket transport lands (issue 19).
#include "transport.hpp"

#include <stdexcept>

namespace astmrf::mrf::detail {

std::unique_ptr<MediaTransport> make_audiosocket_transport(TransportContext) {
  throw std::invalid_argument("the audiosocket transport is not built yet");
}

}  // namespace astmrf::mrf::detail
