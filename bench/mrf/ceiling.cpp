// astmrf-ari-ceiling: the ceiling of scripts/bench-mrf. sipp calls Asterisk
// directly (User-Agent: drachtio, sip:<app>@asterisk); this program is the
// minimal ARI application: one ari::Client on one thread that answers every
// StasisStart and does nothing else. Whatever rate Asterisk sustains this way is
// the most any Mrf application can get out of it.
//
// Stats go to stderr ("key=value") every --stats-interval seconds, on SIGUSR1,
// and on SIGINT/SIGTERM (which stop the program).
#include "astmrf_bench/stats_reporter.hpp"

#include <astmrf/ari/client.hpp>
#include <astmrf/ari/generated/models.hpp>
#include <astmrf/ari/generated/operations.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

namespace asio = boost::asio;
namespace ari = astmrf::ari;

int main(int argc, char** argv) {
  CLI::App cli{"Ceiling for scripts/bench-mrf: an ari::Client that answers every StasisStart"};
  std::string url = "http://127.0.0.1:8088";
  std::string user = "astmrf";
  std::string password;
  std::string app_name = "drachtio-ceiling";
  double stats_interval = 1.0;
  cli.add_option("--url", url, "Asterisk's HTTP base URL")->capture_default_str();
  cli.add_option("--ari-user", user, "ARI user")->capture_default_str();
  cli.add_option("--ari-password", password, "ARI password (or env ASTMRF_ARI_PASSWORD)");
  cli.add_option("--app", app_name, "Stasis application (sipp calls sip:<app>@asterisk)")->capture_default_str();
  cli.add_option("--stats-interval", stats_interval, "seconds between stats lines (0: off)")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  if (password.empty()) {
    if (const char* env = std::getenv("ASTMRF_ARI_PASSWORD")) password = env;
  }
  spdlog::set_level(spdlog::level::warn);

  asio::io_context io{1};
  ari::ClientOptions options;
  options.url = url;
  options.user = user;
  options.password = password;
  options.apps = {app_name};
  // The Mrf's default filter, so that Asterisk does the same work per call on both paths.
  options.event_filter.disallowed = {"ChannelVarset"};
  ari::Client client(io.get_executor(), options);
  std::uint64_t started = 0, answered = 0, answer_failed = 0, ended = 0;
  auto on_start = client.on_event(ari::EventType::stasis_start, [&](const ari::Event& event) {
    ++started;
    // The channel's id from the scan every event gets: nothing else is decoded.
    ari::channels::Answer answer{std::string(event.id(ari::ResourceKind::channel))};
    client.channels().async_answer(std::move(answer),
                                   [&](std::exception_ptr error) { ++(error ? answer_failed : answered); });
  });
  auto on_end = client.on_event(ari::EventType::stasis_end, [&](const ari::Event&) { ++ended; });
  auto print = [&](const char* why) {
    std::fprintf(stderr,
                 "stats %s stasis_start=%" PRIu64 " answered=%" PRIu64 " answer_failed=%" PRIu64 " stasis_end=%" PRIu64
                 " ari_connected=%d rss_kb=%ld hwm_kb=%ld\n",
                 why, started, answered, answer_failed, ended,
                 client.state() == ari::ConnectionState::connected ? 1 : 0, astmrf_bench::proc_status_kb("VmRSS"),
                 astmrf_bench::proc_status_kb("VmHWM"));
    std::fflush(stderr);
  };
  int rc = 0;
  client.async_connect([&](std::exception_ptr error) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "ceiling: cannot connect: %s\n", e.what());
      }
      rc = 1;
      io.stop();
      return;
    }
    std::fprintf(stderr, "ceiling connected, Stasis app %s\n", app_name.c_str());
    std::fflush(stderr);
  });
  asio::signal_set stop(io, SIGINT, SIGTERM);
  stop.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    print("final");
    client.close();
    io.stop();
  });
  astmrf_bench::StatsReporter reporter(io, stats_interval, print);
  reporter.start();
  io.run();
  return rc;
}
