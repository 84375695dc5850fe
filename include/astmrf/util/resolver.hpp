// Host name resolution on an executor (c-ares): no thread, unlike Asio's ip::tcp::resolver,
// whose async_resolve runs getaddrinfo on a hidden one. Used by the ARI client at every
// (re)connect, so that a media server is addressed by name and a moved one is found again.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstdint>
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

/// An address with the time the DNS allows it to be kept (0: not to be kept; /etc/hosts and
/// IP literals give 0).
struct AddressRecord {
  /// The address.
  boost::asio::ip::address address;
  /// Its time to live.
  std::chrono::seconds ttl{0};
};

/// One SRV record (RFC 2782).
struct SrvRecord {
  std::uint16_t priority{0};  ///< lower first
  std::uint16_t weight{0};    ///< share within a priority
  std::uint16_t port{0};      ///< the service's port on `target`
  std::string target{};       ///< host name; "." (empty here): the service is not offered
};

/// One NAPTR record (RFC 3403), as RFC 3263 uses them.
struct NaptrRecord {
  std::uint16_t order{0};       ///< lower first
  std::uint16_t preference{0};  ///< lower first, within an order
  std::string flags{};          ///< "s": the replacement is an SRV name
  std::string service{};        ///< "SIP+D2U", "SIP+D2T", "SIPS+D2T"...
  std::string regexp{};         ///< a rewrite rule (SIP uses none: only "s" records are followed)
  std::string replacement{};    ///< the next name to look up (no trailing dot)
};

/// A host name that could not be resolved.
class ResolveError : public std::runtime_error {
 public:
  /// `reason`: why, as c-ares tells it ("Domain name not found"). `not_found`: the name does
  /// not exist (NXDOMAIN) or has no record of the type asked, as opposed to no answer.
  ResolveError(std::string host, std::string reason, bool not_found = false);
  /// The name that was looked up.
  [[nodiscard]] const std::string& host() const noexcept { return host_; }
  /// Why it failed.
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }
  /// True when the DNS answered that the name or the record does not exist (NXDOMAIN,
  /// NODATA); false when no server answered or the answer was unusable.
  [[nodiscard]] bool not_found() const noexcept { return not_found_; }

 private:
  std::string host_;
  std::string reason_;
  bool not_found_;
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
  /// The completion signature of async_resolve_records: the addresses with their TTLs.
  using RecordsSignature = void(std::exception_ptr, std::vector<AddressRecord>);
  /// The completion signature of async_query_srv: the records and the TTL of the set.
  using SrvSignature = void(std::exception_ptr, std::vector<SrvRecord>, std::chrono::seconds);
  /// The completion signature of async_query_naptr: the records and the TTL of the set.
  using NaptrSignature = void(std::exception_ptr, std::vector<NaptrRecord>, std::chrono::seconds);

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

  /// async_resolve, each address with its TTL (the order and the errors of async_resolve).
  template <typename CompletionToken>
  auto async_resolve_records(std::string host, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, RecordsSignature>(
        [this](auto handler, std::string h) {
          start_resolve_records(std::move(h),
                                boost::asio::any_completion_handler<RecordsSignature>(std::move(handler)));
        },
        token, std::move(host));
  }

  /// The SRV records of `name` ("_sip._udp.example.com"), as the DNS gives them (no
  /// sorting: RFC 2782 selection is the caller's), with the smallest TTL among them. DNS only
  /// (no /etc/hosts, no search domains). ResolveError when there are none (not_found()) or no
  /// server answered.
  template <typename CompletionToken>
  auto async_query_srv(std::string name, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, SrvSignature>(
        [this](auto handler, std::string n) {
          start_query_srv(std::move(n), boost::asio::any_completion_handler<SrvSignature>(std::move(handler)));
        },
        token, std::move(name));
  }

  /// The NAPTR records of `name`, as async_query_srv does for SRV.
  template <typename CompletionToken>
  auto async_query_naptr(std::string name, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, NaptrSignature>(
        [this](auto handler, std::string n) {
          start_query_naptr(std::move(n), boost::asio::any_completion_handler<NaptrSignature>(std::move(handler)));
        },
        token, std::move(name));
  }

 private:
  class Impl;
  void start_resolve(std::string host, Handler handler);
  void start_resolve_records(std::string host, boost::asio::any_completion_handler<RecordsSignature> handler);
  void start_query_srv(std::string name, boost::asio::any_completion_handler<SrvSignature> handler);
  void start_query_naptr(std::string name, boost::asio::any_completion_handler<NaptrSignature> handler);

  // Shared so that the reactor's and the timer's handlers, which may run after the Resolver
  // is gone, can tell (they hold it weakly).
  std::shared_ptr<Impl> impl_;
};

}  // namespace astmrf::util
