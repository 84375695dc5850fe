// astmrf-mrf-loadtarget: the embedded SIP engine + Srf + Mrf on ONE thread, as a
// load target for sipp with a real Asterisk behind it (scripts/bench-mrf).
//
// Every INVITE is connected to Asterisk with MediaServer::async_connect_caller
// (INVITE to Asterisk → StasisStart → answer → 200 → the caller gets Asterisk's
// SDP); the call is then held until the caller's BYE (which destroys the
// endpoint). Nothing else is done with the media.
//
// --metrics IP:PORT turns the library's metrics on (engine, Srf, Mrf, ARI client, all in one
// registry) and serves them at /metrics: scripts/bench-mrf BENCH_METRICS=compare measures what
// they cost, scraped every second, against the same target without them.
//
// Stats go to stderr as one "key=value" line every --stats-interval seconds, on
// SIGUSR1, on SIGUSR2 (after malloc_trim), and on SIGINT/SIGTERM (which stop the
// program after disconnecting the media server).
#include "astmrf_bench/mrf_target.hpp"
#include "astmrf_bench/stats_reporter.hpp"

#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/util/http_exporter.hpp>
#include <astmrf/util/metrics.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <unordered_map>

#include <malloc.h>

namespace asio = boost::asio;
namespace sip = astmrf::sip;
namespace srf = astmrf::srf;
namespace mrf = astmrf::mrf;
using Clock = std::chrono::steady_clock;

namespace {

struct Counters {
  std::uint64_t invites{0};
  std::uint64_t connected{0};
  std::uint64_t failed_overloaded{0};   // MediaServerOverloaded (503 to the caller)
  std::uint64_t failed_timeout{0};      // MediaSetupTimeout (503)
  std::uint64_t failed_unavailable{0};  // MediaServerUnavailable (503)
  std::uint64_t failed_sip{0};          // Asterisk rejected the INVITE (or a local 408/503)
  std::uint64_t failed_cancelled{0};    // the caller CANCELled
  std::uint64_t failed_ack_timeout{0};  // the caller never ACKed our 200
  std::uint64_t failed_other{0};
  std::uint64_t ended_destroyed{0};  // the caller's BYE (the normal end)
  std::uint64_t ended_asterisk{0};   // Asterisk's BYE
  std::uint64_t ended_left_stasis{0};
  std::uint64_t ended_lost{0};
};

class LoadTarget {
 public:
  struct Options : astmrf_bench::AsteriskTarget {
    unsigned t1_ms{500};
    unsigned setup_timeout_ms{4000};
    std::size_t max_pending_setups{1024};  // the Mrf's default
    std::size_t max_server_transactions{1'000'000};
    double stats_interval{1.0};
    std::string metrics;  // IP:PORT of /metrics; empty: no metrics at all
  };

  LoadTarget(asio::io_context& io, Options options)
      : io_(io),
        options_(std::move(options)),
        metrics_(options_.metrics.empty() ? nullptr : std::make_shared<astmrf::util::metrics::Registry>()),
        engine_(io.get_executor(), engine_config()),
        app_(srf::make_engine_backend(engine_), srf::SrfOptions{.metrics = metrics_}),
        media_(app_, mrf::MrfOptions{.metrics = metrics_}),
        signals_(io, SIGINT, SIGTERM),
        reporter_(io, options_.stats_interval, [this](const char* why) { print(why); }) {}

