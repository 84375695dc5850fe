// Helpers of the ARI integration tests: a client for a sandbox, running coroutines on the test's
// io_context, and sipp started directly (own argv: call count, rate, media port).
#pragma once

#include "astmrf_test/process.hpp"
#include "astmrf_test/sandbox.hpp"

#include <astmrf/ari/ari.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace ari_it {

namespace ari = astmrf::ari;
namespace asio = boost::asio;
using namespace std::chrono_literals;

inline ari::ClientOptions options(const std::string& url, std::vector<std::string> apps) {
  const auto& box = astmrf_test::sandbox();
  ari::ClientOptions o;
  o.url = url;
  o.user = box.ari_user;
  o.password = box.ari_password;
  o.apps = std::move(apps);
  o.reconnect.initial = 100ms;
  o.reconnect.max = 1s;
  return o;
}

inline std::string sandbox_url() {
  const auto& box = astmrf_test::sandbox();
  return "http://" + box.ari_host + ":" + std::to_string(box.ari_port);
}

/// Runs a coroutine to completion on `ioc` (rethrows its exception).
template <typename F>
void run(asio::io_context& ioc, F&& f, std::chrono::seconds limit = 60s) {
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(ioc, std::forward<F>(f)(), [&](std::exception_ptr e) {
    done = true;
    error = e;
  });
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_for(10ms);
  }
  ASSERT_TRUE(done) << "coroutine timed out";
  if (error) std::rethrow_exception(error);
}

/// Runs `ioc` until `pred` holds.
inline bool run_until(asio::io_context& ioc, const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (ioc.stopped()) ioc.restart();
    ioc.run_for(5ms);
  }
  return true;
}

inline std::string scenario_dir() { return ASTMRF_ARI_SIPP_DIR; }

/// A copy of a scenario template with @NAME@ replaced, in /tmp.
inline std::string instantiate(const std::string& name, const std::string& key, const std::string& value) {
  std::ifstream in(scenario_dir() + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  for (auto pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + value.size())) {
    text.replace(pos, key.size(), value);
  }
  auto path = "/tmp/astmrf-ari-" + astmrf_test::random_uuid() + ".xml";
  std::ofstream(path) << text;
  return path;
}

struct SippArgs {
  std::string scenario;  // path
  std::string service;   // Stasis app
  std::string from_user;
  std::uint16_t sip_port = 0;  // Asterisk's SIP port (default: the fixture sandbox)
  int calls = 1;
  int rate = 10;
  int seconds = 60;
};

/// sipp running in the background (killed when destroyed); wait() appends its message trace.
class Sipp {
 public:
  Sipp(std::vector<std::string> argv, std::string trace)
      : trace_(std::move(trace)), process_(std::make_unique<astmrf_test::Process>(std::move(argv))) {}
  ~Sipp() { std::remove(trace_.c_str()); }
  Sipp(const Sipp&) = delete;
  Sipp& operator=(const Sipp&) = delete;
  bool running() { return process_->running(); }
  astmrf_test::ProcessResult wait(std::chrono::milliseconds timeout) {
    auto r = process_->wait(timeout);
    std::ifstream in(trace_);
    std::stringstream ss;
    ss << in.rdbuf();
    auto text = ss.str();
    if (text.size() > 6000) text = "..." + text.substr(text.size() - 6000);
    r.output += "\n----- sipp message trace (tail) -----\n" + text;
    return r;
  }

 private:
  std::string trace_;
  std::unique_ptr<astmrf_test::Process> process_;
};

/// Starts sipp in the background.
inline std::unique_ptr<Sipp> start_sipp(const SippArgs& a) {
  const auto& box = astmrf_test::sandbox();
  std::random_device rd;
  const auto media_port = 40000 + 2 * static_cast<int>(rd() % 5000);
  std::vector<std::string> argv{box.sipp,
                                box.sip_host + ":" + std::to_string(a.sip_port ? a.sip_port : box.sip_port),
                                "-sf",
                                a.scenario,
                                "-s",
                                a.service,
                                "-i",
                                "127.0.0.1",
                                "-t",
                                "u1",
                                "-m",
                                std::to_string(a.calls),
                                "-r",
                                std::to_string(a.rate),
                                "-l",
                                "200",
                                "-mp",
                                std::to_string(media_port),
                                "-key",
                                "from_user",
                                a.from_user,
                                "-nostdin",
                                "-timeout",
                                std::to_string(a.seconds) + "s",
                                "-timeout_error"};
  auto trace = "/tmp/astmrf-ari-sipp-" + astmrf_test::random_uuid() + ".log";
  if (a.calls == 1) argv.insert(argv.end(), {"-trace_msg", "-message_file", trace});
  return std::make_unique<Sipp>(std::move(argv), trace);
}

/// The sandbox tool with arguments (for the tests that run their own Asterisk).
inline astmrf_test::ProcessResult sandbox_tool(std::vector<std::string> args) {
  args.insert(args.begin(), astmrf_test::sandbox().tool);
  return astmrf_test::run(args, 180s);
}

}  // namespace ari_it
