// Endpoint media verbs: play, play and collect, say, record, DTMF, mute, hold, music on
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

std::string Endpoint::make_playback_id() { return channel_id_ + "-pb"; }
Playback Endpoint::playback(std::string id) { return Playback(weak_from_this(), std::move(id)); }
void Playback::start_control(const char*, VoidHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), boost::asio::system_executor());
  (*once)(std::make_exception_ptr(std::logic_error("not implemented yet")));
}
void Endpoint::start_play(std::vector<std::string>, PlayOptions, PlayHandler handler) {
  not_yet(std::move(handler), executor_, PlayResult{});
}
void Endpoint::start_collect(std::vector<std::string>, CollectOptions, CollectHandler handler) {
  not_yet(std::move(handler), executor_, CollectResult{});
}
void Endpoint::start_say(std::string, SayKind, std::string, PlayHandler handler) {
  not_yet(std::move(handler), executor_, PlayResult{});
}

}  // namespace astmrf::mrf
