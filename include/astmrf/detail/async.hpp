// Async plumbing shared by srf, mrf and ari (a public-detail header: applications
// need not use it). One rule for completions, one holder that completes exactly once
// and honours the handler's cancellation slot.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace astmrf::detail {

/// Completes `handler` with `args`, never inside the current call: posted to `fallback`
/// first, then run on the handler's associated executor (`fallback` when it has none).
/// A handler run inline could re-enter the initiating function's caller; deferring
/// always is the one rule, on success and error paths alike.
template <typename Handler, typename Executor, typename... Args>
void complete(Handler handler, const Executor& fallback, Args... args) {
  boost::asio::post(fallback, [h = std::move(handler), fallback, ... a = std::move(args)]() mutable {
    auto executor = boost::asio::get_associated_executor(h, fallback);
    boost::asio::dispatch(executor,
                          [h2 = std::move(h), ... a2 = std::move(a)]() mutable { std::move(h2)(std::move(a2)...); });
  });
}

/// The error of a cancelled operation: a boost::system::system_error whose code is
/// boost::asio::error::operation_aborted (the one rule of srf, ari and mrf).
inline std::exception_ptr operation_aborted() {
  return std::make_exception_ptr(boost::system::system_error(boost::asio::error::operation_aborted));
}

/// True when `error` is what operation_aborted() makes.
inline bool is_operation_aborted(const std::exception_ptr& error) {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    return e.code() == boost::asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

template <typename Signature>
class Once;

/// Holds an operation's handler and completes it exactly once (later calls do nothing),
/// through complete(). Share it (make_once) between the paths that may finish the
/// operation: success, failure, timeout, cancellation. Every public async operation of
/// astmrf completes with `(std::exception_ptr, T...)`.
template <typename... Rest>
class Once<void(std::exception_ptr, Rest...)>
    : public std::enable_shared_from_this<Once<void(std::exception_ptr, Rest...)>> {
 public:
  /// The type-erased handler it holds.
  using Handler = boost::asio::any_completion_handler<void(std::exception_ptr, Rest...)>;

  /// Takes `handler`; completions are posted to `executor` (see complete()).
  Once(Handler handler, boost::asio::any_io_executor executor)
      : handler_(std::move(handler)), executor_(std::move(executor)) {}
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;
  // No slot clearing on destruction: the signal may be gone, and what the slot keeps
  // (a weak reference) is harmless.
  ~Once() = default;

  /// True once the handler was completed (or cancelled).
  [[nodiscard]] bool done() const noexcept { return !handler_.has_value(); }

  /// Completes the handler with `error` and `rest`; does nothing when it already was.
  void operator()(std::exception_ptr error, Rest... rest) {
    if (!handler_) return;
    // The slot belongs to the caller's signal, which may go away once the handler
    // ran: detach from it first (not from inside its own emit, though).
    if (slot_.is_connected() && !in_cancel_) slot_.clear();
    slot_ = {};
    auto h = std::move(*handler_);
    handler_.reset();
    complete(std::move(h), executor_, std::move(error), std::move(rest)...);
  }

  /// Completes with operation_aborted() and default results.
  void abort() { (*this)(operation_aborted(), Rest{}...); }

  /// Installs a cancellation handler on the handler's cancellation slot, if it has one.
  /// When the slot is emitted while the operation is pending, the operation completes
  /// with operation_aborted() first, then `teardown` runs (it undoes what the operation
  /// built; completions it causes are ignored). Call it once the Once is owned by a
  /// shared_ptr. The slot keeps `teardown` until it is reused: let it capture weakly.
  void on_cancel(std::function<void()> teardown = {}) {
    if (!handler_) return;
    auto slot = boost::asio::get_associated_cancellation_slot(*handler_);
    if (!slot.is_connected()) return;
    slot_ = slot;
    std::weak_ptr<Once> weak = this->weak_from_this();
    slot_.assign([weak, f = std::move(teardown)](boost::asio::cancellation_type type) {
      if (type == boost::asio::cancellation_type::none) return;
      auto self = weak.lock();
      if (!self || self->done()) return;
      self->in_cancel_ = true;  // the slot's handler is running: do not clear it from here
      self->abort();
      if (f) f();
    });
  }

 private:
  std::optional<Handler> handler_;
  boost::asio::any_io_executor executor_;
  boost::asio::cancellation_slot slot_;
  bool in_cancel_{false};
};

/// A shared Once holding `handler`, completing through `executor`.
template <typename Signature>
std::shared_ptr<Once<Signature>> make_once(boost::asio::any_completion_handler<Signature> handler,
                                           boost::asio::any_io_executor executor) {
  return std::make_shared<Once<Signature>>(std::move(handler), std::move(executor));
}

/// A state that ends once with a value (an end reason, say), and who is told: synchronous
/// listeners, and waiters (completion handlers, each cancellable on its own). Setting the
/// value and telling are two steps, so that the owner can tidy up in between; a listener
/// or a waiter that comes after the end gets the value at once.
template <typename T>
class EndState {
 public:
  /// The type-erased handler of a waiter.
  using Handler = boost::asio::any_completion_handler<void(std::exception_ptr, T)>;

  /// Waiters complete through `executor` (see complete()).
  explicit EndState(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

  /// The value, once it ended.
  [[nodiscard]] const std::optional<T>& value() const noexcept { return value_; }
  /// True once it ended.
  [[nodiscard]] bool ended() const noexcept { return value_.has_value(); }

  /// Sets the value; false (and nothing changes) when it had ended already. Call notify() next.
  bool set(T value) {
    if (value_) return false;
    value_ = std::move(value);
    return true;
  }

  /// Tells the listeners and the waiters registered so far, once each.
  void notify() {
    if (!value_) return;
    auto listeners = std::move(listeners_);
    auto waiters = std::move(waiters_);
    listeners_.clear();
    waiters_.clear();
    for (auto& listener : listeners) listener(*value_);
    for (auto& waiter : waiters) (*waiter)(nullptr, *value_);
  }

  /// Drops the listeners without telling them (they may hold what owns this state).
  void clear_listeners() { listeners_.clear(); }

  /// `listener` runs with the value when it ends (at once when it has).
  void on_end(std::function<void(const T&)> listener) {
    if (value_) {
      listener(*value_);
      return;
    }
    listeners_.push_back(std::move(listener));
  }

  /// `handler` completes with the value when it ends (at once when it has); its
  /// cancellation ends this wait only.
  void wait(Handler handler) {
    auto once = make_once(std::move(handler), executor_);
    if (value_) {
      (*once)(nullptr, *value_);
      return;
    }
    std::erase_if(waiters_, [](const auto& w) { return w->done(); });  // cancelled ones
    once->on_cancel();
    waiters_.push_back(std::move(once));
  }

 private:
  boost::asio::any_io_executor executor_;
  std::optional<T> value_;
  std::vector<std::function<void(const T&)>> listeners_;
  std::vector<std::shared_ptr<Once<void(std::exception_ptr, T)>>> waiters_;
};

}  // namespace astmrf::detail
