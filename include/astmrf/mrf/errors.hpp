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

/// An agent call (mrf::async_call_agent) that did not connect: the agent was busy, did not
/// answer in time, rejected the call, or the caller hung up while it rang.
class AgentCallFailed : public Error {
 public:
  /// Why the agent call failed.
  enum class Reason : std::uint8_t {
    busy,         ///< 486 Busy Here or 600 Busy Everywhere
    no_answer,    ///< no answer within UacOptions::timeout (the INVITE was CANCELled), or 408
    rejected,     ///< any other final non-2xx (or a local failure: the agent is unreachable)
    caller_gone,  ///< the caller's endpoint ended while the agent rang (the INVITE was CANCELled)
  };
  /// `status`: the SIP status that describes it (486, 408, the rejection's status, 487).
  AgentCallFailed(Reason reason, int status, const std::string& what)
      : Error("agent call failed (" + std::string(to_string(reason)) + ", " + std::to_string(status) + "): " + what),
        reason_(reason),
        status_(status) {}
  /// Why it failed.
  [[nodiscard]] Reason reason() const noexcept { return reason_; }
  /// The SIP status that describes the failure (what a transfer's final NOTIFY reports).
  [[nodiscard]] int status() const noexcept { return status_; }
  /// The reason's name, e.g. "busy".
  static std::string_view to_string(Reason reason) noexcept {
    switch (reason) {
      case Reason::busy: return "busy";
      case Reason::no_answer: return "no_answer";
      case Reason::rejected: return "rejected";
      case Reason::caller_gone: return "caller_gone";
    }
    return "unknown";
  }

 private:
  Reason reason_;
  int status_;
};

}  // namespace astmrf::mrf
