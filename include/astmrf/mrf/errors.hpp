// Errors of the media resource framework.
#pragma once

#include <astmrf/srf/errors.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace astmrf::mrf {

/// Base of the errors of astmrf::mrf (an srf::Error, so one catch covers both).
class Error : public srf::Error {
 public:
  using srf::Error::Error;
};

/// The endpoint was not up within the setup timeout (StasisStart and 200 OK).
class MediaSetupTimeout : public Error {
 public:
  /// `what`: the reason, for logs.
  explicit MediaSetupTimeout(const std::string& what) : Error(what) {}
};

/// Too many endpoint setups are pending on this media server (or it is gone):
/// new calls are refused fast instead of piling up.
class MediaServerOverloaded : public Error {
 public:
  /// `what`: the reason, for logs.
  explicit MediaServerOverloaded(const std::string& what) : Error(what) {}
};

/// The media server was disconnected or its ARI connection is not up.
class MediaServerUnavailable : public Error {
 public:
  /// `what`: the reason, for logs.
  explicit MediaServerUnavailable(const std::string& what) : Error(what) {}
};

/// A conference at its ConferenceOptions::max_members refused a join.
class ConferenceFull : public Error {
 public:
  /// `what`: the reason, for logs.
  explicit ConferenceFull(const std::string& what) : Error(what) {}
};

/// Why an endpoint ended; reported once.
enum class EndpointEnd : std::uint8_t {
  destroyed,          ///< the application called destroy()
  asterisk_hangup,    ///< Asterisk sent BYE (e.g. an ARI hangup)
  left_stasis,        ///< StasisEnd (the channel left the application)
  media_server_lost,  ///< the channel vanished while ARI was disconnected, or the server went away
};
/// The reason's name, e.g. "asterisk_hangup".
std::string_view to_string(EndpointEnd end) noexcept;

/// A verb on an Endpoint whose call has ended (before the verb, or while it waited for
/// something only the call could give). Asterisk's 404 for a channel that went away is
/// reported as this error, never as a generic ari::NotFound.
class CallEnded : public Error {
 public:
  /// `reason`: why the endpoint ended, when it is known.
  explicit CallEnded(std::optional<EndpointEnd> reason = std::nullopt)
      : Error(reason ? "the call has ended (" + std::string(to_string(*reason)) + ")" : "the call has ended"),
        reason_(reason) {}
  /// Why the endpoint ended, when it is known.
  [[nodiscard]] std::optional<EndpointEnd> reason() const noexcept { return reason_; }

 private:
  std::optional<EndpointEnd> reason_;
};

}  // namespace astmrf::mrf
