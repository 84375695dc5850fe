// Runs an embedded SIP engine on its own thread for tests that drive it from the
// test thread while sipp plays the peer. Everything that touches the engine goes
// through run(), which executes on the engine's thread and waits for the result.
#pragma once

#include <astmrf/sip/engine/engine.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace astmrf_test {

class EngineHarness {
 public:
  explicit EngineHarness(astmrf::sip::EngineConfig config = test_config());
  ~EngineHarness();

  // Loopback UDP and TCP on ports the system picks; short timers so that
  // time-outs (64*T1) take seconds, not half a minute.
  static astmrf::sip::EngineConfig test_config();

  template <typename F>
  auto run(F&& f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::forward<F>(f));
    auto result = task.get_future();
    boost::asio::post(ioc_, [&task] { task(); });
    return result.get();
  }

  astmrf::sip::Engine& engine() { return *engine_; }
  std::uint16_t port(astmrf::sip::Transport transport);
  std::string address(astmrf::sip::Transport transport);  // "127.0.0.1:<port>"

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<astmrf::sip::Engine> engine_;
  std::thread thread_;
};

// A thread-safe log of what the application saw, with waits on it.
class EventLog {
 public:
  void add(std::string event);
  // True when `event` was logged within the timeout.
  bool wait_for(const std::string& event, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<std::string> events();
  std::string joined();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> events_;
};

// A UDP or TCP port on 127.0.0.1 that is free now.
std::uint16_t free_port(astmrf::sip::Transport transport);
// Waits until some process has bound the port (sipp is ready to receive).
bool wait_until_bound(astmrf::sip::Transport transport, std::uint16_t port,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace astmrf_test
