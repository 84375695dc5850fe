// A small HTTP/1.1 listener for operators: Prometheus's scrape endpoint and the health
// probes of orchestrators.
//
//   GET /metrics  200, the registry in the text exposition format 0.0.4
//   GET /healthz  200 "ok" while the exporter runs (liveness: the event loop answers)
//   GET /readyz   200 "ready" when every readiness check returns true, else 503 with the
//                 name of each failing check, one per line (no check at all: ready)
//
// HEAD is answered for the same paths; any other method gets 405 (with Allow), any other
// path 404. Requests carry no body (refused with 413) and at most 8 KiB of header (431).
// Connections are kept alive, closed after `idle_timeout` without a complete request, and
// at most `max_connections` are served at once: the ones beyond are closed at once.
//
// Threading: the exporter runs on the executor given to start() and starts no thread.
// That executor must run handlers one at a time (an io_context run by one thread, or a
// strand). Readiness checks run on it: give the exporter the executor of the objects the
// checks read. start(), add_readiness_check(), local_endpoint() and stop() may be called
// from any thread; stop() called from the executor's own thread has closed the listening
// socket when it returns, called from another thread it is posted to the executor.
// Destroy the exporter before its execution context (the usual Asio rule); its coroutines
// hold its state, so one that runs after the exporter is gone touches nothing freed.
// Every socket is opened close-on-exec (Asio does not set FD_CLOEXEC itself).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace astmrf::util {

namespace metrics {
class Registry;
}

/// Where and how the exporter listens.
struct HttpExporterOptions {
  /// IP literal to bind (IPv4 or IPv6, `[::1]` accepted); a host name is refused. Loopback by default.
  std::string address{"127.0.0.1"};
  /// TCP port; 0 lets the OS choose (see HttpExporter::local_endpoint()).
  std::uint16_t port{9464};
  /// Connections served at once; those beyond are closed as soon as they are accepted.
  std::size_t max_connections{16};
  /// A connection that has not sent a complete request for this long is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(10)};
};

/// Serves /metrics, /healthz and /readyz over HTTP/1.1 (see the top of this header).
class HttpExporter {
 public:
  /// Binds `options.address:options.port` and starts accepting on `executor`. Throws
  /// std::invalid_argument when the address is not an IP literal (or max_connections is 0),
  /// boost::system::system_error (what() names the address) when it cannot be bound.
  static std::shared_ptr<HttpExporter> start(boost::asio::any_io_executor executor,
                                             std::shared_ptr<metrics::Registry> registry,
                                             HttpExporterOptions options = {});
  /// Stops (see stop()).
  ~HttpExporter();
  HttpExporter(const HttpExporter&) = delete;
  HttpExporter& operator=(const HttpExporter&) = delete;

  /// The bound address and port (the OS's choice when the options asked for port 0).
  [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;

  /// Adds a check that /readyz runs, on the exporter's executor, at each request; false (or an
  /// exception) makes /readyz answer 503 and name it. A check must be quick and must not block.
  void add_readiness_check(std::string name, std::function<bool()> check);

  /// Closes the listening socket and every connection. Idempotent.
  void stop();

  struct State;  ///< shared with the exporter's coroutines (private to the implementation)

 private:
  explicit HttpExporter(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace astmrf::util
