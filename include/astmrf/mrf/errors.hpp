// Errors of the media resource framework.
#pragma once

#include <astmrf/srf/errors.hpp>

#include <string>

namespace astmrf::mrf {

class Error : public srf::Error {
 public:
  using srf::Error::Error;
};

/// The endpoint was not up within the setup timeout (StasisStart and 200 OK).
class MediaSetupTimeout : public Error {
 public:
  explicit MediaSetupTimeout(const std::string& what) : Error(what) {}
};

/// Too many endpoint setups are pending on this media server (or it is gone):
/// new calls are refused fast instead of piling up.
class MediaServerOverloaded : public Error {
 public:
  explicit MediaServerOverloaded(const std::string& what) : Error(what) {}
};

/// The media server was disconnected or its ARI connection is not up.
class MediaServerUnavailable : public Error {
 public:
  explicit MediaServerUnavailable(const std::string& what) : Error(what) {}
};

}  // namespace astmrf::mrf
