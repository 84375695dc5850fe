// astmrf-stream-bench: live audio streams (issue 19) against a real Asterisk, two measurements.
//
//   --mode latency  One caller, the application echoing its stream with no delay. The caller
//                   sends 100 ms bursts of a tone after silence; the time from the burst's first
//                   packet sent to its first packet back is the echo's round trip. Side by side,
//                   Asterisk's own path: two callers bridged by Asterisk (A's burst heard by B).
//                   One-way added by astmrf = (round trip − 2 × Asterisk's one-way) / 2.
//   --mode scale    N callers at once, each with a stream echoing it; for --seconds the callers
//                   send audio. The application's thread CPU per stream-second, its late ticks and
//                   underruns, frames lost on the way, and what the callers got back.
//
// The callers are simulated in this process on a thread of their own (one UDP socket each,
// PCMU, one 20 ms clock for all), the application (engine + Srf + Mrf + streams) on another:
// its CPU is that thread's (RUSAGE_THREAD). Output: "key=value" lines on stdout.
#include "astmrf_bench/mrf_target.hpp"

#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/engine_backend.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <numbers>
#include <regex>
#include <sstream>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
using udp = asio::ip::udp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct Options : astmrf_bench::AsteriskTarget {
  std::string mode{"latency"};
  std::string transport{"rtp"};
  std::string format{"ulaw"};
  std::vector<std::size_t> streams{50};
  int seconds{10};
  int bursts{50};
  int asterisk_pid{0};
};

// Asterisk's CPU seconds so far (all its threads), from /proc; 0 without a pid.
double process_cpu_seconds(int pid) {
  if (pid <= 0) return 0;
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return 0;
  char buffer[1024] = {};
  const auto n = std::fread(buffer, 1, sizeof buffer - 1, f);
  std::fclose(f);
  std::string stat(buffer, n);
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

mrf::StreamTransport parse_transport(const std::string& t) {
  if (t == "websocket") return mrf::StreamTransport::websocket;
  if (t == "audiosocket") return mrf::StreamTransport::audiosocket;
  return mrf::StreamTransport::rtp;
}
mrf::AudioFormat parse_format(const std::string& f) {
  if (f == "slin16") return mrf::AudioFormat::slin16;
  if (f == "slin") return mrf::AudioFormat::slin;
  if (f == "alaw") return mrf::AudioFormat::alaw;
  return mrf::AudioFormat::ulaw;
}

double thread_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::min<double>(double(v.size() - 1), std::floor(p * double(v.size()))));
  return v[i];
}

// Runs `f` on `io`'s thread and returns its result to the calling thread.
template <typename F>
auto run_on(asio::io_context& io, F f) -> decltype(f()) {
  std::promise<decltype(f())> p;
  auto fut = p.get_future();
  asio::post(io, [&] { p.set_value(f()); });
  return fut.get();
}

// ---------------------------------------------------------------- simulated callers

