// util::Resolver without a DNS server of its own: IP literals, /etc/hosts, cancellation,
// destruction, option checks, and the timeout of a server that never answers (a UDP socket
// of the test's own, bound to 127.0.0.1, that reads nothing).
#include "resolver_test_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/udp.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

namespace {

using namespace astmrf_test::resolver;
using std::chrono::milliseconds;

// A DNS "server" that receives queries and never answers: every lookup sent to it times out.
struct SilentServer {
  explicit SilentServer(asio::io_context& ioc)
      : socket(ioc, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(socket.local_endpoint().port()); }
  asio::ip::udp::socket socket;
};

TEST(UtilResolver, IpLiteralsCompleteWithoutLookup) {
  asio::io_context ioc;
  SilentServer silent(ioc);  // a lookup would take the whole 5 s timeout
  util::Resolver resolver(ioc.get_executor(),
                          {.servers = {silent.address()}, .timeout = milliseconds(5000), .tries = 1});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"192.0.2.7", "192.0.2.7"}, {"::1", "::1"}, {"[2001:db8::5]", "2001:db8::5"}, {"127.0.0.1", "127.0.0.1"}};
  for (const auto& [host, expected] : cases) {
    const auto start = Clock::now();
    auto outcome = resolve(ioc, resolver, host);
    ASSERT_TRUE(outcome.done) << host;
    ASSERT_FALSE(outcome.error) << host << ": " << what(outcome.error);
    ASSERT_EQ(outcome.addresses.size(), 1u) << host;
    EXPECT_EQ(outcome.addresses.front().to_string(), expected);
    EXPECT_LT(Clock::now() - start, milliseconds(500)) << host;
  }
}

TEST(UtilResolver, NeverCompletesInsideTheCall) {
  asio::io_context ioc;
  util::Resolver resolver(ioc.get_executor());
  bool done = false;
  resolver.async_resolve("127.0.0.1", [&](std::exception_ptr, Addresses) { done = true; });
  resolver.async_resolve("", [&](std::exception_ptr, Addresses) { done = true; });
  EXPECT_FALSE(done);
  ioc.run();
  EXPECT_TRUE(done);
}

TEST(UtilResolver, EmptyNameIsAResolveError) {
  asio::io_context ioc;
  util::Resolver resolver(ioc.get_executor());
  auto outcome = resolve(ioc, resolver, "");
  ASSERT_TRUE(outcome.done);
  EXPECT_THROW(std::rethrow_exception(outcome.error), util::ResolveError);
}

TEST(UtilResolver, LocalhostComesFromEtcHosts) {
  asio::io_context ioc;
  SilentServer silent(ioc);  // /etc/hosts is read first: no DNS query may be needed
  util::Resolver resolver(ioc.get_executor(),
                          {.servers = {silent.address()}, .timeout = milliseconds(5000), .tries = 1});
  const auto start = Clock::now();
  auto outcome = resolve(ioc, resolver, "localhost");
  ASSERT_TRUE(outcome.done);
  ASSERT_FALSE(outcome.error) << what(outcome.error);
  ASSERT_FALSE(outcome.addresses.empty());
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
  for (const auto& a : outcome.addresses) EXPECT_TRUE(a.is_loopback()) << a.to_string();
  const bool any_v4 =
      std::any_of(outcome.addresses.begin(), outcome.addresses.end(), [](const auto& a) { return a.is_v4(); });
  if (any_v4) {
    EXPECT_EQ(outcome.addresses.front().to_string(), "127.0.0.1");  // IPv4 first
  }
}

TEST(UtilResolver, SilentServerTimesOutWithinTimeoutTimesTries) {
  asio::io_context ioc;
  SilentServer silent(ioc);
  util::Resolver resolver(ioc.get_executor(),
                          {.servers = {silent.address()}, .timeout = milliseconds(200), .tries = 2});
  const auto start = Clock::now();
  auto outcome = resolve(ioc, resolver, "ms1.astmrf.test.");
  const auto elapsed = Clock::now() - start;
  ASSERT_TRUE(outcome.done);
  try {
    std::rethrow_exception(outcome.error);
  } catch (const util::ResolveError& e) {
    EXPECT_EQ(e.host(), "ms1.astmrf.test.");
    EXPECT_EQ(e.reason(), "Timeout while contacting DNS servers");
    EXPECT_EQ(std::string(e.what()), "cannot resolve 'ms1.astmrf.test.': Timeout while contacting DNS servers");
  } catch (...) {
    FAIL() << "not a ResolveError: " << what(outcome.error);
  }
  EXPECT_GE(elapsed, milliseconds(150));
  EXPECT_LT(elapsed, milliseconds(400 + 250));  // timeout × tries, with some slack
}

