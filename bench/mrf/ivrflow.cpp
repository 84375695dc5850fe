// astmrf-ivr-flow: the demo IVR's call flow as a load target (scripts/bench-ivr-flow), written
// twice so that one run can compare them side by side:
//   --flow verbs  Endpoint::async_play_and_collect + Endpoint::async_play (the library's verbs)
//   --flow raw    the same flow on the raw ARI client: subscribe to the channel's DTMF and the
//                 playback first, play with a chosen id, wait, stop the prompt on barge-in, play the
//                 read-back, wait for its PlaybackFinished (what the demo IVR did before the verbs)
// Per call: connect_caller, a prompt with collection of --digits digits (barge-in), the digits read
// back, then our BYE. Engine + Srf + Mrf on one thread. Stats as one "key=value" line on stderr
// on SIGUSR1 and at the end (SIGINT/SIGTERM).
#include "astmrf_bench/mrf_target.hpp"
#include "astmrf_bench/stats_reporter.hpp"

#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/engine_backend.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace asio = boost::asio;
namespace sip = astmrf::sip;
namespace srf = astmrf::srf;
namespace mrf = astmrf::mrf;
namespace ari = astmrf::ari;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct Options : astmrf_bench::AsteriskTarget {
  std::string flow{"verbs"};
  std::string prompt{"sound:silence/1"};
  std::size_t digits{4};
  std::string expect;  // the digits every caller sends (a mismatch is counted)
};

struct Counters {
  std::uint64_t invites{0};
  std::uint64_t connected{0};
  std::uint64_t completed{0};       // the expected digits collected and read back
  std::uint64_t wrong_digits{0};    // collected something else (or nothing)
  std::uint64_t caller_left{0};     // the call ended before the flow did
  std::uint64_t failed_connect{0};  // connect_caller failed
  std::uint64_t failed_media{0};    // a verb or ARI request failed
};

class IvrFlow {
 public:
  IvrFlow(asio::io_context& io, Options options)
      : io_(io),
        options_(std::move(options)),
        engine_(io.get_executor(), engine_config()),
        app_(srf::make_engine_backend(engine_)),
        media_(app_),
        signals_(io, SIGINT, SIGTERM),
        report_(io, SIGUSR1) {}

