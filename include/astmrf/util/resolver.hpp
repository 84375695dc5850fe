// Host name resolution on an executor (c-ares): no thread, unlike Asio's ip::tcp::resolver,
// whose async_resolve runs getaddrinfo on a hidden one. Used by the ARI client at every
// (re)connect, so that a media server is addressed by name and a moved one is found again.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace astmrf::util {

/// Where and how a Resolver asks.
struct ResolverOptions {
  /// DNS servers, each "ip", "ip:port" or "[ipv6]:port" (port 53 by default). Empty: the
  /// servers of /etc/resolv.conf. Search domains and ndots always come from /etc/resolv.conf.
  std::vector<std::string> servers{};
  /// Time given to one query to one server before the next try.
  std::chrono::milliseconds timeout{2000};
  /// Tries per server. A lookup fails at the latest after timeout × tries.
  int tries{2};
};

/// A host name that could not be resolved.
class ResolveError : public std::runtime_error {
 public:
  /// `reason`: why, as c-ares tells it ("Domain name not found").
  ResolveError(std::string host, std::string reason);
  /// The name that was looked up.
  [[nodiscard]] const std::string& host() const noexcept { return host_; }
  /// Why it failed.
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  std::string host_;
  std::string reason_;
};

/// Resolves host names to addresses, asynchronously, on one executor and without a thread:
/// c-ares's sockets are watched by the executor's reactor and its retries driven by a timer.
/// /etc/hosts is read first (so `localhost` resolves), then DNS. Belongs to the executor given
/// at construction: call it from there only. Destroying it completes the lookups still pending
/// with operation_aborted.
class Resolver {
 public:
  /// The completion signature of async_resolve.
  using Signature = void(std::exception_ptr, std::vector<boost::asio::ip::address>);
  /// The type-erased handler of async_resolve.
  using Handler = boost::asio::any_completion_handler<Signature>;

  /// Throws std::invalid_argument for a malformed server, a timeout ≤ 0 or tries < 1, and
  /// std::runtime_error when c-ares cannot be set up.
  explicit Resolver(boost::asio::any_io_executor executor, ResolverOptions options = {});
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  /// The executor it belongs to.
  [[nodiscard]] const boost::asio::any_io_executor& get_executor() const noexcept;

  /// Resolves `host` to its addresses, IPv4 ones first, without duplicates. An IP literal
  /// ("192.0.2.1", "::1", "[::1]") completes at once, without any lookup (yet never inside
  /// this call). Completes with ResolveError when the name has no address or no server
  /// answered; with a boost::system::system_error of operation_aborted when the token's
  /// cancellation slot is emitted or the Resolver is destroyed first.
  template <typename CompletionToken>
  auto async_resolve(std::string host, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, Signature>(
        [this](auto handler, std::string h) { start_resolve(std::move(h), Handler(std::move(handler))); }, token,
        std::move(host));
  }

 private:
  class Impl;
  void start_resolve(std::string host, Handler handler);

  // Shared so that the reactor's and the timer's handlers, which may run after the Resolver
  // is gone, can tell (they hold it weakly).
  std::shared_ptr<Impl> impl_;
};

}  // namespace astmrf::util