TEST(UtilResolver, ClosedPortFailsFast) {
  asio::io_context ioc;
  std::string closed;
  {
    SilentServer gone(ioc);  // a port that was free a moment ago: ICMP port unreachable
    closed = gone.address();
  }
  util::Resolver resolver(ioc.get_executor(), {.servers = {closed}, .timeout = milliseconds(2000), .tries = 2});
  const auto start = Clock::now();
  auto outcome = resolve(ioc, resolver, "ms1.astmrf.test.");
  ASSERT_TRUE(outcome.done);
  EXPECT_THROW(std::rethrow_exception(outcome.error), util::ResolveError);
  EXPECT_LT(Clock::now() - start, milliseconds(4000 + 250));
}

TEST(UtilResolver, CancellationCompletesAtOnceWithOperationAborted) {
  asio::io_context ioc;
  SilentServer silent(ioc);
  util::Resolver resolver(ioc.get_executor(),
                          {.servers = {silent.address()}, .timeout = milliseconds(300), .tries = 1});
  asio::cancellation_signal signal;
  int calls = 0;
  std::exception_ptr error;
  resolver.async_resolve("ms1.astmrf.test.",
                         asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, Addresses) {
                           ++calls;
                           error = e;
                         }));
  const auto start = Clock::now();
  asio::post(ioc, [&] { signal.emit(asio::cancellation_type::terminal); });
  run_until(
      ioc, [&] { return calls > 0; }, milliseconds(5000));
  EXPECT_LT(Clock::now() - start, milliseconds(200));
  ASSERT_EQ(calls, 1);
  EXPECT_TRUE(astmrf::detail::is_operation_aborted(error)) << what(error);
  // c-ares gives up later (timeout): that late answer must not complete the handler again.
  run_until(
      ioc, [] { return false; }, milliseconds(600));
  EXPECT_EQ(calls, 1);
  // The resolver still works after a cancelled lookup.
  auto outcome = resolve(ioc, resolver, "10.0.0.1");
  ASSERT_FALSE(outcome.error) << what(outcome.error);
}

TEST(UtilResolver, DestructionCompletesPendingLookupsWithOperationAborted) {
  asio::io_context ioc;
  SilentServer silent(ioc);
  auto resolver = std::make_unique<util::Resolver>(
      ioc.get_executor(),
      util::ResolverOptions{.servers = {silent.address()}, .timeout = milliseconds(5000), .tries = 1});
  int calls = 0;
  std::vector<std::exception_ptr> errors;
  for (const char* host : {"a.astmrf.test.", "b.astmrf.test."}) {
    resolver->async_resolve(host, [&](std::exception_ptr e, Addresses) {
      ++calls;
      errors.push_back(e);
    });
  }
  run_until(
      ioc, [] { return false; }, milliseconds(50));  // the queries are out
  EXPECT_EQ(calls, 0);
  resolver.reset();
  EXPECT_EQ(calls, 0);  // posted, not run from the destructor
  run_until(
      ioc, [&] { return calls == 2; }, milliseconds(1000));
  ASSERT_EQ(calls, 2);
  for (const auto& e : errors) EXPECT_TRUE(astmrf::detail::is_operation_aborted(e)) << what(e);
  // Nothing of the resolver is left waiting (its sockets and timers are gone): the
  // io_context runs out of work at once.
  ioc.restart();
  const auto start = Clock::now();
  ioc.run_for(milliseconds(2000));
  EXPECT_TRUE(ioc.stopped());
  EXPECT_LT(Clock::now() - start, milliseconds(500));
}

TEST(UtilResolver, BadOptionsAreInvalidArguments) {
  asio::io_context ioc;
  for (const char* server : {"not-an-ip", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:53x", "[::1",
                             "[::1]53", "", "host.example:53"}) {
    EXPECT_THROW(util::Resolver(ioc.get_executor(), {.servers = {server}}), std::invalid_argument) << server;
  }
  util::ResolverOptions zero_timeout;
  zero_timeout.timeout = milliseconds(0);
  EXPECT_THROW(util::Resolver(ioc.get_executor(), zero_timeout), std::invalid_argument);
  util::ResolverOptions no_tries;
  no_tries.tries = 0;
  EXPECT_THROW(util::Resolver(ioc.get_executor(), no_tries), std::invalid_argument);
  for (const char* server : {"127.0.0.1", "127.0.0.1:5353", "::1", "[::1]", "[::1]:5353"}) {
    EXPECT_NO_THROW(util::Resolver(ioc.get_executor(), {.servers = {server}})) << server;
  }
}

}  // namespace
