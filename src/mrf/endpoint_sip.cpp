// Endpoint mid-call SIP: re-offers toward Asterisk (fsmrf's modify).
// PLACEHOLDER until implemented (issue 15).
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <stdexcept>

namespace astmrf::mrf {

void Endpoint::start_modify(std::string, BytesHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  (*once)(std::make_exception_ptr(std::logic_error("not implemented yet")), std::string{});
}

}  // namespace astmrf::mrf
