// REST throughput of the connection pool against a real Asterisk: N concurrent GETs of one path
// issued at once, for several pool sizes (1 = one keep-alive connection).
// Not a test: run by hand against the sandbox, see docs/BENCHMARKS.md.
//   ari_pool_bench http://127.0.0.1:28088 astmrf <password-env-var> [calls] [path]
#include <astmrf/ari/ari.hpp>

#include <boost/asio/io_context.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace ari = astmrf::ari;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s URL USER PASSWORD_ENV_VAR [CALLS]\n", argv[0]);
    return 2;
  }
  const char* password = std::getenv(argv[3]);
  const int calls = argc > 4 ? std::atoi(argv[4]) : 1000;
  const std::string path = argc > 5 ? argv[5] : "/asterisk/info";
  std::printf("%d concurrent GET %s per run\n", calls, path.c_str());
  std::printf("%10s %12s %12s %12s\n", "pool", "wall ms", "calls/s", "connections");
  for (std::size_t pool : {1, 2, 4, 8, 16, 32}) {
    boost::asio::io_context ioc;
    ari::ClientOptions o;
    o.url = argv[1];
    o.user = argv[2];
    o.password = password != nullptr ? password : "";
    o.pool_size = pool;
    o.request_timeout = std::chrono::seconds(120);
    o.logger = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
    ari::Client client(ioc.get_executor(), o);
    // Warm-up: open the connections.
    int warm = 0;
    for (std::size_t i = 0; i < pool; ++i) {
      client.asterisk().async_ping([&](std::exception_ptr, ari::AsteriskPing) { ++warm; });
    }
    ioc.run();
    ioc.restart();
    int ok = 0;
    int failed = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) {
      client.async_request(ari::RequestBuilder(boost::beast::http::verb::get).literal(path).finish(),
                           [&](std::exception_ptr e, ari::Response) { (e ? failed : ok)++; });
    }
    ioc.run();
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("%10zu %12.1f %12.0f %12zu%s\n", pool, ms, ok / (ms / 1000.0), pool, failed != 0 ? " (failures!)" : "");
    if (failed != 0) std::printf("   %d calls failed\n", failed);
  }
  // Head-of-line blocking: fast pings issued together with slow GET /sounds (Asterisk scans the
  // sound directories): with one connection every ping waits behind the slow calls queued before it.
  std::printf("\nlatency of 200 GET /asterisk/ping issued together with 50 GET /sounds\n");
  std::printf("%10s %14s %14s %14s\n", "pool", "ping p50 ms", "ping max ms", "all done ms");
  for (std::size_t pool : {1, 4, 8, 16}) {
    boost::asio::io_context ioc;
    ari::ClientOptions o;
    o.url = argv[1];
    o.user = argv[2];
    o.password = password != nullptr ? password : "";
    o.pool_size = pool;
    o.request_timeout = std::chrono::seconds(120);
    o.logger = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
    ari::Client client(ioc.get_executor(), o);
    std::vector<double> lat;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 250; ++i) {
      if (i % 5 == 0) {
        client.async_request(ari::RequestBuilder(boost::beast::http::verb::get).literal("/sounds").finish(),
                             [](std::exception_ptr, ari::Response) {});
      } else {
        client.asterisk().async_ping([&, t0 = std::chrono::steady_clock::now()](std::exception_ptr, ari::AsteriskPing) {
          lat.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        });
      }
    }
    ioc.run();
    const auto all = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::sort(lat.begin(), lat.end());
    std::printf("%10zu %14.1f %14.1f %14.1f\n", pool, lat[lat.size() / 2], lat.back(), all);
  }
  return 0;
}
