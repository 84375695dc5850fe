// The IVR's command line (CLI11) and the media servers it names.
#pragma once

#include <astmrf/util/host_port.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace astmrf::ivr {

using util::HostPort;
using util::parse_host_port;  // "host:port" or "[ipv6]:port": the one parser of the library

/// One Asterisk (one pool member): where its ARI and its SIP are.
struct MediaServerAddress {
  HostPort ari;
  bool ari_tls{false};
  HostPort sip;
  unsigned weight{1};  ///< its share of calls under --pool-policy weighted
};

struct IvrOptions {
  /// Embedded SIP engine: UDP and TCP on each address (HOST:PORT or [IPV6]:PORT; repeatable,
  /// e.g. one IPv4 and one IPv6 address for callers of both families).
  std::vector<std::string> listen{"127.0.0.1:5080"};
  std::string drachtio;  ///< host:port:secret of a drachtio-server (instead of the engine)
  std::string ari_url{"http://127.0.0.1:8088"};
  std::string ari_user{"asterisk"};
  std::string ari_password;  ///< never logged
  std::string media_sip{"127.0.0.1:5060"};
  std::vector<std::string> asterisk;  ///< "ARI_URL[,SIP_HOST:PORT][,weight=N]" each; overrides --ari-url/--media-sip
  std::string pool_policy{"round_robin"};  ///< round_robin, least_calls or weighted
  std::vector<std::string> prompt{"sound:hello-world", "sound:vm-enter-num-to-call"};
  std::size_t max_digits{10};
  std::chrono::milliseconds first_digit_timeout{8000};
  std::chrono::milliseconds inter_digit_timeout{4000};
  std::string log_level{"info"};
  std::string log_format{"text"};  ///< text (key=value) or json (one object per line)
  std::string metrics;             ///< HOST:PORT of /metrics, /healthz and /readyz (empty: off)
  unsigned max_calls{0};           ///< exit after this many calls (0: run until SIGINT/SIGTERM)
  unsigned stats_interval_s{10};   ///< an event=stats line this often (0: none)
  /// SIGTERM drains (OPTIONS get 503, calls in progress finish) for at most this long, then
  /// hangs up what is left and exits; 0: SIGTERM stops at once, like SIGINT.
  unsigned drain_timeout_s{30};
  /// While draining, refuse new INVITEs with 503 + Retry-After instead of serving them: right
  /// behind a balancer that retries a 503 on another instance (config/kamailio does).
  bool drain_refuses_calls{false};
  /// A stable name of this instance in a cluster (e.g. "ivr-1"): every pool member's
  /// ConnectOptions::instance_id, so that after a crash the restarted process hangs up the calls
  /// its predecessor left on the Asterisks. Empty: random Stasis application names, no sweep.
  std::string instance_id;
};

/// Parses argv. Returns nothing when the program must exit at once (--help, a
/// bad option) with `exit_code`.
std::optional<IvrOptions> parse_command_line(int argc, char** argv, int& exit_code);

/// The media servers of the pool, in the order given. Throws std::invalid_argument on a
/// malformed URL, address or weight.
std::vector<MediaServerAddress> media_servers(const IvrOptions& options);

}  // namespace astmrf::ivr
