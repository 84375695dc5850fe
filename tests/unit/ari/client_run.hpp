// What the client tests against the fake Asterisk share: client options for it, and running
// the io_context until a coroutine completes or a condition holds.
#pragma once

#include "fake_asterisk.hpp"

#include <astmrf/ari/options.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace fake {

// A client of `server` as user astmrf, reconnecting within 100 ms, never idle-timed out.
inline astmrf::ari::ClientOptions client_options(const Asterisk& server, const std::string& password,
                                                 std::vector<std::string> apps = {}) {
  using namespace std::chrono_literals;
  astmrf::ari::ClientOptions o;
  o.url = server.url();
  o.user = "astmrf";
  o.password = password;
  o.apps = std::move(apps);
  o.reconnect.initial = 20ms;
  o.reconnect.max = 100ms;
  o.ws_idle_timeout = 60s;
  return o;
}

// Runs a coroutine on the io_context until it completes (or the deadline passes).
template <typename F>
void run(boost::asio::io_context& ioc, F&& f, std::chrono::seconds limit = std::chrono::seconds(20)) {
  bool done = false;
  std::exception_ptr error;
  boost::asio::co_spawn(ioc, std::forward<F>(f)(), [&](std::exception_ptr e) {
    done = true;
    error = e;
  });
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(done) << "timed out";
  if (error) std::rethrow_exception(error);
}

// Polls `pred` while the io_context runs.
inline bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& pred,
                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (ioc.stopped()) ioc.restart();
    ioc.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace fake