// One caller's media: a UDP socket sending PCMU to Asterisk every 20 ms (silence, or a tone while
// `bursting`), and what comes back: the first loud packet after quiet ends a latency sample.
struct Caller {
  explicit Caller(asio::io_context& io) : socket(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  udp::socket socket;
  udp::endpoint remote;
  std::array<std::uint8_t, 1500> in{};
  udp::endpoint from;
  std::uint16_t seq{0};
  std::uint32_t ts{0};
  std::uint64_t phase{0};
  int burst_frames{0};  // frames of tone still to send
  Clock::time_point burst_sent{};
  bool waiting{false};  // a burst is out, its return not seen yet
  bool loud_before{false};
  std::vector<double> latencies_ms;
  std::uint64_t received{0};
  std::uint64_t loud_received{0};
  bool sends_bursts{false};  // latency: this caller sends the bursts
  Caller* speaker{nullptr};  // latency: whose burst this caller hears (itself for the echo)

  std::string sdp() const {
    const auto port = socket.local_endpoint().port();
    return "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio " + std::to_string(port) +
           " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n";
  }
  void set_remote(const std::string& answer) {
    std::smatch m;
    std::regex port_re("m=audio (\\d+)"), addr_re("c=IN IP4 ([0-9.]+)");
    std::regex_search(answer, m, port_re);
    const auto port = static_cast<std::uint16_t>(std::stoi(m[1]));
    std::regex_search(answer, m, addr_re);
    remote = udp::endpoint(asio::ip::make_address(m[1].str()), port);
  }
  void send_frame(bool continuous_tone) {
    std::array<std::uint8_t, 172> p{};
    p[0] = 0x80;
    p[1] = 0;
    p[2] = static_cast<std::uint8_t>(seq >> 8);
    p[3] = static_cast<std::uint8_t>(seq);
    for (int i = 0; i < 4; ++i) p[4 + i] = static_cast<std::uint8_t>(ts >> (24 - 8 * i));
    p[8] = 0x12;
    const bool tone = continuous_tone || burst_frames > 0;
    for (std::size_t i = 0; i < 160; ++i) {
      const double v = tone ? 9000.0 * std::sin(2 * std::numbers::pi * 1000.0 * double(phase + i) / 8000.0) : 0.0;
      p[12 + i] = mrf::audio::linear_to_ulaw(static_cast<std::int16_t>(v));
    }
    phase += 160;
    ++seq;
    ts += 160;
    if (burst_frames > 0) --burst_frames;
    boost::system::error_code ec;
    socket.send_to(asio::buffer(p), remote, 0, ec);
  }
  void receive() {
    socket.async_receive_from(asio::buffer(in), from, [this](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      if (n >= 12 + 160 && (in[1] & 0x7f) == 0) {
        ++received;
        double energy = 0;
        for (std::size_t i = 12; i < n; ++i) {
          const double s = mrf::audio::ulaw_to_linear(in[i]);
          energy += s * s;
        }
        const bool loud = std::sqrt(energy / double(n - 12)) > 1000.0;
        if (loud) ++loud_received;
        if (loud && !loud_before && speaker != nullptr && speaker->waiting) {
          speaker->waiting = false;
          speaker->latencies_ms.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - speaker->burst_sent).count());
        }
        loud_before = loud;
      }
      receive();
    });
  }
};

// The callers' thread: one 20 ms clock for all.
class CallerSide {
 public:
  CallerSide() : work_(asio::make_work_guard(io_)), timer_(io_) {}
  ~CallerSide() { stop(); }
  asio::io_context& io() { return io_; }
  Caller& add() {
    callers_.push_back(std::make_unique<Caller>(io_));
    return *callers_.back();
  }
  std::vector<std::unique_ptr<Caller>>& callers() { return callers_; }
  // Starts sending: continuous tone (scale) or silence with a burst every `every` (latency).
  void start(bool continuous, std::chrono::milliseconds every) {
    continuous_ = continuous;
    every_ = every;
    asio::post(io_, [this] {
      for (auto& c : callers_) c->receive();
      next_ = Clock::now();
      next_burst_ = next_ + 500ms;
      tick();
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      timer_.cancel();
      for (auto& c : callers_) c->socket.close();
    });
    work_.reset();
    thread_.join();
  }
  template <typename F>
  auto run(F f) -> decltype(f()) {
    return run_on(io_, std::move(f));
  }

 private:
  void tick() {
    const auto now = Clock::now();
    const bool burst = !continuous_ && now >= next_burst_;
    if (burst) next_burst_ += every_;
    for (auto& c : callers_) {
      if (c->remote.port() == 0) continue;
      if (burst && c->sends_bursts) {
        c->burst_frames = 5;
        c->burst_sent = Clock::now();
        c->waiting = true;
      }
      c->send_frame(continuous_);
    }
    next_ += 20ms;
    timer_.expires_at(next_);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) tick();
    });
  }
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer timer_;
  std::thread thread_;
  std::vector<std::unique_ptr<Caller>> callers_;
  bool continuous_{false};
  std::chrono::milliseconds every_{400};
  Clock::time_point next_{};
  Clock::time_point next_burst_{};
};

// ---------------------------------------------------------------- the application

