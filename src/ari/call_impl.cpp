#include "call_impl.hpp"

namespace astmrf::ari {

template void Client::start_call<Response>(Request, detail::call_handler<Response>);

}  // namespace astmrf::ari
