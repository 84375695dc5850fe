// A minimal, synchronous ARI client for tests that run below astmrf::ari (the
// sandbox's own tests). One HTTP request per connection; one events WebSocket.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace astmrf_test {

struct HttpResult {
  unsigned status = 0;
  std::string body;
  boost::json::value json() const;  // the body parsed (null when empty)
};

class AriProbe {
 public:
  AriProbe(std::string host, std::uint16_t port, std::string user, std::string password);
  // The ctest sandbox, with its credentials.
  static AriProbe for_sandbox();

  // method: "GET", "POST", "DELETE", ...; target: "/ari/...".
  HttpResult request(std::string_view method, std::string_view target) const;

  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }
  std::string basic_auth() const;  // the Authorization header value

 private:
  std::string host_;
  std::uint16_t port_;
  std::string user_;
  std::string password_;
};

// The events WebSocket of one Stasis application (Basic auth in the upgrade).
class EventStream {
 public:
  EventStream(const AriProbe& ari, std::string_view app);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // The next event, or nothing when none arrives in time.
  std::optional<boost::json::object> next(std::chrono::milliseconds timeout);
  // The first event of `type` for which `match` holds; earlier events are skipped.
  std::optional<boost::json::object> wait_for(std::string_view type, std::chrono::milliseconds timeout,
                                              const std::function<bool(const boost::json::object&)>& match = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace astmrf_test
