// detail::Signal (include/astmrf/detail/signal.hpp): the repeating events of an mrf::Endpoint.
// Handlers stay while their connection lives; waits take the next event; closing drops the
// handlers (they may hold the owner) and fails every wait, now and later.
#include <astmrf/detail/signal.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using astmrf::detail::Signal;
using astmrf::detail::SignalConnection;
using WaitHandler = Signal<int>::WaitHandler;

TEST(Signal, HandlersRunWhileTheirConnectionLives) {
  asio::io_context ioc;
  Signal<int> signal(ioc.get_executor());
  std::vector<int> seen;
  auto connection = signal.connect([&](const int& v) { seen.push_back(v); });
  EXPECT_TRUE(connection.active());
  signal.emit(1);
  connection.reset();
  EXPECT_FALSE(connection.active());
  signal.emit(2);
  EXPECT_EQ(seen, std::vector<int>{1});
  EXPECT_EQ(signal.size(), 0U);
}

TEST(Signal, DroppingTheConnectionRemovesTheHandler) {
  asio::io_context ioc;
  Signal<int> signal(ioc.get_executor());
  int calls = 0;
  {
    auto scoped = signal.connect([&](const int&) { ++calls; });
  }
  signal.emit(1);
  EXPECT_EQ(calls, 0);
}

TEST(Signal, AHandlerMayDropItsOwnConnectionAndOthers) {
  asio::io_context ioc;
  Signal<int> signal(ioc.get_executor());
  SignalConnection first;
  SignalConnection second;
  int second_calls = 0;
  first = signal.connect([&](const int&) {
    first.reset();
    second.reset();
  });
  second = signal.connect([&](const int&) { ++second_calls; });
  signal.emit(1);  // must not call the handler the first one removed
  EXPECT_EQ(second_calls, 0);
  EXPECT_EQ(signal.size(), 0U);
}

TEST(Signal, AWaitTakesTheNextEventOnly) {
  asio::io_context ioc;
  Signal<int> signal(ioc.get_executor());
  std::vector<int> got;
  signal.emit(1);  // before the wait: not seen
  signal.wait(WaitHandler([&](std::exception_ptr e, int v) {
    EXPECT_FALSE(e);
    got.push_back(v);
  }));
  signal.emit(2);
  signal.emit(3);
  ioc.run();
  EXPECT_EQ(got, std::vector<int>{2});
}

TEST(Signal, CloseDropsHandlersAndFailsWaitsNowAndLater) {
  asio::io_context ioc;
  Signal<int> signal(ioc.get_executor());
  auto holder = std::make_shared<int>(0);
  auto connection = signal.connect([holder](const int&) {});  // holds what owns the signal, say
  std::vector<std::string> errors;
  auto record = [&](std::exception_ptr e, int) {
    try {
      std::rethrow_exception(e);
    } catch (const std::runtime_error& error) {
      errors.emplace_back(error.what());
    }
  };
  signal.wait(WaitHandler(record));
  signal.close(std::make_exception_ptr(std::runtime_error("ended")));
  EXPECT_EQ(holder.use_count(), 1);  // the handler was released
  EXPECT_FALSE(connection.active());
  signal.wait(WaitHandler(record));  // after the close: fails at once
  EXPECT_FALSE(signal.connect([](const int&) {}).active());
  signal.emit(1);  // ignored
  ioc.run();
  EXPECT_EQ(errors, (std::vector<std::string>{"ended", "ended"}));
}

TEST(Signal, CancellingAWaitEndsThatWaitOnly) {
  asio::io_context ioc;
  Signal<int> signal(ioc.get_executor());
  asio::cancellation_signal cancel;
  bool aborted = false;
  int other = 0;
  signal.wait(WaitHandler(asio::bind_cancellation_slot(
      cancel.slot(), [&](std::exception_ptr e, int) { aborted = astmrf::detail::is_operation_aborted(e); })));
  signal.wait(WaitHandler([&](std::exception_ptr, int v) { other = v; }));
  cancel.emit(asio::cancellation_type::terminal);
  signal.emit(5);
  ioc.run();
  EXPECT_TRUE(aborted);
  EXPECT_EQ(other, 5);
}

TEST(Signal, AConnectionMayOutliveTheSignal) {
  asio::io_context ioc;
  SignalConnection connection;
  {
    Signal<int> signal(ioc.get_executor());
    connection = signal.connect([](const int&) {});
  }
  EXPECT_FALSE(connection.active());
  connection.reset();  // harmless
}

}  // namespace
