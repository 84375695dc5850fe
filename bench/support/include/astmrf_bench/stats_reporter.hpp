// What the load targets of scripts/bench-* share: when they print a stats line, and
// the process's memory as the kernel sees it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <string>

#include <malloc.h>

namespace astmrf_bench {

/// A field of /proc/self/status in kB ("VmRSS", "VmHWM"); -1 when absent.
inline long proc_status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  }
  return -1;
}

/// Calls `print(why)` every `interval_s` seconds ("periodic"; 0: never), on SIGUSR1 ("usr1"),
/// and on SIGUSR2 after malloc_trim ("trimmed"): the benchmark scripts signal the process at
/// the moments they measure, and SIGUSR2 tells memory the allocator keeps from memory in use.
class StatsReporter {
 public:
  StatsReporter(boost::asio::io_context& io, double interval_s, std::function<void(const char*)> print)
      : interval_(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(interval_s))),
        print_(std::move(print)),
        timer_(io),
        signals_(io, SIGUSR1, SIGUSR2) {}

  void start() {
    wait_signal();
    if (interval_.count() > 0) schedule();
  }

 private:
  void schedule() {
    timer_.expires_after(interval_);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      print_("periodic");
      schedule();
    });
  }

  void wait_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int signal) {
      if (ec) return;
      if (signal == SIGUSR2) {
        malloc_trim(0);
        print_("trimmed");
      } else {
        print_("usr1");
      }
      wait_signal();
    });
  }

  std::chrono::milliseconds interval_;
  std::function<void(const char*)> print_;
  boost::asio::steady_timer timer_;
  boost::asio::signal_set signals_;
};

}  // namespace astmrf_bench
