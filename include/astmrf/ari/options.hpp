// Configuration of an ari::Client.
#pragma once

#include <astmrf/util/backoff.hpp>
#include <astmrf/util/observability_fwd.hpp>
#include <astmrf/util/resolver.hpp>
#include <astmrf/util/tls.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace astmrf::ari {

/// TLS settings, used when the URL is https:// (the events WebSocket then uses wss://).
/// The same settings apply to every connection and every reconnect: TLS is never dropped.
/// (The same type as srf::drachtio::TlsOptions.)
using TlsOptions = util::TlsOptions;

/// Reconnection of the events WebSocket: retried forever, exponential, capped, jittered.
/// (The same type as srf::drachtio::BackoffOptions.)
using BackoffOptions = util::BackoffOptions;

/// Event type filter applied to every app (PUT /applications/{app}/eventFilter) on each connect.
struct EventFilter {
  std::vector<std::string> allowed;     ///< event types to receive (empty: all)
  std::vector<std::string> disallowed;  ///< event types to drop
};

/// Options of an ari::Client.
struct ClientOptions {
  /// Base URL of Asterisk's HTTP server: "http://127.0.0.1:8088" or "https://host:8089".
  /// A trailing "/ari" is accepted. Credentials in the URL are rejected (use user/password).
  std::string url;
  /// An ari.conf user.
  std::string user;
  std::string password;  ///< sent only in the Basic Authorization header; never logged
  /// Stasis applications registered by the events WebSocket. Empty: REST only, no events.
  std::vector<std::string> apps;
  /// Receive every event of the system (ARI's subscribeAll). Off by default: every channel, bridge
  /// and endpoint event of the whole Asterisk then reaches this client, most of them for other
  /// applications' resources, and a busy server floods the events socket.
  bool subscribe_all = false;
  /// Optional event filter applied to each app after every (re)connect.
  EventFilter event_filter;
  /// Keep-alive HTTP connections used concurrently for REST calls.
  std::size_t pool_size = 8;
  /// Default deadline of a REST call (queueing for a connection included); Request::timeout overrides it.
  std::chrono::milliseconds request_timeout{10'000};
  /// Deadline of a TCP/TLS connect + WebSocket handshake.
  std::chrono::milliseconds connect_timeout{5'000};
  /// WebSocket liveness: a ping is sent after half of this without traffic, and the connection is
  /// declared dead (and reconnected) when nothing at all arrived for this long.
  std::chrono::milliseconds ws_idle_timeout{10'000};
  /// Reconnection delays of the events WebSocket.
  BackoffOptions reconnect;
  /// Certificate checks for https:// URLs.
  TlsOptions tls;
  /// How the URL's host name is resolved (c-ares, on the client's executor; /etc/hosts, then the
  /// DNS servers given here or those of /etc/resolv.conf). It is resolved again at every connect
  /// of a REST connection or of the events WebSocket, so a media server that moved (a container
  /// restarted elsewhere) is found again on reconnect. An IP literal in the URL is used as is.
  util::ResolverOptions resolver{};
  /// Logger; null uses spdlog's default logger. Lines are key=value (`event=ari_...  server=...`):
  /// info for connection state changes, warn for failures, debug for unusual events, trace for
  /// every REST request and every event received. The password and the Authorization header
  /// never appear in any line, at any level.
  std::shared_ptr<spdlog::logger> logger;
  /// Metrics registry (null: metrics off, nothing is counted). The client registers
  /// astmrf_ari_requests_total{server,family,status}, astmrf_ari_request_duration_seconds{server,family},
  /// astmrf_ari_events_total{server,type}, astmrf_ari_event_decode_errors_total{server},
  /// astmrf_ari_websocket_up{server} and astmrf_ari_reconnects_total{server} (docs/observability.md).
  std::shared_ptr<util::metrics::Registry> metrics;
  /// The `server` label of the metrics and the `server=` field of log lines (empty: the URL's
  /// host:port, e.g. "127.0.0.1:8088"). Give each client of one registry its own name.
  std::string metrics_name;
};

}  // namespace astmrf::ari
