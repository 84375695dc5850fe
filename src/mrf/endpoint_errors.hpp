// What the endpoint verbs (and the bridge's) share (internal): ARI's names of record options,
// how an ARI failure about the endpoint's channel is reported, and the checks every verb makes
// before its I/O.
#pragma once

#include <astmrf/ari/error.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/errors.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/util/ascii.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace astmrf::mrf::internal {

/// ARI's `ifExists` value of a recording (endpoint and bridge recordings alike).
inline std::string record_if_exists_name(RecordIfExists if_exists) {
  switch (if_exists) {
    case RecordIfExists::fail: return "fail";
    case RecordIfExists::overwrite: return "overwrite";
    case RecordIfExists::append: return "append";
  }
  return "fail";
}

/// ARI's `terminateOn` value of a recording.
inline std::string record_terminate_name(RecordTerminate terminate) {
  switch (terminate) {
    case RecordTerminate::none: return "none";
    case RecordTerminate::any: return "any";
    case RecordTerminate::star: return "*";
    case RecordTerminate::hash: return "#";
  }
  return "none";
}

inline bool mentions(std::string_view text, std::string_view word) { return util::icontains(text, word); }

/// `error` as a verb on the channel reports it: Asterisk's 404 about the channel (any 404 when
/// `any_not_found`, i.e. the channel is the request's only resource) and its 409 "not in Stasis"
/// (the channel is leaving our application) become CallEnded; anything else passes unchanged.
inline std::exception_ptr channel_error(std::exception_ptr error, std::optional<EndpointEnd> reason,
                                        bool any_not_found) {
  if (!error) return error;
  try {
    std::rethrow_exception(error);
  } catch (const ari::NotFound& e) {
    if (any_not_found || mentions(e.message(), "channel")) return std::make_exception_ptr(CallEnded(reason));
  } catch (const ari::Conflict& e) {
    if (mentions(e.message(), "stasis")) return std::make_exception_ptr(CallEnded(reason));
  } catch (...) {
  }
  return error;
}

/// The ARI client of the server, for what works after the call ended too (stored recordings);
/// null and `error` set (MediaServerUnavailable) when the server is gone or disconnected.
inline ari::Client* server_client(const std::weak_ptr<MediaServer>& server, std::exception_ptr& error) {
  auto locked = server.lock();
  if (locked && locked->connected()) return &locked->ari();
  error = std::make_exception_ptr(MediaServerUnavailable("the media server is gone"));
  return nullptr;
}

/// The ARI client for a verb on the call: null and `error` set when the call ended (CallEnded)
/// or the server is gone.
inline ari::Client* call_client(const astmrf::detail::EndState<EndpointEnd>& end,
                                const std::weak_ptr<MediaServer>& server, std::exception_ptr& error) {
  if (end.ended()) {
    error = std::make_exception_ptr(CallEnded(end.value()));
    return nullptr;
  }
  return server_client(server, error);
}

}  // namespace astmrf::mrf::internal
