// astmrf-ivr: the demo IVR. Listens for calls (embedded SIP engine, or a
// drachtio-server with --drachtio), connects each caller to an Asterisk with
// Mrf's connect_caller, plays a prompt, collects DTMF digits, reads them back and
// hangs up. Calls are spread over the --asterisk media servers by an mrf::MediaServerPool
// (round robin by default, --pool-policy), which retries a failed setup on another server.
//
//   ASTMRF_ARI_PASSWORD=secret astmrf-ivr --listen 127.0.0.1:5080
//       --ari-url http://127.0.0.1:8088 --ari-user asterisk --media-sip 127.0.0.1:5060
//
// Logs are key=value lines (spdlog, UTC times) with call_id and channel_id, or JSON lines
// (--log-format json). --metrics IP:PORT serves Prometheus /metrics, /healthz and /readyz.
#include "ivr_call.hpp"
#include "options.hpp"
#include "signaling.hpp"

#include <astmrf/util/http_exporter.hpp>
#include <astmrf/util/log.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>

namespace asio = boost::asio;
namespace ivr = astmrf::ivr;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
using namespace std::chrono_literals;

namespace {

// The IVR's own lines (logger=ivr) and the library's (logger=astmrf), on one stdout sink.
struct Loggers {
  std::shared_ptr<spdlog::logger> app;
  std::shared_ptr<spdlog::logger> library;
};

Loggers make_loggers(const std::string& level, const std::string& format) {
  // stdout, unbuffered lines: the demo and the tests read the log as it is written.
  auto sink = std::make_shared<spdlog::sinks::stdout_sink_st>();
  Loggers loggers{std::make_shared<spdlog::logger>("ivr", sink), std::make_shared<spdlog::logger>("astmrf", sink)};
  for (const auto& log : {loggers.app, loggers.library}) {
    astmrf::util::set_log_format(*log, astmrf::util::parse_log_format(format));
    log->set_level(spdlog::level::from_str(level));
    log->flush_on(spdlog::level::trace);
  }
  spdlog::set_default_logger(loggers.library);  // anything not given a logger goes the same way
  return loggers;
}

class IvrApp {
 public:
  IvrApp(asio::io_context& ioc, ivr::IvrOptions options, Loggers loggers)
      : ioc_(ioc),
        options_(std::move(options)),
        log_(std::move(loggers.app)),
        library_log_(std::move(loggers.library)),
        signals_(ioc, SIGINT, SIGTERM),
        startup_timer_(ioc),
        stats_timer_(ioc),
        drain_timer_(ioc) {}

