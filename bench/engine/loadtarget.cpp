// astmrf-sip-loadtarget: the embedded SIP engine on one thread, as a load target
// for sipp (scripts/bench-sip-engine).
//
// UAS mode (default): answers every INVITE 200 + SDP, every other request outside
// a dialog 200; the engine itself answers BYE. With --hold-ms N the engine hangs up
// N ms after the ACK instead of waiting for the caller's BYE.
//
// UAC mode (--call URI): the engine places calls at --rate calls/s to a sipp UAS,
// and sends BYE --hold-ms after the 200.
//
// Stats (EngineStats, call counters, RSS, heap in use) go to stderr as one
// "key=value" line every --stats-interval seconds (heap_in_use_kb=-1 there: it
// is costly), on SIGUSR1, on SIGUSR2 (after
// malloc_trim), and on SIGINT/SIGTERM (which stop the program).
#include "astmrf_bench/stats_reporter.hpp"

#include <astmrf/sip/engine/engine.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include <malloc.h>

namespace asio = boost::asio;
namespace sip = astmrf::sip;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kSdp =
    "v=0\r\n"
    "o=astmrf 1 1 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 10000 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n";

struct Counters {
  std::uint64_t invites_answered{0};
  std::uint64_t dialogs_ended{0};
  std::uint64_t ended_remote_bye{0};
  std::uint64_t ended_local_bye{0};
  std::uint64_t ended_other{0};
  std::uint64_t other_requests{0};
  std::uint64_t calls_placed{0};
  std::uint64_t calls_answered{0};
  std::uint64_t calls_failed{0};
  std::uint64_t calls_active{0};
};

// "127.0.0.1:5060" -> listen point.
sip::ListenPoint listen_point(sip::Transport transport, const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) throw CLI::ValidationError("listen address", "expected ADDRESS:PORT, got " + text);
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return {transport, host, static_cast<std::uint16_t>(std::stoul(text.substr(colon + 1)))};
}

class LoadTarget {
 public:
  struct Options {
    std::string udp;
    std::string tcp;
    unsigned t1_ms{500};
    unsigned hold_ms{0};
    std::size_t max_server_transactions{1'000'000};
    double stats_interval{1.0};
    std::string call_uri;
    double rate{100};
    std::uint64_t calls{0};
    std::uint64_t limit{0};
    bool trim{false};
  };

  LoadTarget(asio::io_context& io, Options options)
      : io_(io),
        options_(std::move(options)),
        engine_(io.get_executor(), config()),
        pace_timer_(io),
        signals_(io, SIGINT, SIGTERM),
        reporter_(io, options_.stats_interval, [this](const char* why) { print(why); }) {}

