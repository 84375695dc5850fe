// RFC 3263 server location for the engine's requests: NAPTR → SRV → A/AAAA, the transport
// chosen among those the engine listens on, RFC 2782 ordering, and a cache that keeps each
// answer for its TTL. Everything runs on the engine's executor (util::Resolver, c-ares).
#pragma once

#include <astmrf/sip/engine/transport.hpp>
#include <astmrf/sip/spec.hpp>
#include <astmrf/util/random.hpp>
#include <astmrf/util/resolver.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::sip::detail {

/// What to locate: the host part of a SIP URI or of a destination, with what it says.
struct LocateRequest {
  std::string host;                    ///< a name (no trailing dot needed) or an IP literal
  std::optional<std::uint16_t> port;   ///< explicit port: no SRV
  std::optional<Transport> transport;  ///< ;transport= or the destination's prefix
  bool secure{false};                  ///< sips: TLS only
};

/// The LocateRequest of a SIP or SIPS URI; nullopt for another scheme or no host.
std::optional<LocateRequest> locate_request_from_uri(std::string_view uri);
/// The LocateRequest of a destination: "transport:host[:port]" ("tcp:proxy.example.com",
/// "udp:[::1]:5070") or a SIP URI; nullopt when malformed.
std::optional<LocateRequest> locate_request_from_destination(std::string_view text);
/// True for the hosts RFC 6761 reserves as never resolvable (".invalid": browsers' Contacts,
/// RFC 7118), which are reached over the connection they came on only.
bool is_invalid_host(std::string_view host);

/// RFC 2782: `records` ordered by priority, and within one priority by a weighted random
/// draw; targets "." (empty) removed.
std::vector<util::SrvRecord> order_srv(std::vector<util::SrvRecord> records, util::Random& random);

/// The transports an engine can send over (those it listens on).
using TransportSet = std::array<bool, transport_count>;

/// Finds the ordered targets of a request (RFC 3263 4). Belongs to its executor.
class Locator {
 public:
  /// Targets in the order to try; or, when there is none, `error` says why ("Domain name
  /// not found" for NXDOMAIN) and `not_found` is true when the DNS said the name or its
  /// records do not exist (as opposed to no answer).
  struct Result {
    std::vector<PeerAddress> targets;
    std::string error;
    bool not_found{false};
  };
  using Handler = std::function<void(Result)>;

  /// No lookup until the first locate(): the c-ares channel is made then.
  Locator(boost::asio::any_io_executor executor, util::ResolverOptions options, TransportSet available);
  ~Locator();
  Locator(const Locator&) = delete;
  Locator& operator=(const Locator&) = delete;

  /// Locates `request`; `handler` runs later (never inside this call), on the executor, unless
  /// the Locator is destroyed first.
  void locate(LocateRequest request, Handler handler);
  /// Cached answers (A/AAAA, SRV and NAPTR sets).
  [[nodiscard]] std::size_t cache_size() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace astmrf::sip::detail