  void start() {
    engine_.start();
    started_ = Clock::now();
    const auto connect = astmrf_bench::connect_options(options_);
    media_.async_connect(connect, [this](std::exception_ptr error, std::shared_ptr<mrf::MediaServer> server) {
      if (error) {
        std::fprintf(stderr, "ivr-flow: cannot connect to Asterisk\n");
        exit_code_ = 1;
        engine_.stop();
        io_.stop();
        return;
      }
      server_ = std::move(server);
      app_.invite([this](srf::Request req, srf::Response res) {
        ++counters_.invites;
        asio::co_spawn(io_, call(req, res), asio::detached);
      });
      std::fprintf(stderr, "ivr-flow (%s) listening, Stasis app %s\n", options_.flow.c_str(), server_->app().c_str());
      std::fflush(stderr);
    });
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      print("final");
      if (server_) server_->disconnect();
      engine_.stop();
      io_.stop();
    });
    wait_report();
  }

  [[nodiscard]] int exit_code() const noexcept { return exit_code_; }

 private:
  sip::EngineConfig engine_config() const {
    return astmrf_bench::udp_engine_config(options_.listen, "astmrf-ivr-flow");
  }

  void wait_report() {
    report_.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      print("usr1");
      wait_report();
    });
  }

  asio::awaitable<void> call(srf::Request req, srf::Response res) {
    mrf::ConnectedCaller leg;
    try {
      mrf::ConnectCallerOptions connect;
      leg = co_await server_->async_connect_caller(req, res, connect, asio::use_awaitable);
    } catch (const std::exception&) {
      ++counters_.failed_connect;
      co_return;
    }
    ++counters_.connected;
    try {
      // One co_await per statement, on named arguments: g++ 12 mishandles temporaries there (docs/ari.md).
      std::optional<std::string> digits;
      auto endpoint = leg.endpoint;
      if (options_.flow == "raw") {
        digits = co_await raw_flow(endpoint);
      } else {
        digits = co_await verbs_flow(endpoint);
      }
      if (!digits) {
        ++counters_.caller_left;
      } else if (*digits == options_.expect) {
        ++counters_.completed;
      } else {
        ++counters_.wrong_digits;
        std::fprintf(stderr, "ivr-flow: collected %s\n", digits->c_str());
      }
    } catch (const mrf::CallEnded&) {
      ++counters_.caller_left;
    } catch (const std::exception& e) {
      ++counters_.failed_media;
      spdlog::warn("ivr-flow: {}", e.what());
    }
    leg.dialog->destroy();
    leg.endpoint->destroy();
  }

  // ---- the flow with the Endpoint's verbs

  asio::awaitable<std::optional<std::string>> verbs_flow(std::shared_ptr<mrf::Endpoint> endpoint) {
    mrf::CollectOptions collect;
    collect.max_digits = options_.digits;
    collect.terminators = "#";
    collect.first_digit_timeout = 5s;
    collect.inter_digit_timeout = 3s;
    const std::vector<std::string> prompt{options_.prompt};
    auto input = co_await endpoint->async_play_and_collect(prompt, collect, asio::use_awaitable);
    if (input.end == mrf::CollectEnd::call_ended) co_return std::nullopt;
    // Wrong digits are counted by the caller of this flow; how the collection ended helps tell why.
    if (input.digits != options_.expect)
      std::fprintf(stderr, "ivr-flow: collection ended %s\n", mrf::to_string(input.end).data());
    const std::vector<std::string> readback{"digits:" + (input.digits.empty() ? "0" : input.digits)};
    const mrf::PlayOptions play;
    auto played = co_await endpoint->async_play(readback, play, asio::use_awaitable);
    if (played.end == mrf::PlayEnd::call_ended) co_return std::nullopt;
    co_return input.digits;
  }

  // ---- the same flow on the raw ARI client

  struct RawState {
    explicit RawState(asio::any_io_executor executor) : wake(std::move(executor)) {}
    asio::steady_timer wake;
    std::string digits;
    bool terminated{false};
    bool playing{false};
    bool ended{false};
    Clock::time_point prompt_end{};
    Clock::time_point last_digit{};
  };

  asio::awaitable<std::optional<std::string>> raw_flow(std::shared_ptr<mrf::Endpoint> endpoint) {
    auto& client = server_->ari();
    const auto& channel = endpoint->channel_id();
    auto st = std::make_shared<RawState>(io_.get_executor());
    std::weak_ptr<RawState> weak = st;
    const std::size_t wanted = options_.digits;
    auto dtmf = client.subscribe(
        ari::ResourceKind::channel, channel,
        [weak, wanted](const ari::Event& event) {
          auto s = weak.lock();
          if (!s || event.type() != ari::EventType::channel_dtmf_received) return;
          const auto digit = event.as<ari::ChannelDtmfReceived>().digit;
          if (digit == "#") {
            s->terminated = true;
          } else if (s->digits.size() < wanted) {
            s->digits += digit;
          }
          s->last_digit = Clock::now();
          s->wake.cancel();
        },
        [weak](ari::EndReason) {
          if (auto s = weak.lock()) {
            s->ended = true;
            s->wake.cancel();
          }
        });
    auto wait_until = [st](Clock::time_point deadline) -> asio::awaitable<void> {
      st->wake.expires_at(deadline);
      co_await st->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    };

    const auto prompt_id = client.make_id("pb");
    auto prompt = play_subscription(client, prompt_id, st);
    st->playing = true;
    const ari::channels::PlayWithId play{.channel_id = channel, .playback_id = prompt_id, .media = {options_.prompt}};
    co_await client.channels().async_play_with_id(play, asio::use_awaitable);
    bool stopped = false;
    for (;;) {
      if (st->ended) co_return std::nullopt;
      if (st->terminated || st->digits.size() >= wanted) break;
      if (st->playing && !st->digits.empty() && !stopped) {
        stopped = true;  // barge-in
        try {
          const ari::playbacks::Stop stop{.playback_id = prompt_id};
          co_await client.playbacks().async_stop(stop, asio::use_awaitable);
        } catch (const ari::NotFound&) {
        }
        continue;
      }
      const auto deadline = st->playing          ? Clock::now() + 60s
                            : st->digits.empty() ? st->prompt_end + 5s
                                                 : st->last_digit + 3s;
      if (Clock::now() >= deadline) break;
      co_await wait_until(deadline);
    }
    if (st->playing && !stopped) {
      try {
        const ari::playbacks::Stop stop{.playback_id = prompt_id};
        co_await client.playbacks().async_stop(stop, asio::use_awaitable);
      } catch (const ari::NotFound&) {
      }
    }
    const auto digits = st->digits;

    const auto readback_id = client.make_id("pb");
    auto readback = play_subscription(client, readback_id, st);
    st->playing = true;
    const ari::channels::PlayWithId again{
        .channel_id = channel, .playback_id = readback_id, .media = {"digits:" + (digits.empty() ? "0" : digits)}};
    co_await client.channels().async_play_with_id(again, asio::use_awaitable);
    const auto deadline = Clock::now() + 60s;
    while (st->playing && !st->ended && Clock::now() < deadline) co_await wait_until(deadline);
    if (st->ended) co_return std::nullopt;
    co_return digits;
  }

  static ari::Subscription play_subscription(ari::Client& client, const std::string& id,
                                             const std::shared_ptr<RawState>& st) {
    std::weak_ptr<RawState> weak = st;
    return client.subscribe(ari::ResourceKind::playback, id, {}, [weak](ari::EndReason) {
      if (auto s = weak.lock()) {
        s->playing = false;
        s->prompt_end = Clock::now();
        s->wake.cancel();
      }
    });
  }

  void print(const char* why) {
    const double t = std::chrono::duration<double>(Clock::now() - started_).count();
    const auto& c = counters_;
    std::fprintf(stderr,
                 "stats %s flow=%s t=%.1f invites=%" PRIu64 " connected=%" PRIu64 " completed=%" PRIu64
                 " wrong_digits=%" PRIu64 " caller_left=%" PRIu64 " failed_connect=%" PRIu64 " failed_media=%" PRIu64
                 " endpoints=%zu pending_setups=%zu rss_kb=%ld\n",
                 why, options_.flow.c_str(), t, c.invites, c.connected, c.completed, c.wrong_digits, c.caller_left,
                 c.failed_connect, c.failed_media, server_ ? server_->endpoints().size() : 0,
                 server_ ? server_->pending_setups() : 0, astmrf_bench::proc_status_kb("VmRSS"));
    std::fflush(stderr);
  }

  asio::io_context& io_;
  Options options_;
  sip::Engine engine_;
  srf::Srf app_;
  mrf::Mrf media_;
  std::shared_ptr<mrf::MediaServer> server_;
  asio::signal_set signals_;
  asio::signal_set report_;
  Counters counters_;
  Clock::time_point started_;
  int exit_code_{0};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"The demo IVR's flow as a load target, on the Endpoint verbs or on the raw ARI client"};
  Options o;
  astmrf_bench::add_target_options(cli, o);
  cli.add_option("--flow", o.flow, "verbs or raw")->check(CLI::IsMember({"verbs", "raw"}))->capture_default_str();
  cli.add_option("--prompt", o.prompt, "the prompt (an ARI media URI)")->capture_default_str();
  cli.add_option("--digits", o.digits, "digits to collect")->capture_default_str();
  cli.add_option("--expect", o.expect, "the digits each caller sends")->required();
  CLI11_PARSE(cli, argc, argv);
  return astmrf_bench::run_on_one_thread<IvrFlow>("astmrf-ivr-flow", o);
}
