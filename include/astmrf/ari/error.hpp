// Errors of the ARI client.
//
// Two families:
//  * ari::Error and its subclasses: an ARI request failed. They carry the HTTP status, the message
//    Asterisk put in its JSON body ("Channel not found"), and the method and path of the request.
//    Typed REST calls complete with a std::exception_ptr holding one of them; with use_awaitable or
//    use_future it is rethrown.
//  * boost::system::error_code with ari::errc values: outcomes of waits (timeout, resource ended)
//    and the connection state machine.
// No message built here ever contains the password: paths are relative to /ari and carry no
// credentials, and the client never puts credentials in a URL.
#pragma once

#include <boost/system/error_code.hpp>

#include <stdexcept>
#include <string>
#include <type_traits>

namespace astmrf::ari {

/// An ARI request that failed. status() is the HTTP status, or 0 when no response arrived
/// (connection failure, timeout: see TransportError).
class Error : public std::runtime_error {
 public:
  /// `status`: the HTTP status (0: none); `message`: Asterisk's message; `method` and `path`: the request.
  Error(unsigned status, std::string message, std::string method, std::string path);

  /// HTTP status code (0 when the request got no response).
  unsigned status() const noexcept { return status_; }
  /// Asterisk's own message (the `message` field of its JSON error body), or a description.
  const std::string& message() const noexcept { return message_; }
  /// HTTP method of the failed request ("GET", "POST"...).
  const std::string& method() const noexcept { return method_; }
  /// Path of the failed request, relative to /ari, with its query string.
  const std::string& path() const noexcept { return path_; }

 private:
  unsigned status_;
  std::string message_;
  std::string method_;
  std::string path_;
};

/// 400: a parameter is missing or invalid (also "Channel not found" in addChannel).
class BadRequest : public Error {
  using Error::Error;
};
/// 401: wrong user or password. Raised by async_connect before anything else is attempted.
class AuthenticationError : public Error {
  using Error::Error;
};
/// 403: the ARI user is read-only, or the operation is forbidden.
class Forbidden : public Error {
  using Error::Error;
};
/// 404: the resource (channel, bridge, playback...) does not exist (any more).
class NotFound : public Error {
  using Error::Error;
};
/// 405: the method is not allowed on this path.
class MethodNotAllowed : public Error {
  using Error::Error;
};
/// 409: conflict: duplicate id, recording name in use, channel in a wrong state.
class Conflict : public Error {
  using Error::Error;
};
/// 412: precondition failed (e.g. channel not in a state that allows the operation).
class PreconditionFailed : public Error {
  using Error::Error;
};
/// 422: unprocessable: e.g. the channel is not in a Stasis application, bad recording format.
class UnprocessableEntity : public Error {
  using Error::Error;
};
/// 500: Asterisk failed internally (also: play without media, record without name).
class ServerError : public Error {
  using Error::Error;
};
/// 501: not implemented by this Asterisk.
class NotImplemented : public Error {
  using Error::Error;
};
/// 503: Asterisk is shutting down or the service is unavailable.
class ServiceUnavailable : public Error {
  using Error::Error;
};

/// No HTTP response: the connection failed, was closed, or the request timed out.
class TransportError : public Error {
 public:
  /// `ec`: the I/O error; `message`: a description; `method` and `path`: the request.
  TransportError(boost::system::error_code ec, std::string message, std::string method, std::string path);
  /// The underlying I/O error (ari::errc::timed_out for a request timeout).
  boost::system::error_code code() const noexcept { return code_; }

 private:
  boost::system::error_code code_;
};

/// Builds the Error subclass that matches `status`, from a response body (JSON `{"message":...}`
/// or anything else, which is then used as is, truncated).
std::exception_ptr make_error(unsigned status, std::string_view body, std::string method, std::string path);

/// Error codes of waits and of the connection (category "astmrf.ari").
enum class errc {
  timed_out = 1,      ///< a wait or a request ran out of time
  resource_ended,     ///< the resource ended (StasisEnd, PlaybackFinished...) before the awaited event
  resource_vanished,  ///< the resource disappeared while the events WebSocket was down (reconcile)
  closed,             ///< the client was closed
  malformed_event,    ///< an event could not be decoded
  handshake_failed,   ///< the events WebSocket upgrade was refused
};

/// The "astmrf.ari" error category.
const boost::system::error_category& category() noexcept;
/// Makes an error_code of the "astmrf.ari" category.
boost::system::error_code make_error_code(errc e) noexcept;

}  // namespace astmrf::ari

/// \cond INTERNAL
template <>
struct boost::system::is_error_code_enum<astmrf::ari::errc> : std::true_type {};
/// \endcond