  void start() {
    engine_.start();
    started_ = Clock::now();
    for (auto t : {sip::Transport::udp, sip::Transport::tcp}) {
      if ((t == sip::Transport::udp && options_.udp.empty()) || (t == sip::Transport::tcp && options_.tcp.empty())) {
        continue;
      }
      std::fprintf(stderr, "loadtarget listening on %s\n", engine_.local_address(t).to_string().c_str());
    }
    engine_.on_request([this](const std::shared_ptr<sip::IncomingRequest>& request) { incoming(request); });
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      print("final");
      engine_.stop();
      io_.stop();
    });
    reporter_.start();
    if (!options_.call_uri.empty()) pace();
  }

 private:
  sip::EngineConfig config() const {
    sip::EngineConfig config;
    config.listen.clear();
    if (!options_.udp.empty()) config.listen.push_back(listen_point(sip::Transport::udp, options_.udp));
    if (!options_.tcp.empty()) config.listen.push_back(listen_point(sip::Transport::tcp, options_.tcp));
    config.timers.t1 = std::chrono::milliseconds(options_.t1_ms);
    config.max_server_transactions = options_.max_server_transactions;
    config.user_agent = "astmrf-sip-loadtarget";
    return config;
  }

  // ---- UAS
  void incoming(const std::shared_ptr<sip::IncomingRequest>& request) {
    if (request->message().method_id() != sip::MethodId::invite) {
      ++counters_.other_requests;
      request->respond({200, {}, {}, {}, {}});
      return;
    }
    auto dialog = request->respond({200, {}, {}, "application/sdp", kSdp});
    ++counters_.invites_answered;
    if (!dialog) return;
    watch(*dialog);
    if (options_.hold_ms > 0) {
      std::weak_ptr<sip::Dialog> weak = dialog;
      dialog->on_ack([this, weak](const sip::Message&) { hang_up_later(weak); });
    }
  }

  void watch(sip::Dialog& dialog) {
    dialog.on_end([this](sip::DialogEndReason reason) {
      ++counters_.dialogs_ended;
      if (reason == sip::DialogEndReason::remote_bye)
        ++counters_.ended_remote_bye;
      else if (reason == sip::DialogEndReason::local_bye)
        ++counters_.ended_local_bye;
      else
        ++counters_.ended_other;
      if (counters_.calls_active > 0 && !options_.call_uri.empty()) --counters_.calls_active;
    });
  }

  void hang_up_later(const std::weak_ptr<sip::Dialog>& weak) {
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(options_.hold_ms));
    timer->async_wait([timer, weak](boost::system::error_code ec) {
      if (ec) return;
      if (auto dialog = weak.lock()) dialog->bye();
    });
  }

  // ---- UAC: calls paced at --rate, bounded by --calls and --limit
  void pace() {
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    auto due = static_cast<std::uint64_t>(elapsed * options_.rate);
    if (options_.calls > 0 && due > options_.calls) due = options_.calls;
    while (counters_.calls_placed < due) {
      if (options_.limit > 0 && counters_.calls_active >= options_.limit) break;
      place_call();
    }
    if (options_.calls > 0 && counters_.calls_placed >= options_.calls) return;
    pace_timer_.expires_after(std::chrono::milliseconds(1));
    pace_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) pace();
    });
  }

  void place_call() {
    ++counters_.calls_placed;
    ++counters_.calls_active;
    sip::RequestSpec spec;
    spec.method = "INVITE";
    spec.uri = options_.call_uri;
    spec.content_type = "application/sdp";
    spec.body = kSdp;
    engine_.send_request(std::move(spec),
                         [this](const sip::Message& response, const std::shared_ptr<sip::Dialog>& dialog) {
                           if (response.status() < 200) return;
                           if (response.status() >= 300 || !dialog) {
                             ++counters_.calls_failed;
                             --counters_.calls_active;
                             return;
                           }
                           ++counters_.calls_answered;
                           watch(*dialog);
                           if (options_.hold_ms == 0)
                             dialog->bye();
                           else
                             hang_up_later(dialog);
                         });
  }

  // ---- stats
  void print(const char* why) {
    auto s = engine_.stats();
    const bool idle = s.server_transactions == 0 && s.client_transactions == 0 && s.dialogs == 0;
    if (options_.trim && idle) malloc_trim(0);
    // mallinfo2 walks the heap's free lists: only on demand, not in periodic lines.
    const bool heap_wanted = std::string_view(why) != "periodic";
    const long heap_kb = heap_wanted ? static_cast<long>(mallinfo2().uordblks / 1024) : -1;
    const double t = std::chrono::duration<double>(Clock::now() - started_).count();
    std::fprintf(stderr,
                 "stats %s t=%.1f rx=%" PRIu64 " tx=%" PRIu64 " retx_sent=%" PRIu64 " retx_absorbed=%" PRIu64
                 " parse_errors=%" PRIu64 " rejected_overload=%" PRIu64 " stray=%" PRIu64
                 " server_tx=%zu client_tx=%zu dialogs=%zu tcp=%zu answered=%" PRIu64 " ended=%" PRIu64
                 " ended_remote_bye=%" PRIu64 " ended_local_bye=%" PRIu64 " ended_other=%" PRIu64
                 " other_requests=%" PRIu64 " placed=%" PRIu64 " uac_ok=%" PRIu64 " uac_failed=%" PRIu64
                 " rss_kb=%ld hwm_kb=%ld heap_in_use_kb=%ld\n",
                 why, t, s.messages_received, s.messages_sent, s.retransmissions_sent, s.retransmissions_absorbed,
                 s.parse_errors, s.rejected_overload, s.stray_responses, s.server_transactions, s.client_transactions,
                 s.dialogs, s.tcp_connections, counters_.invites_answered, counters_.dialogs_ended,
                 counters_.ended_remote_bye, counters_.ended_local_bye, counters_.ended_other, counters_.other_requests,
                 counters_.calls_placed, counters_.calls_answered, counters_.calls_failed,
                 astmrf_bench::proc_status_kb("VmRSS"), astmrf_bench::proc_status_kb("VmHWM"), heap_kb);
    std::fflush(stderr);
  }

  asio::io_context& io_;
  Options options_;
  sip::Engine engine_;
  asio::steady_timer pace_timer_;
  asio::signal_set signals_;
  astmrf_bench::StatsReporter reporter_;
  Counters counters_;
  Clock::time_point started_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load target for the astmrf embedded SIP engine (one thread)"};
  LoadTarget::Options options;
  std::string hold = "answer-only";
  app.add_option("--udp", options.udp, "UDP listen point ADDRESS:PORT (e.g. 127.0.0.1:5070)");
  app.add_option("--tcp", options.tcp, "TCP listen point ADDRESS:PORT");
  app.add_option("--t1", options.t1_ms, "RFC 3261 T1 in ms")->capture_default_str();
  app.add_option("--hold-ms", hold,
                 "UAS: ms after the ACK before the engine sends BYE, or 'answer-only' (wait for the peer's BYE); "
                 "UAC: ms after the 200 before BYE")
      ->capture_default_str();
  app.add_option("--max-server-transactions", options.max_server_transactions,
                 "EngineConfig::max_server_transactions (past it: 503)")
      ->capture_default_str();
  app.add_option("--stats-interval", options.stats_interval, "seconds between stats lines on stderr (0: off)")
      ->capture_default_str();
  app.add_option("--call", options.call_uri, "UAC mode: place calls to this SIP URI (e.g. sip:uas@127.0.0.1:5080)");
  app.add_option("--rate", options.rate, "UAC mode: calls per second")->capture_default_str();
  app.add_option("--calls", options.calls, "UAC mode: calls to place (0: until stopped)")->capture_default_str();
  app.add_option("--limit", options.limit, "UAC mode: most calls up at once (0: no limit)")->capture_default_str();
  app.add_flag("--trim", options.trim, "malloc_trim(0) before a stats line when the engine is idle");
  CLI11_PARSE(app, argc, argv);
  if (hold == "answer-only" || hold == "answer only") {
    options.hold_ms = 0;
  } else {
    try {
      options.hold_ms = static_cast<unsigned>(std::stoul(hold));
    } catch (const std::exception&) {
      std::cerr << "--hold-ms: a number of ms or 'answer-only'\n";
      return 2;
    }
  }
  if (options.udp.empty() && options.tcp.empty()) options.udp = "127.0.0.1:5060";

  try {
    asio::io_context io{1};
    LoadTarget target(io, options);
    target.start();
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "astmrf-sip-loadtarget: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
