// Signal: a repeating event with RAII handler registrations and one-shot waits.
// An object that publishes events (an mrf::Endpoint's DTMF, say) owns one Signal per
// event type; closing it when the object ends drops every handler and fails every wait.
#pragma once

#include <astmrf/detail/async.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

namespace astmrf::detail {

/// What a SignalConnection points back to: a table of handlers it can leave.
class SlotTable {
 public:
  virtual ~SlotTable() = default;
  virtual void remove(std::uint64_t id) noexcept = 0;
  [[nodiscard]] virtual bool holds(std::uint64_t id) const noexcept = 0;
};

/// RAII handle of a handler registered on a Signal. Destroying or reset()-ing it removes the
/// handler; it also goes inactive by itself when the signal closes (its owner ended). Safe to
/// outlive the signal and its owner. Move-only.
class SignalConnection {
 public:
  SignalConnection() = default;
  /// Made by Signal::connect.
  SignalConnection(std::weak_ptr<SlotTable> table, std::uint64_t id) noexcept : table_(std::move(table)), id_(id) {}
  /// Takes over `o`'s registration.
  SignalConnection(SignalConnection&& o) noexcept : table_(std::move(o.table_)), id_(std::exchange(o.id_, 0)) {}
  /// Drops the current registration and takes over `o`'s.
  SignalConnection& operator=(SignalConnection&& o) noexcept {
    if (this != &o) {
      reset();
      table_ = std::move(o.table_);
      id_ = std::exchange(o.id_, 0);
    }
    return *this;
  }
  SignalConnection(const SignalConnection&) = delete;
  SignalConnection& operator=(const SignalConnection&) = delete;
  ~SignalConnection() { reset(); }

  /// Removes the handler now. Idempotent.
  void reset() noexcept {
    if (auto table = table_.lock(); table && id_ != 0) table->remove(id_);
    table_.reset();
    id_ = 0;
  }
  /// True while the handler is registered.
  [[nodiscard]] bool active() const noexcept {
    auto table = table_.lock();
    return table && id_ != 0 && table->holds(id_);
  }

 private:
  std::weak_ptr<SlotTable> table_;
  std::uint64_t id_ = 0;
};

/// Handlers of one event type plus one-shot waits for the next event.
template <typename Event>
class Signal {
 public:
  /// The handler type.
  using Handler = std::function<void(const Event&)>;
  /// The type-erased completion handler of a wait.
  using WaitHandler = boost::asio::any_completion_handler<void(std::exception_ptr, Event)>;

  /// Waits complete through `executor` (see complete()).
  explicit Signal(boost::asio::any_io_executor executor)
      : executor_(std::move(executor)), table_(std::make_shared<Table>()) {}
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;

  /// Registers `handler` for every event until the connection is dropped or the signal closes.
  /// On a closed signal the connection is inactive at once.
  [[nodiscard]] SignalConnection connect(Handler handler) {
    if (closed_) return {};
    const auto id = ++table_->next;
    table_->handlers.emplace(id, std::move(handler));
    return SignalConnection(table_, id);
  }

  /// Completes with the next event; with `closed_error` if the signal closes first (at once if it
  /// is closed). Cancelling it ends this wait only.
  void wait(WaitHandler handler) {
    auto once = make_once(std::move(handler), executor_);
    if (closed_) {
      (*once)(closed_error_, Event{});
      return;
    }
    std::erase_if(waiters_, [](const auto& w) { return w->done(); });  // cancelled ones
    once->on_cancel();
    waiters_.push_back(std::move(once));
  }

  /// Tells every handler, then completes every wait registered so far.
  void emit(const Event& event) {
    if (closed_) return;
    // A handler may drop connections (its own included) or register new ones: iterate a copy.
    auto handlers = table_->handlers;
    for (auto& [id, handler] : handlers) {
      if (table_->handlers.contains(id)) handler(event);
    }
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& waiter : waiters) (*waiter)(nullptr, event);
  }

  /// Drops every handler and fails every wait (now and later) with `error`. Idempotent.
  void close(std::exception_ptr error) {
    if (closed_) return;
    closed_ = true;
    closed_error_ = std::move(error);
    table_->handlers.clear();  // they may hold what owns this signal
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& waiter : waiters) (*waiter)(closed_error_, Event{});
  }

  /// True once closed.
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// Registered handlers (for tests and leak checks).
  [[nodiscard]] std::size_t size() const noexcept { return table_->handlers.size(); }

 private:
  struct Table final : SlotTable {
    void remove(std::uint64_t id) noexcept override { handlers.erase(id); }
    [[nodiscard]] bool holds(std::uint64_t id) const noexcept override { return handlers.contains(id); }
    std::map<std::uint64_t, Handler> handlers;
    std::uint64_t next = 0;
  };
  boost::asio::any_io_executor executor_;
  std::shared_ptr<Table> table_;
  std::vector<std::shared_ptr<Once<void(std::exception_ptr, Event)>>> waiters_;
  bool closed_{false};
  std::exception_ptr closed_error_;
};

}  // namespace astmrf::detail
