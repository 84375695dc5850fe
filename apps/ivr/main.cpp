// astmrf-ivr: the demo IVR. Listens for calls (embedded SIP engine, or a
// drachtio-server with --drachtio), connects each caller to an Asterisk with
// Mrf's connect_caller, plays a prompt, collects DTMF digits, reads them back and
// hangs up. Calls are spread round robin over the --asterisk media servers.
//
//   ASTMRF_ARI_PASSWORD=secret astmrf-ivr --listen 127.0.0.1:5080
//       --ari-url http://127.0.0.1:8088 --ari-user asterisk --media-sip 127.0.0.1:5060
//
// Logs are key=value lines (spdlog, UTC times) with call_id and channel_id.
#include "ivr_call.hpp"
#include "media_pool.hpp"
#include "options.hpp"
#include "signaling.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>

namespace asio = boost::asio;
namespace ivr = astmrf::ivr;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<spdlog::logger> make_logger(const std::string& level) {
  // stdout, unbuffered lines: the demo and the tests read the log as it is written.
  auto log = spdlog::stdout_logger_st("ivr");
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
  log->set_level(spdlog::level::from_str(level));
  log->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(log);  // the library's own logs (ARI client) go the same way
  return log;
}

class IvrApp {
 public:
  IvrApp(asio::io_context& ioc, ivr::IvrOptions options, std::shared_ptr<spdlog::logger> log)
      : ioc_(ioc), options_(std::move(options)), log_(std::move(log)), signals_(ioc, SIGINT, SIGTERM) {}

  asio::awaitable<void> start() {
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (!ec) stop("signal");
    });
    const auto servers = ivr::media_servers(options_);  // bad addresses fail before any I/O
    ivr::SignalingOptions signaling_options{options_.listen, options_.drachtio};
    asio::any_io_executor executor = ioc_.get_executor();  // named: g++ 12 and co_await temporaries
    signaling_ = co_await ivr::open_signaling(executor, signaling_options);
    log_->info("event=listening signaling=\"{}\"", signaling_->description());
    media_ = std::make_unique<mrf::Mrf>(signaling_->srf());

    for (const auto& address : servers) {
      mrf::ConnectOptions connect;
      connect.ari = {.address = address.ari.host,
                     .port = address.ari.port,
                     .username = options_.ari_user,
                     .password = options_.ari_password,
                     .tls = address.ari_tls};
      connect.sip = {.address = address.sip.host, .port = address.sip.port, .transport = astmrf::sip::Transport::udp};
      connect.logger = log_;
      const auto where =
          fmt::format("ari={}:{} sip={}:{}", address.ari.host, address.ari.port, address.sip.host, address.sip.port);
      try {
        auto server = co_await media_->async_connect(connect, asio::use_awaitable);
        log_->info("event=media_server_up {} app={}", where, server->app());
        watch_stasis(*server);
        pool_.add(std::move(server));
      } catch (const std::exception& e) {
        log_->error("event=media_server_failed {} error=\"{}\"", where, e.what());
      }
    }
    if (pool_.servers().empty()) throw std::runtime_error("no media server could be reached");

    signaling_->srf().invite(
        [this](srf::Request req, srf::Response res) { on_invite(std::move(req), std::move(res)); });
    log_->info("event=ready media_servers={}", pool_.servers().size());
  }

  void stop(std::string_view why) {
    if (stopping_) return;
    stopping_ = true;
    log_->info("event=stopping why={} calls_in_progress={}", why, started_ - finished_);
    // Calls in progress end now (each endpoint's end BYEs its caller); with none, the
    // last call's StasisEnd still gets logged before the ARI connection closes.
    if (started_ != finished_) pool_.disconnect_all();
    signals_.cancel();
    // Let the BYEs and the last events through, then stop listening.
    auto timer = std::make_shared<asio::steady_timer>(ioc_, 300ms);
    timer->async_wait([this, timer](boost::system::error_code) {
      pool_.disconnect_all();  // removes the Stasis applications
      stasis_events_.clear();
      if (signaling_) signaling_->stop();
      media_.reset();
      ioc_.stop();
    });
  }

 private:
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
    if (stopping_ || (options_.max_calls != 0 && started_ >= options_.max_calls)) {
      log_->info("event=rejected call_id={} status=503 why=stopping", req.call_id());
      res.send(503);
      return;
    }
    auto server = pool_.next();
    if (!server) {
      log_->warn("event=rejected call_id={} status=503 why=no_media_server", req.call_id());
      res.send(503);
      return;
    }
    ++started_;
    ivr::DialogueOptions dialogue{
        options_.prompt, options_.max_digits, '#', options_.first_digit_timeout, options_.inter_digit_timeout, 60s};
    asio::co_spawn(ioc_, ivr::run_call(server, req, res, dialogue, log_),
                   [this](std::exception_ptr error, ivr::CallOutcome) {
                     if (error) {
                       try {
                         std::rethrow_exception(error);
                       } catch (const std::exception& e) {
                         log_->error("event=call_error error=\"{}\"", e.what());
                       }
                     }
                     ++finished_;
                     if (options_.max_calls != 0 && finished_ >= options_.max_calls) stop("max_calls");
                   });
  }

  asio::io_context& ioc_;
  ivr::IvrOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  asio::signal_set signals_;
  std::unique_ptr<ivr::Signaling> signaling_;
  std::unique_ptr<mrf::Mrf> media_;
  ivr::MediaPool pool_;
  std::vector<astmrf::ari::Subscription> stasis_events_;
  unsigned started_{0};
  unsigned finished_{0};
  bool stopping_{false};
};

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  auto options = ivr::parse_command_line(argc, argv, exit_code);
  if (!options) return exit_code;
  auto log = make_logger(options->log_level);

  asio::io_context ioc;
  IvrApp app(ioc, *options, log);
  asio::co_spawn(ioc, app.start(), [&](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      log->error("event=startup_failed error=\"{}\"", e.what());
    }
    exit_code = 1;
    app.stop("startup_failed");
  });
  ioc.run();
  return exit_code;
}
