// One link to one drachtio-server, TCP or TLS: framing, the request/response
// correlation of app frames (by message id), authentication, routes, ping
// keep-alive and, in inbound mode, reconnection with capped back-off (always with
// the same transport: a TLS connection is never re-opened as plain TCP).
#pragma once

#include "frame_codec.hpp"

#include <astmrf/srf/drachtio.hpp>
#include <astmrf/util/backoff.hpp>
#include <astmrf/util/metrics.hpp>
#include <astmrf/util/random.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace astmrf::srf::drachtio {

/// The backend's metrics (null when off) and logger, shared by its connections.
struct Observers {
  Observers(const std::shared_ptr<util::metrics::Registry>& registry, std::shared_ptr<spdlog::logger> logger);
  std::shared_ptr<spdlog::logger> log;  // never null
  std::shared_ptr<util::metrics::Gauge> connected;
  std::shared_ptr<util::metrics::Counter> reconnects;
  std::shared_ptr<util::metrics::Counter> frames_in;
  std::shared_ptr<util::metrics::Counter> frames_out;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  struct Settings {
    std::string secret;
    std::vector<std::string> tags;
    std::chrono::milliseconds ping_interval{0};
    std::chrono::milliseconds ping_timeout{10'000};
    BackoffOptions backoff;
    std::size_t max_frame_bytes{1024 * 1024};
    bool tls{false};
    TlsOptions tls_options;
    std::shared_ptr<const Observers> observers;  // never null once started
  };
  struct Callbacks {
    /// Every frame that is not a response to one of ours (sip, cdr:*).
    std::function<void(Connection&, wire::Frame&)> on_frame;
    std::function<void(Connection&, ConnectionState, const std::string& detail)> on_state;
    /// The routes to (re)send after each authentication.
    std::function<std::vector<std::string>()> routes;
  };
  /// Each response frame to a frame we sent; null when the connection went first.
  using ResponseCallback = std::function<void(const wire::Frame*)>;

  /// Inbound mode: connects to `server` (start()) and reconnects after a loss.
  Connection(boost::asio::any_io_executor executor, ServerAddress server, Settings settings,
             std::shared_ptr<boost::asio::ssl::context> tls_context, Callbacks callbacks);
  /// Outbound mode: drachtio-server connected to us; no reconnection.
  Connection(boost::asio::ip::tcp::socket socket, Settings settings, Callbacks callbacks);
  ~Connection();

  void start();
  void close();
  [[nodiscard]] ConnectionState state() const noexcept { return state_; }
  [[nodiscard]] bool ready() const noexcept { return state_ == ConnectionState::ready; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  /// Sends `<new id>|fields...` (+ CRLF + sip when set). False when not ready.
  bool send(std::vector<std::string> fields, std::optional<std::string> sip, ResponseCallback on_response);
  /// Asks for requests of one method (or a cdr:* type).
  void send_route(const std::string& route);

 private:
  void connect();
  void on_connected(std::uint64_t generation);
  void authenticate(std::uint64_t generation);
  void read(std::uint64_t generation);
  void handle(wire::Frame& frame);
  void write(std::string bytes);
  void write_next(std::uint64_t generation);
  void schedule_ping(std::uint64_t generation);
  void drop(const std::string& why);
  void set_state(ConnectionState state, const std::string& detail);
  void trace_frame(std::string_view direction, const wire::Frame& frame) const;
  [[nodiscard]] boost::asio::ip::tcp::socket& socket() { return stream_->next_layer(); }

  boost::asio::any_io_executor executor_;
  ServerAddress server_;
  Settings settings_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  Callbacks callbacks_;
  bool outbound_{false};
  std::string name_;

  using Stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;
  std::unique_ptr<Stream> stream_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer ping_timer_;
  util::Backoff backoff_;
  // Every (re)connection gets a new generation: completions of an older one are ignored.
  std::uint64_t generation_{0};
  ConnectionState state_{ConnectionState::connecting};
  wire::FrameDecoder decoder_;
  std::array<char, 16 * 1024> read_buffer_{};
  std::deque<std::string> write_queue_;
  bool writing_{false};
  std::map<std::string, ResponseCallback, std::less<>> pending_;
  bool ping_outstanding_{false};
  util::Random random_;  // frame ids (UUIDv4, as drachtio-srf makes them)
};

}  // namespace astmrf::srf::drachtio
