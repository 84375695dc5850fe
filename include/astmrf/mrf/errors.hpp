// Errors of the media resource framework.
#pragma once

#include <astmrf/srf/errors.hpp>

#include <string>

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

}  // namespace astmrf::mrf
