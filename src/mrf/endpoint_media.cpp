// Endpoint media verbs (the playback verbs are in endpoint_play.cpp): record, DTMF, mute, hold, music on
// hold, silence, channel variables.
// PLACEHOLDER: every verb fails until implemented (issue 15).
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <stdexcept>

namespace astmrf::mrf {

namespace {
template <typename Handler, typename... T>
void not_yet(Handler handler, const boost::asio::any_io_executor& executor, T... values) {
  auto once = astmrf::detail::make_once(std::move(handler), executor);
  (*once)(std::make_exception_ptr(std::logic_error("not implemented yet")), std::move(values)...);
}
}  // namespace

std::string Endpoint::direction_name(MediaDirection direction) {
  switch (direction) {
    case MediaDirection::in: return "in";
    case MediaDirection::out: return "out";
    case MediaDirection::both: return "both";
  }
  return "both";
}

void Endpoint::start_verb(Verb, std::string, std::string, VoidHandler handler) {
  not_yet(std::move(handler), executor_);
}
void Endpoint::start_record(RecordOptions, RecordHandler handler) {
  not_yet(std::move(handler), executor_, RecordResult{});
}
void Endpoint::start_fetch_recording(std::string, BytesHandler handler) {
  not_yet(std::move(handler), executor_, std::string{});
}
void Endpoint::start_get_variable(std::string, BytesHandler handler) {
  not_yet(std::move(handler), executor_, std::string{});
}
void Endpoint::start_send_dtmf(std::string, DtmfOptions, VoidHandler handler) {
  not_yet(std::move(handler), executor_);
}

}  // namespace astmrf::mrf
