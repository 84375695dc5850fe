// util::HttpExporter scraped by a real Prometheus: what the registry counts is what
// Prometheus's HTTP API answers (totals, histogram count and quantile, up), and the
// Prometheus the test started leaves no data behind.
#include "astmrf_test/prometheus.hpp"

#include <astmrf/util/http_exporter.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace util = astmrf::util;
namespace metrics = util::metrics;
using namespace std::chrono_literals;

constexpr std::uint16_t kPrometheusPort = ASTMRF_TEST_PROMETHEUS_PORT;
constexpr std::uint16_t kMetricsPort = ASTMRF_TEST_METRICS_PORT;

TEST(ObservabilityPrometheus, ScrapesTheExporterAndGetsTheTotals) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });

  auto registry = std::make_shared<metrics::Registry>();
  const std::string awkward = "a\"b\\c";  // escaped in the exposition, unescaped by Prometheus
  auto events = registry->counter("astmrf_test_events_total", "Events by kind.", {"kind"}).with({awkward});
  auto setup = registry->histogram("astmrf_test_setup_seconds", "Setup latency.", metrics::latency_buckets()).with({});
  util::HttpExporterOptions options;
  options.port = kMetricsPort;
  auto exporter = util::HttpExporter::start(io.get_executor(), registry, options);

  std::optional<astmrf_test::PrometheusServer> prom;
  prom.emplace(kPrometheusPort, std::vector<std::string>{"127.0.0.1:" + std::to_string(kMetricsPort)});
  const auto directory = prom->directory();
  ASSERT_TRUE(std::filesystem::exists(prom->data_dir()));

  for (int i = 1; i <= 20; ++i) {
    events->inc();
    setup->observe(0.01 * i);  // 10 ms .. 200 ms
  }

  auto equals = [](double want) { return [want](double v) { return v == want; }; };
  EXPECT_TRUE(prom->wait_for("up{job=\"astmrf\"}", equals(1), 30s)) << prom->output();
  EXPECT_TRUE(prom->wait_for("astmrf_test_events_total{kind=\"a\\\"b\\\\c\"}", equals(20), 30s))
      << prom->query("astmrf_test_events_total");
  EXPECT_TRUE(prom->wait_for("astmrf_test_setup_seconds_count", equals(20), 30s));
  EXPECT_NEAR(prom->query("astmrf_test_setup_seconds_sum"), 2.1, 1e-9);
  // 19.8th of 20 observations: in the (0.1, 0.25] bucket, 0.247 by Prometheus's interpolation.
  const double p99 = prom->query("histogram_quantile(0.99, astmrf_test_setup_seconds_bucket)");
  EXPECT_GT(p99, 0.1);
  EXPECT_LE(p99, 0.25);
  EXPECT_NEAR(p99, 0.247, 1e-6);
  EXPECT_TRUE(std::isnan(prom->query("astmrf_test_no_such_metric")));
  EXPECT_THROW(prom->query("sum(("), std::runtime_error);

  // The exporter gone, Prometheus sees its target down.
  std::promise<void> stopped;
  asio::post(io, [&] {
    exporter.reset();
    stopped.set_value();
  });
  stopped.get_future().get();
  EXPECT_TRUE(prom->wait_for("up{job=\"astmrf\"}", equals(0), 30s));

  prom->stop();
  EXPECT_FALSE(prom->running());
  EXPECT_FALSE(std::filesystem::exists(directory / "data"));
  EXPECT_FALSE(std::filesystem::exists(directory));
  prom.reset();

  work.reset();
  loop.join();
}

}  // namespace