class App {
 public:
  explicit App(const Options& o)
      : work_(asio::make_work_guard(io_)),
        engine_(io_.get_executor(), astmrf_bench::udp_engine_config(o.listen, "astmrf-stream-bench")) {
    engine_.start();
    thread_ = std::thread([this] { io_.run(); });
    run([&] {
      srf_ = std::make_unique<astmrf::srf::Srf>(astmrf::srf::make_engine_backend(engine_));
      mrf_ = std::make_unique<mrf::Mrf>(*srf_);
      return 0;
    });
    server_ = run([&] { return mrf_->async_connect(astmrf_bench::connect_options(o), asio::use_future); }).get();
  }
  ~App() {
    run([&] {
      streams_.clear();
      endpoints_.clear();
      if (server_) server_->disconnect();
      server_.reset();
      mrf_.reset();
      srf_.reset();
      return 0;
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }
  template <typename F>
  auto run(F f) -> decltype(f()) {
    return run_on(io_, std::move(f));
  }
  std::shared_ptr<mrf::Endpoint> endpoint(const std::string& sdp) {
    mrf::EndpointOptions options;
    options.remote_sdp = sdp;
    auto e = run([&] { return server_->async_create_endpoint(options, asio::use_future); }).get();
    run([&] {
      endpoints_.push_back(e);
      return 0;
    });
    return e;
  }
  // A stream on `endpoint` that writes back every frame it reads, at once.
  std::shared_ptr<mrf::MediaStream> echo(const std::shared_ptr<mrf::Endpoint>& endpoint, mrf::StreamOptions o) {
    auto s = run([&] { return endpoint->async_open_stream(o, asio::use_future); }).get();
    run([&] {
      streams_.push_back(s);
      loop(s);
      return 0;
    });
    return s;
  }
  std::shared_ptr<mrf::Bridge> bridge(const std::shared_ptr<mrf::Endpoint>& a,
                                      const std::shared_ptr<mrf::Endpoint>& b) {
    return run([&] { return a->async_bridge(b, mrf::BridgeOptions{}, asio::use_future); }).get();
  }
  double cpu() {
    return run([] { return thread_cpu_seconds(); });
  }
  mrf::StreamStats totals() {
    return run([&] {
      mrf::StreamStats t;
      for (auto& s : streams_) {
        const auto x = s->stats();
        t.frames_in += x.frames_in;
        t.frames_out += x.frames_out;
        t.fill_frames_out += x.fill_frames_out;
        t.lost += x.lost;
        t.late += x.late;
        t.dropped += x.dropped;
        t.underruns += x.underruns;
        t.late_ticks += x.late_ticks;
        t.malformed += x.malformed;
      }
      return t;
    });
  }
  void clear() {
    run([&] {
      streams_.clear();
      for (auto& e : endpoints_) e->destroy();
      endpoints_.clear();
      return 0;
    });
  }

 private:
  static void loop(const std::shared_ptr<mrf::MediaStream>& s) {
    std::weak_ptr<mrf::MediaStream> weak = s;
    s->async_read([weak](std::exception_ptr e, mrf::AudioFrame frame) {
      auto stream = weak.lock();
      if (e || !stream) return;
      stream->write(frame.samples);
      loop(stream);
    });
  }
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  astmrf::sip::Engine engine_;
  std::thread thread_;
  std::unique_ptr<astmrf::srf::Srf> srf_;
  std::unique_ptr<mrf::Mrf> mrf_;
  std::shared_ptr<mrf::MediaServer> server_;
  std::vector<std::shared_ptr<mrf::Endpoint>> endpoints_;
  std::vector<std::shared_ptr<mrf::MediaStream>> streams_;
};

mrf::StreamOptions stream_options(const Options& o) {
  mrf::StreamOptions s;
  s.transport = parse_transport(o.transport);
  s.format = parse_format(o.format);
  return s;
}

int latency(const Options& o) {
  App app(o);
  CallerSide callers;
  // The echo: a caller and its stream.
  auto& a = callers.add();
  auto ea = app.endpoint(a.sdp());
  a.set_remote(ea->local_sdp());
  a.sends_bursts = true;
  a.speaker = &a;
  auto stream = app.echo(ea, stream_options(o));
  // Asterisk's own path: B's burst heard by C through an Asterisk bridge.
  auto& b = callers.add();
  auto& c = callers.add();
  auto eb = app.endpoint(b.sdp());
  auto ec = app.endpoint(c.sdp());
  b.set_remote(eb->local_sdp());
  c.set_remote(ec->local_sdp());
  b.sends_bursts = true;
  c.speaker = &b;
  auto bridge = app.bridge(eb, ec);
  callers.start(false, 400ms);
  std::this_thread::sleep_for(std::chrono::milliseconds(500 + 400 * o.bursts));
  callers.stop();
  const auto echo = a.latencies_ms;
  const auto base = b.latencies_ms;
  const double p50_rtt = percentile(echo, 0.5), p99_rtt = percentile(echo, 0.99);
  const double p50_base = percentile(base, 0.5), p99_base = percentile(base, 0.99);
  std::printf(
      "mode=latency transport=%s format=%s samples=%zu echo_rtt_p50_ms=%.1f echo_rtt_p99_ms=%.1f "
      "asterisk_oneway_p50_ms=%.1f asterisk_oneway_p99_ms=%.1f added_oneway_p50_ms=%.1f "
      "added_oneway_p99_ms=%.1f\n",
      o.transport.c_str(), o.format.c_str(), echo.size(), p50_rtt, p99_rtt, p50_base, p99_base,
      (p50_rtt - 2 * p50_base) / 2, (p99_rtt - 2 * p99_base) / 2);
  bridge.reset();
  stream.reset();
  app.clear();
  return echo.empty() ? 1 : 0;
}

int scale(const Options& o) {
  App app(o);
  int status = 0;
  for (auto n : o.streams) {
    CallerSide callers;
    std::size_t opened = 0;
    std::string failure;
    for (std::size_t i = 0; i < n; ++i) {
      auto& caller = callers.add();
      try {
        auto e = app.endpoint(caller.sdp());
        caller.set_remote(e->local_sdp());
        app.echo(e, stream_options(o));
        ++opened;
      } catch (const std::exception& ex) {
        failure = ex.what();
        break;
      }
    }
    callers.start(true, 400ms);
    std::this_thread::sleep_for(1s);  // settle
    const auto back0 = callers.run([&] {
      std::uint64_t b = 0;
      for (auto& c : callers.callers()) b += c->loud_received;
      return b;
    });
    const auto before = app.totals();
    const double cpu0 = app.cpu();
    const double ast0 = process_cpu_seconds(o.asterisk_pid);
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
    const double cpu1 = app.cpu();
    const double ast1 = process_cpu_seconds(o.asterisk_pid);
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto after = app.totals();
    const auto back = callers.run([&] {
      std::uint64_t b = 0;
      for (auto& c : callers.callers()) b += c->loud_received;
      return b;
    }) - back0;
    callers.stop();
    const double stream_seconds = double(opened) * wall;
    const double expected = double(opened) * wall * 50.0;
    std::printf(
        "mode=scale transport=%s format=%s streams=%zu opened=%zu seconds=%.1f app_cpu_pct=%.1f "
        "app_cpu_us_per_stream_second=%.1f frames_in=%llu expected_in=%.0f frames_out=%llu lost=%llu "
        "late_ticks=%llu underruns=%llu callers_got_back_pct=%.1f asterisk_cpu_pct=%.1f%s%s\n",
        o.transport.c_str(), o.format.c_str(), n, opened, wall, 100.0 * (cpu1 - cpu0) / wall,
        stream_seconds > 0 ? 1e6 * (cpu1 - cpu0) / stream_seconds : 0.0,
        static_cast<unsigned long long>(after.frames_in - before.frames_in), expected,
        static_cast<unsigned long long>(after.frames_out - before.frames_out),
        static_cast<unsigned long long>(after.lost - before.lost),
        static_cast<unsigned long long>(after.late_ticks - before.late_ticks),
        static_cast<unsigned long long>(after.underruns - before.underruns),
        expected > 0 ? 100.0 * double(back) / expected : 0.0, 100.0 * (ast1 - ast0) / wall,
        failure.empty() ? "" : " failure=", failure.c_str());
    std::fflush(stdout);
    app.clear();
    std::this_thread::sleep_for(2s);
    if (opened < n) {
      status = 2;
      break;
    }
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App cli{"astmrf-stream-bench: latency and scale of live audio streams"};
  astmrf_bench::add_target_options(cli, o);
  cli.add_option("--mode", o.mode, "latency | scale")->capture_default_str();
  cli.add_option("--transport", o.transport, "rtp | websocket | audiosocket")->capture_default_str();
  cli.add_option("--format", o.format, "ulaw | alaw | slin | slin16")->capture_default_str();
  cli.add_option("--streams", o.streams, "scale: stream counts, one step each");
  cli.add_option("--seconds", o.seconds, "scale: measured seconds per step")->capture_default_str();
  cli.add_option("--bursts", o.bursts, "latency: bursts (one every 400 ms)")->capture_default_str();
  cli.add_option("--asterisk-pid", o.asterisk_pid, "scale: Asterisk's pid, for its CPU share");
  CLI11_PARSE(cli, argc, argv);
  if (o.ari_password.empty()) {
    if (const char* env = std::getenv("ASTMRF_ARI_PASSWORD")) o.ari_password = env;
  }
  spdlog::set_level(spdlog::level::warn);
  try {
    return o.mode == "scale" ? scale(o) : latency(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "astmrf-stream-bench: %s\n", e.what());
    return 1;
  }
}
