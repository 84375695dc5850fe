// The calls in progress of one Srf (Srf::calls_in_progress, Srf::async_wait_idle, draining):
// each inbound INVITE until its final response, each outbound INVITE until it completes, and
// each dialog until it ends (or is dropped). Whoever takes part holds a token; the count is
// the number of tokens alive.
#pragma once

#include <astmrf/detail/async.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

namespace astmrf::srf::detail {

class Activity : public std::enable_shared_from_this<Activity> {
 public:
  using IdleHandler = boost::asio::any_completion_handler<void(std::exception_ptr)>;

  /// A token that counts as one call in progress as long as it lives.
  [[nodiscard]] std::shared_ptr<void> hold();
  /// Tokens alive.
  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  /// `handler` completes once the count is 0 (at once when it is); cancellable.
  void wait_idle(IdleHandler handler, const boost::asio::any_io_executor& executor);

  bool draining{false};                  // OPTIONS get 503 (Srf::set_draining)
  std::chrono::seconds retry_after{30};  // their Retry-After

 private:
  void release();
  void check();  // completes the waiters when the count is still 0

  std::size_t count_{0};
  bool check_posted_{false};
  boost::asio::any_io_executor executor_;  // of the waiters (set by the first one)
  std::vector<std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr)>>> waiters_;
};

}  // namespace astmrf::srf::detail