  void start() {
    engine_.start();
    if (metrics_) {
      const auto colon = options_.metrics.rfind(':');
      exporter_ = astmrf::util::HttpExporter::start(
          io_.get_executor(), metrics_,
          {.address = options_.metrics.substr(0, colon),
           .port = static_cast<std::uint16_t>(std::stoul(options_.metrics.substr(colon + 1)))});
    }
    started_ = Clock::now();
    auto connect = astmrf_bench::connect_options(options_);
    connect.setup_timeout = std::chrono::milliseconds(options_.setup_timeout_ms);
    connect.max_pending_setups = options_.max_pending_setups;
    media_.async_connect(connect, [this](std::exception_ptr error, std::shared_ptr<mrf::MediaServer> server) {
      if (error) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "loadtarget: cannot connect to Asterisk: %s\n", e.what());
        }
        exit_code_ = 1;
        engine_.stop();
        io_.stop();
        return;
      }
      server_ = std::move(server);
      app_.invite([this](srf::Request req, srf::Response res) { incoming(std::move(req), std::move(res)); });
      std::fprintf(stderr, "loadtarget listening on %s, Stasis app %s\n",
                   engine_.local_address(sip::Transport::udp).to_string().c_str(), server_->app().c_str());
      std::fflush(stderr);
    });
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      print("final");
      calls_.clear();
      if (server_) server_->disconnect();
      if (exporter_) exporter_->stop();
      engine_.stop();
      io_.stop();
    });
    reporter_.start();
  }

  [[nodiscard]] int exit_code() const noexcept { return exit_code_; }

 private:
  sip::EngineConfig engine_config() const {
    auto config = astmrf_bench::udp_engine_config(options_.listen, "astmrf-mrf-loadtarget");
    config.timers.t1 = std::chrono::milliseconds(options_.t1_ms);
    config.max_server_transactions = options_.max_server_transactions;
    config.metrics = metrics_;
    return config;
  }

  void incoming(srf::Request req, srf::Response res) {
    ++counters_.invites;
    server_->async_connect_caller(std::move(req), std::move(res), {},
                                  [this](std::exception_ptr error, mrf::ConnectedCaller call) {
                                    if (error) {
                                      count_failure(error);
                                      return;
                                    }
                                    ++counters_.connected;
                                    // Hold both legs until the caller's BYE: dropping the last reference to a
                                    // dialog would hang it up.
                                    auto* key = call.endpoint.get();
                                    call.endpoint->on_destroy([this, key](mrf::EndpointEnd end) {
                                      switch (end) {
                                        case mrf::EndpointEnd::destroyed: ++counters_.ended_destroyed; break;
                                        case mrf::EndpointEnd::asterisk_hangup: ++counters_.ended_asterisk; break;
                                        case mrf::EndpointEnd::left_stasis: ++counters_.ended_left_stasis; break;
                                        case mrf::EndpointEnd::media_server_lost: ++counters_.ended_lost; break;
                                      }
                                      // Not from inside the endpoint's own callback: release it afterwards.
                                      asio::post(io_, [this, key] { calls_.erase(key); });
                                    });
                                    if (!call.endpoint->destroyed()) calls_.emplace(key, std::move(call));
                                  });
  }

  void count_failure(std::exception_ptr error) {
    try {
      std::rethrow_exception(error);
    } catch (const mrf::MediaServerOverloaded&) {
      ++counters_.failed_overloaded;
    } catch (const mrf::MediaSetupTimeout&) {
      ++counters_.failed_timeout;
    } catch (const mrf::MediaServerUnavailable&) {
      ++counters_.failed_unavailable;
    } catch (const srf::SipFailure&) {
      ++counters_.failed_sip;
    } catch (const srf::RequestCancelled&) {
      ++counters_.failed_cancelled;
    } catch (const srf::AckTimeout&) {
      ++counters_.failed_ack_timeout;
    } catch (...) {
      ++counters_.failed_other;
    }
  }

  void print(const char* why) {
    auto s = engine_.stats();
    const bool heap_wanted = std::string_view(why) != "periodic";
    const long heap_kb = heap_wanted ? static_cast<long>(mallinfo2().uordblks / 1024) : -1;
    const double t = std::chrono::duration<double>(Clock::now() - started_).count();
    const auto& c = counters_;
    std::fprintf(stderr,
                 "stats %s t=%.1f invites=%" PRIu64 " connected=%" PRIu64 " failed_overloaded=%" PRIu64
                 " failed_timeout=%" PRIu64 " failed_unavailable=%" PRIu64 " failed_sip=%" PRIu64
                 " failed_cancelled=%" PRIu64 " failed_ack_timeout=%" PRIu64 " failed_other=%" PRIu64
                 " ended_destroyed=%" PRIu64 " ended_asterisk=%" PRIu64 " ended_left_stasis=%" PRIu64
                 " ended_lost=%" PRIu64
                 " held=%zu pending_setups=%zu endpoints=%zu dialogs=%zu server_tx=%zu"
                 " client_tx=%zu rejected_overload=%" PRIu64 " retx_sent=%" PRIu64
                 " ari_connected=%d"
                 " rss_kb=%ld hwm_kb=%ld heap_in_use_kb=%ld\n",
                 why, t, c.invites, c.connected, c.failed_overloaded, c.failed_timeout, c.failed_unavailable,
                 c.failed_sip, c.failed_cancelled, c.failed_ack_timeout, c.failed_other, c.ended_destroyed,
                 c.ended_asterisk, c.ended_left_stasis, c.ended_lost, calls_.size(),
                 server_ ? server_->pending_setups() : 0, server_ ? server_->endpoints().size() : 0, s.dialogs,
                 s.server_transactions, s.client_transactions, s.rejected_overload, s.retransmissions_sent,
                 server_ && server_->ari().state() == astmrf::ari::ConnectionState::connected ? 1 : 0,
                 astmrf_bench::proc_status_kb("VmRSS"), astmrf_bench::proc_status_kb("VmHWM"), heap_kb);
    std::fflush(stderr);
  }

  asio::io_context& io_;
  Options options_;
  std::shared_ptr<astmrf::util::metrics::Registry> metrics_;  // null without --metrics
  std::shared_ptr<astmrf::util::HttpExporter> exporter_;
  sip::Engine engine_;
  srf::Srf app_;
  mrf::Mrf media_;
  std::shared_ptr<mrf::MediaServer> server_;
  std::unordered_map<const mrf::Endpoint*, mrf::ConnectedCaller> calls_;
  asio::signal_set signals_;
  astmrf_bench::StatsReporter reporter_;
  Counters counters_;
  Clock::time_point started_;
  int exit_code_{0};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Load target for astmrf's Mrf: engine + Srf + Mrf on one thread, every caller connected to Asterisk"};
  LoadTarget::Options o;
  astmrf_bench::add_target_options(cli, o);
  cli.add_option("--t1", o.t1_ms, "RFC 3261 T1 in ms")->capture_default_str();
  cli.add_option("--setup-timeout", o.setup_timeout_ms, "ConnectOptions::setup_timeout in ms")->capture_default_str();
  cli.add_option("--max-pending-setups", o.max_pending_setups, "ConnectOptions::max_pending_setups (past it: 503)")
      ->capture_default_str();
  cli.add_option("--max-server-transactions", o.max_server_transactions, "EngineConfig::max_server_transactions")
      ->capture_default_str();
  cli.add_option("--metrics", o.metrics, "IP:PORT: metrics on, served at /metrics (default: off)");
  cli.add_option("--stats-interval", o.stats_interval, "seconds between stats lines on stderr (0: off)")
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  return astmrf_bench::run_on_one_thread<LoadTarget>("astmrf-mrf-loadtarget", o);
}
