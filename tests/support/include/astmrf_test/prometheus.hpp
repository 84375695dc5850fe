// A real Prometheus (Debian 12's /usr/bin/prometheus, 2.42) for tests: started on
// 127.0.0.1 with a temporary configuration and data directory, scraping the targets the
// test gives every second, queried through its HTTP API, stopped and wiped at the end.
//
// It reaches nothing outside the machine: the configuration has no alerting, no rule
// files, no remote write and no self-scrape (the Debian package's default prometheus.yml,
// which names an Alertmanager and node exporter, is not read), the web server listens on
// loopback only, and the targets are IP literals (no DNS). Running as root is fine.
//
// Usage:
//   astmrf_test::PrometheusServer prom(26590, {"127.0.0.1:26591"});
//   ASSERT_TRUE(prom.wait_for("up{job=\"astmrf\"}", [](double v) { return v == 1; }, 30s));
//   EXPECT_EQ(prom.query("astmrf_calls_total"), 20);
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace astmrf_test {

class Process;

class PrometheusServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/prometheus";
  static constexpr const char* kJob = "astmrf";

  // Writes the configuration (scrape and evaluation interval 1 s, one job "astmrf" with
  // `targets` as static targets, e.g. "127.0.0.1:26591"), starts Prometheus listening on
  // 127.0.0.1:<port> and waits until /-/ready answers 200. Throws std::runtime_error (with
  // Prometheus's output) when it exits or is not ready within `ready_timeout`.
  PrometheusServer(std::uint16_t port, std::vector<std::string> targets,
                   std::chrono::milliseconds ready_timeout = std::chrono::seconds(60));
  // stop().
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // An instant query (GET /api/v1/query): the value of the first sample of a vector result
  // (or of a scalar result), NaN when the vector is empty. Throws std::runtime_error when
  // Prometheus cannot be reached or refuses the query (its error text in what()).
  double query(const std::string& promql) const;
  // Runs query(promql) every 250 ms until predicate(value) holds (true) or `timeout` has
  // passed (false). A NaN (empty result) is given to the predicate like any value.
  bool wait_for(const std::string& promql, const std::function<bool(double)>& predicate,
                std::chrono::milliseconds timeout) const;

  // Stops Prometheus (SIGTERM, then SIGKILL after 5 s) and removes its data directory and
  // configuration. Idempotent.
  void stop();
  bool running() const;

  std::uint16_t port() const { return port_; }
  // The temporary directory that holds the configuration (prometheus.yml) and the data
  // directory (data/); gone after stop().
  const std::filesystem::path& directory() const { return dir_; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path config_file() const { return dir_ / "prometheus.yml"; }
  // What Prometheus has logged so far (for failure messages).
  std::string output() const;

 private:
  std::uint16_t port_;
  std::filesystem::path dir_;
  std::unique_ptr<Process> process_;
  std::string last_output_;  // kept by stop(): the log file goes with the process
};

}  // namespace astmrf_test
