// Running one util::Resolver lookup to its end on a test's io_context.
#pragma once

#include <astmrf/detail/async.hpp>
#include <astmrf/util/resolver.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace astmrf_test::resolver {

namespace asio = boost::asio;
namespace util = astmrf::util;
using Clock = std::chrono::steady_clock;
using Addresses = std::vector<asio::ip::address>;

struct Outcome {
  bool done = false;
  std::exception_ptr error;
  Addresses addresses;
};

// Runs `ioc` until `done()` or `limit` passed.
inline void run_until(asio::io_context& ioc, const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!done() && Clock::now() < deadline) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(std::chrono::milliseconds(10));
  }
}

inline Outcome resolve(asio::io_context& ioc, util::Resolver& resolver, std::string host,
                       std::chrono::milliseconds limit = std::chrono::milliseconds(10'000)) {
  Outcome outcome;
  resolver.async_resolve(std::move(host), [&outcome](std::exception_ptr e, Addresses a) {
    outcome.done = true;
    outcome.error = e;
    outcome.addresses = std::move(a);
  });
  run_until(
      ioc, [&outcome] { return outcome.done; }, limit);
  return outcome;
}

inline std::string what(const std::exception_ptr& error) {
  if (!error) return "no error";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace astmrf_test::resolver