  asio::awaitable<void> start() {
    wait_for_signal();
    const auto servers = ivr::media_servers(options_);  // bad addresses fail before any I/O
    std::optional<ivr::HostPort> metrics_address;
    if (!options_.metrics.empty()) metrics_address = ivr::parse_host_port(options_.metrics);
    if (metrics_address) metrics_ = std::make_shared<astmrf::util::metrics::Registry>();
    ivr::SignalingOptions signaling_options{options_.listen, options_.drachtio, metrics_, library_log_};
    asio::any_io_executor executor = ioc_.get_executor();  // named: g++ 12 and co_await temporaries
    signaling_ = co_await ivr::open_signaling(executor, signaling_options);
    log_->info("event=listening signaling={}", astmrf::util::quote(signaling_->description()));
    media_ =
        std::make_unique<mrf::Mrf>(signaling_->srf(), mrf::MrfOptions{.metrics = metrics_, .logger = library_log_});
    if (metrics_address) start_exporter(*metrics_address);
    mrf::PoolOptions pool_options;
    pool_options.policy = policy(options_.pool_policy);
    pool_ = std::make_unique<mrf::MediaServerPool>(*media_, pool_options);

    // Each server joins the pool at once and connects in the background: one that is not up
    // yet takes calls as soon as it is.
    for (const auto& address : servers) {
      mrf::ConnectOptions connect;
      connect.ari = {.address = address.ari.host,
                     .port = address.ari.port,
                     .username = options_.ari_user,
                     .password = options_.ari_password,
                     .tls = address.ari_tls};
      connect.sip = {.address = address.sip.host, .port = address.sip.port, .transport = astmrf::sip::Transport::udp};
      connect.instance_id = options_.instance_id;
      auto member = std::make_unique<Member>();
      member->where =
          fmt::format("ari={}:{} sip={}:{}", address.ari.host, address.ari.port, address.sip.host, address.sip.port);
      member->ari = fmt::format("{}:{}", address.ari.host, address.ari.port);
      member->server = pool_->add(connect, mrf::PoolMemberOptions{.weight = address.weight});
      watch_stasis(*member->server);
      member->state =
          member->server->on_state([this, m = member.get()](mrf::ServerState state) { on_server_state(*m, state); });
      members_.push_back(std::move(member));
    }

    // Give the servers a moment to come up, so that the first calls find them; those that do not
    // are logged and join later.
    startup_timer_.expires_after(startup_wait);
    if (!all_up()) {
      boost::system::error_code ec;
      co_await startup_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (stopping_) co_return;
    for (const auto& member : members_) {
      if (member->server->state() == mrf::ServerState::up) continue;
      log_->warn("event=media_server_not_reachable {} app={} state={} retrying=yes", member->where,
                 member->server->app(), mrf::to_string(member->server->state()));
    }

    signaling_->srf().invite(
        [this](srf::Request req, srf::Response res) { on_invite(std::move(req), std::move(res)); });
    const auto up = std::count_if(members_.begin(), members_.end(),
                                  [](const auto& m) { return m->server->state() == mrf::ServerState::up; });
    log_->info("event=ready media_servers={} up={} policy={}", members_.size(), up,
               mrf::to_string(pool_options.policy));
    if (options_.stats_interval_s != 0) schedule_stats();
  }

  // /metrics, /healthz and /readyz: ready while SIP listens and a media server is up.
  void start_exporter(const ivr::HostPort& address) {
    try {
      exporter_ = astmrf::util::HttpExporter::start(ioc_.get_executor(), metrics_,
                                                    {.address = address.host, .port = address.port});
    } catch (const std::exception& e) {
      throw std::runtime_error("--metrics " + options_.metrics + ": " + e.what());
    }
    exporter_->add_readiness_check("sip_listening",
                                   [this] { return !stopping_ && signaling_ && signaling_->listening(); });
    exporter_->add_readiness_check("not_draining", [this] { return !draining_; });
    exporter_->add_readiness_check("media_server_up", [this] {
      return std::any_of(members_.begin(), members_.end(),
                         [](const auto& m) { return m->server->state() == mrf::ServerState::up; });
    });
    log_->info("event=metrics_listening address={}", exporter_->local_endpoint().address().to_string() + ":" +
                                                         std::to_string(exporter_->local_endpoint().port()));
  }

  void stop(std::string_view why) {
    if (stopping_) return;
    stopping_ = true;
    log_->info("event=stopping why={} calls_in_progress={}", why, started_ - finished_);
    startup_timer_.cancel();
    stats_timer_.cancel();
    drain_timer_.cancel();
    // Calls in progress end now (each endpoint's end BYEs its caller); with none, the
    // last call's StasisEnd still gets logged before the ARI connection closes.
    if (started_ != finished_) disconnect_all();
    signals_.cancel();
    // Let the BYEs and the last events through, then stop listening.
    auto timer = std::make_shared<asio::steady_timer>(ioc_, 300ms);
    timer->async_wait([this, timer](boost::system::error_code) {
      disconnect_all();  // removes the Stasis applications
      stasis_events_.clear();
      members_.clear();
      pool_.reset();
      if (signaling_) signaling_->stop();
      if (exporter_) exporter_->stop();
      media_.reset();
      ioc_.stop();
    });
  }

 private:
  // SIGINT stops at once; SIGTERM drains first (--drain-timeout), and a second signal while
  // draining stops at once.
  void wait_for_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int signal) {
      if (ec) return;
      if (signal == SIGTERM && !draining_ && options_.drain_timeout_s != 0 && signaling_) {
        drain();
        wait_for_signal();
        return;
      }
      stop("signal");
    });
  }

  // OPTIONS (a load balancer's probe) get 503 from now on; new INVITEs are still served (one
  // may come before the balancer notices) unless --drain-refuses-calls. Stops once the last call ended, or at the
  // deadline.
  void drain() {
    draining_ = true;
    auto& srf = signaling_->srf();
    srf.set_draining(true);
    log_->info("event=draining calls_in_progress={} timeout_s={}", started_ - finished_, options_.drain_timeout_s);
    drain_timer_.expires_after(std::chrono::seconds(options_.drain_timeout_s));
    drain_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) stop("drain_timeout");
    });
    stop_when_drained();
  }

  // Drained: Srf has no call in progress (nor a leg towards Asterisk) and every call's
  // coroutine is done (its call_end logged). Asked again as each call ends; a completion
  // after stop() does nothing.
  void stop_when_drained() {
    if (!draining_ || stopping_ || started_ != finished_ || !signaling_) return;
    signaling_->srf().async_wait_idle([this](std::exception_ptr error) {
      if (!error && started_ == finished_) stop("drained");
    });
  }

  // How long start() waits for the media servers before it takes calls.
  static constexpr std::chrono::milliseconds startup_wait{2000};

  struct Member {
    std::shared_ptr<mrf::MediaServer> server;
    std::string where;  // "ari=HOST:PORT sip=HOST:PORT", for the log
    std::string ari;    // "HOST:PORT", its name in event=stats
    mrf::Subscription state;
  };

  static mrf::SelectionPolicy policy(const std::string& name) {
    if (name == "least_calls") return mrf::SelectionPolicy::least_calls;
    if (name == "weighted") return mrf::SelectionPolicy::weighted;
    return mrf::SelectionPolicy::round_robin;
  }

  bool all_up() const {
    return std::all_of(members_.begin(), members_.end(),
                       [](const auto& m) { return m->server->state() == mrf::ServerState::up; });
  }

  void disconnect_all() {
    if (!pool_) return;
    for (auto& server : pool_->servers()) server->disconnect();
  }

  void on_server_state(const Member& member, mrf::ServerState state) {
    switch (state) {
      case mrf::ServerState::up:
        log_->info("event=media_server_up {} app={}", member.where, member.server->app());
        if (all_up()) startup_timer_.cancel();
        break;
      case mrf::ServerState::down:
        log_->warn("event=media_server_down {} app={} calls={}", member.where, member.server->app(),
                   member.server->active_calls());
        break;
      case mrf::ServerState::connecting:
      case mrf::ServerState::closed:
        log_->debug("event=media_server_state {} app={} state={}", member.where, member.server->app(),
                    mrf::to_string(state));
        break;
    }
  }

  // One line with what a soak or an operator watches: calls, the pool's counters, each server.
  void schedule_stats() {
    stats_timer_.expires_after(std::chrono::seconds(options_.stats_interval_s));
    stats_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_ || !pool_) return;
      std::string servers;
      for (const auto& member : members_) {
        if (!servers.empty()) servers += ',';
        servers += fmt::format("{}/{}/{}", member->ari, mrf::to_string(member->server->state()),
                               member->server->active_calls());
      }
      const auto& stats = pool_->stats();
      log_->info(
          "event=stats calls_active={} calls_started={} calls_refused={} pool_setups={} pool_failovers={} "
          "pool_refused={} servers={}",
          started_ - finished_, started_, refused_, stats.setups, stats.failovers, stats.refused, servers);
      schedule_stats();
    });
  }

  // Channels entering and leaving the application, for the log (a call's own
  // events are logged by its dialogue, with its call id).
  void watch_stasis(mrf::MediaServer& server) {
    for (auto type : {astmrf::ari::EventType::stasis_start, astmrf::ari::EventType::stasis_end}) {
      stasis_events_.push_back(server.ari().on_event(type, [this](const astmrf::ari::Event& event) {
        log_->info("event=ari type={} channel_id={} app={}", event.type_name(),
                   event.id(astmrf::ari::ResourceKind::channel), event.application());
      }));
    }
  }

  void on_invite(srf::Request req, srf::Response res) {
    if (stopping_ || (options_.max_calls != 0 && started_ - refused_ >= options_.max_calls)) {
      log_->info("event=rejected call_id={} status=503 why=stopping", req.call_id());
      res.send(503);
      return;
    }
    if (draining_ && options_.drain_refuses_calls) {
      // The balancer's failure route sends it to another instance; the caller sees nothing.
      log_->info("event=rejected call_id={} status=503 why=draining", req.call_id());
      srf::ResponseOptions refusal;
      refusal.headers = {{"Retry-After", "30"}};
      res.send(503, std::move(refusal));
      return;
    }
    // No server up or all at a limit: the pool answers 503 with Retry-After (run_call logs it).
    ++started_;
    ivr::DialogueOptions dialogue{
        options_.prompt, options_.max_digits, '#', options_.first_digit_timeout, options_.inter_digit_timeout, 60s};
    asio::co_spawn(ioc_, ivr::run_call(*pool_, req, res, dialogue, log_),
                   [this](std::exception_ptr error, ivr::CallOutcome outcome) {
                     if (error) {
                       try {
                         std::rethrow_exception(error);
                       } catch (const std::exception& e) {
                         log_->error("event=call_error error={}", astmrf::util::quote(e.what()));
                       }
                     }
                     ++finished_;
                     // A refused call does not count towards --max-calls, as before the pool.
                     if (!error && outcome.refused) ++refused_;
                     if (options_.max_calls != 0 && finished_ - refused_ >= options_.max_calls) stop("max_calls");
                     stop_when_drained();
                   });
  }

  asio::io_context& ioc_;
  ivr::IvrOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<spdlog::logger> library_log_;  // engine, Srf, Mrf, ARI clients
  asio::signal_set signals_;
  asio::steady_timer startup_timer_;
  asio::steady_timer stats_timer_;
  asio::steady_timer drain_timer_;                            // --drain-timeout
  std::shared_ptr<astmrf::util::metrics::Registry> metrics_;  // null without --metrics
  std::shared_ptr<astmrf::util::HttpExporter> exporter_;
  std::unique_ptr<ivr::Signaling> signaling_;
  std::unique_ptr<mrf::Mrf> media_;
  std::unique_ptr<mrf::MediaServerPool> pool_;  // before media_ goes: it is built on it
  std::vector<std::unique_ptr<Member>> members_;
  std::vector<astmrf::ari::Subscription> stasis_events_;
  unsigned started_{0};
  unsigned finished_{0};
  unsigned refused_{0};  // calls no media server could take
  bool stopping_{false};
  bool draining_{false};  // SIGTERM: drain() ran
};

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  auto options = ivr::parse_command_line(argc, argv, exit_code);
  if (!options) return exit_code;
  auto loggers = make_loggers(options->log_level, options->log_format);
  auto log = loggers.app;

  asio::io_context ioc;
  IvrApp app(ioc, *options, loggers);
  asio::co_spawn(ioc, app.start(), [&](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      log->error("event=startup_failed error={}", astmrf::util::quote(e.what()));
    }
    exit_code = 1;
    app.stop("startup_failed");
  });
  ioc.run();
  return exit_code;
}
