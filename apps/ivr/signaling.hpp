// The choice of signaling backend, in one place: the embedded SIP engine (default)
// or a drachtio-server (--drachtio host:port:secret).
#pragma once

#include <astmrf/sip/engine/engine.hpp>
#include <astmrf/srf/drachtio.hpp>
#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/srf.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <vector>

namespace astmrf::ivr {

struct SignalingOptions {
  std::vector<std::string> listen;  ///< HOST:PORT or [IPV6]:PORT each, for the embedded engine (UDP and TCP)
  std::string drachtio;             ///< host:port:secret; when set, the drachtio-server is used instead
  std::shared_ptr<util::metrics::Registry> metrics;  ///< the engine's (or drachtio's) and Srf's metrics
  std::shared_ptr<spdlog::logger> logger;            ///< their log lines
};

/// The application's Srf and what carries it.
class Signaling {
 public:
  Signaling(std::unique_ptr<sip::Engine> engine, std::string description, srf::SrfOptions options);
  Signaling(std::shared_ptr<srf::drachtio::Backend> drachtio, std::string description, srf::SrfOptions options);
  ~Signaling();
  Signaling(const Signaling&) = delete;
  Signaling& operator=(const Signaling&) = delete;

  [[nodiscard]] srf::Srf& srf() noexcept { return *srf_; }
  /// "embedded SIP engine on udp+tcp 127.0.0.1:5080 [::1]:5080" (never the drachtio secret).
  [[nodiscard]] const std::string& description() const noexcept { return description_; }
  /// Stops listening (the embedded engine ends its dialogs without sending; a
  /// drachtio connection is closed).
  void stop();
  /// True while calls can arrive: the engine listens, or the drachtio connection is up.
  [[nodiscard]] bool listening() const;

 private:
  std::unique_ptr<sip::Engine> engine_;               // null on drachtio
  std::shared_ptr<srf::drachtio::Backend> drachtio_;  // null on the engine
  std::unique_ptr<srf::Srf> srf_;
  std::string description_;
  bool stopped_{false};
};

/// Opens the backend the options name, and connects it when it is remote.
/// Throws std::runtime_error when it cannot (a port in use, drachtio-server
/// unreachable or refusing the secret).
boost::asio::awaitable<std::unique_ptr<Signaling>> open_signaling(boost::asio::any_io_executor executor,
                                                                  SignalingOptions options);

}  // namespace astmrf::ivr
