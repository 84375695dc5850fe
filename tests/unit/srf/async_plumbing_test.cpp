// The async plumbing every module shares (include/astmrf/detail/async.hpp): completions
// are deferred, a Once completes its handler exactly once, and a cancellation slot
// completes it with operation_aborted and runs its teardown.
#include <astmrf/detail/async.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using astmrf::detail::make_once;
using Handler = asio::any_completion_handler<void(std::exception_ptr, int)>;

bool aborted(const std::exception_ptr& e) { return astmrf::detail::is_operation_aborted(e); }

TEST(AsyncPlumbing, CompleteNeverRunsInsideTheCall) {
  asio::io_context ioc;
  int got = 0;
  astmrf::detail::complete([&](int v) { got = v; }, ioc.get_executor(), 7);
  EXPECT_EQ(got, 0);  // not inline
  ioc.run();
  EXPECT_EQ(got, 7);
}

TEST(AsyncPlumbing, CompleteRunsOnTheHandlersExecutor) {
  asio::io_context ioc;
  auto strand = asio::make_strand(ioc);
  bool in_strand = false;
  astmrf::detail::complete(asio::bind_executor(strand, [&] { in_strand = strand.running_in_this_thread(); }),
                           ioc.get_executor());
  ioc.run();
  EXPECT_TRUE(in_strand);
}

TEST(AsyncPlumbing, OnceCompletesExactlyOnceAndDeferred) {
  asio::io_context ioc;
  std::vector<int> calls;
  auto once = make_once(Handler([&](std::exception_ptr, int v) { calls.push_back(v); }), ioc.get_executor());
  EXPECT_FALSE(once->done());
  (*once)(nullptr, 1);
  (*once)(nullptr, 2);  // ignored
  once->abort();        // ignored
  EXPECT_TRUE(once->done());
  EXPECT_TRUE(calls.empty());  // deferred, error paths included
  ioc.run();
  EXPECT_EQ(calls, std::vector<int>{1});
}

TEST(AsyncPlumbing, CancellationCompletesWithOperationAbortedThenTearsDown) {
  asio::io_context ioc;
  asio::cancellation_signal signal;
  std::vector<std::string> order;
  std::exception_ptr error;
  int calls = 0;
  auto once = make_once(Handler(asio::bind_cancellation_slot(signal.slot(),
                                                             [&](std::exception_ptr e, int) {
                                                               ++calls;
                                                               error = e;
                                                               order.push_back("handler");
                                                             })),
                        ioc.get_executor());
  once->on_cancel([&] {
    order.push_back("teardown");
    (*once)(nullptr, 5);  // what a teardown's own completion does: nothing
  });
  signal.emit(asio::cancellation_type::terminal);
  EXPECT_TRUE(once->done());
  EXPECT_EQ(order, std::vector<std::string>{"teardown"});  // the handler is deferred
  signal.emit(asio::cancellation_type::terminal);          // a second emit does nothing
  ioc.run();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(aborted(error));
}

TEST(AsyncPlumbing, CancellationAfterCompletionDoesNothing) {
  asio::io_context ioc;
  asio::cancellation_signal signal;
  bool torn_down = false;
  std::exception_ptr error;
  auto once =
      make_once(Handler(asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, int) { error = e; })),
                ioc.get_executor());
  once->on_cancel([&] { torn_down = true; });
  (*once)(nullptr, 1);
  signal.emit(asio::cancellation_type::terminal);
  ioc.run();
  EXPECT_FALSE(torn_down);
  EXPECT_FALSE(error);
}

TEST(AsyncPlumbing, WithoutASlotOnCancelIsANoOp) {
  asio::io_context ioc;
  int calls = 0;
  auto once = make_once(Handler([&](std::exception_ptr, int) { ++calls; }), ioc.get_executor());
  once->on_cancel([] { FAIL(); });
  (*once)(nullptr, 1);
  ioc.run();
  EXPECT_EQ(calls, 1);
}

TEST(AsyncPlumbing, EndStateTellsEachListenerAndWaiterOnceAfterTheOwnerTidiedUp) {
  asio::io_context ioc;
  astmrf::detail::EndState<int> state(ioc.get_executor());
  std::vector<std::string> told;
  state.on_end([&](const int& v) { told.push_back("listener " + std::to_string(v)); });
  state.wait(Handler([&](std::exception_ptr e, int v) {
    EXPECT_FALSE(e);
    told.push_back("waiter " + std::to_string(v));
  }));
  asio::cancellation_signal signal;
  std::exception_ptr cancelled;
  state.wait(Handler(asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, int) { cancelled = e; })));
  signal.emit(asio::cancellation_type::terminal);  // ends that wait only
  EXPECT_TRUE(state.set(7));
  EXPECT_FALSE(state.set(8));  // the first end stays
  EXPECT_TRUE(told.empty());   // set() tells nobody: the owner tidies up first
  state.notify();
  state.notify();  // nobody is told twice
  state.on_end([&](const int& v) { told.push_back("late listener " + std::to_string(v)); });
  state.wait(Handler([&](std::exception_ptr, int v) { told.push_back("late waiter " + std::to_string(v)); }));
  ioc.run();
  EXPECT_EQ(told, (std::vector<std::string>{"listener 7", "late listener 7", "waiter 7", "late waiter 7"}));
  EXPECT_TRUE(aborted(cancelled));
  EXPECT_EQ(state.value(), 7);
}

}  // namespace
