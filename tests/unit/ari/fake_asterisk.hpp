// A loopback stand-in for Asterisk's HTTP server, for unit tests of the ARI client: REST routes
// answered by a test-supplied function, the events WebSocket fed by push(), Basic auth checked like
// Asterisk does (401 + {"message":"Authentication required"}). One thread per connection, blocking
// Beast calls: simple, and independent of the client's io_context.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fake {

struct HttpRequest {
  std::string method;
  std::string target;  // as sent: /ari/...
  std::string body;
  std::string authorization;
  std::string host;
  std::string content_type;
  std::string content_length;  // as sent; empty when absent
  unsigned version = 0;        // 11 for HTTP/1.1
};

struct HttpReply {
  unsigned status = 200;
  std::string body;  // JSON
  std::chrono::milliseconds delay{0};
  bool close = false;  // answer with Connection: close
};

class Asterisk {
 public:
  Asterisk(std::string user, std::string password);
  ~Asterisk();

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  /// Routes "METHOD /ari/path" (without query; a trailing * matches any suffix) to a reply;
  /// unmatched → 404 Resource not found.
  void route(std::string method_and_path, std::function<HttpReply(const HttpRequest&)> fn);
  void route(std::string method_and_path, unsigned status, std::string body);

  /// Sends a text message on every open events WebSocket.
  void push(const std::string& text);
  /// Abruptly closes every events WebSocket (and refuses new ones while `refuse` is set).
  void drop_websockets();
  void refuse_websockets(bool refuse) { refuse_ws_ = refuse; }
  /// Waits until `n` events WebSockets are open.
  bool wait_websockets(std::size_t n, std::chrono::milliseconds timeout);

  std::vector<HttpRequest> requests() const;
  std::vector<std::string> ws_targets() const;
  /// When each events WebSocket upgrade request arrived.
  std::vector<std::chrono::steady_clock::time_point> ws_attempt_times() const;
  std::vector<std::string> ws_authorizations() const;
  std::size_t tcp_accepts() const { return accepts_; }
  std::size_t max_in_flight() const { return max_in_flight_; }

 private:
  struct WsConn;
  void accept_loop();
  void serve(int fd);
  HttpReply dispatch(const HttpRequest& r);

  std::string expected_auth_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> refuse_ws_{false};
  std::atomic<std::size_t> accepts_{0};
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::size_t> max_in_flight_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::function<HttpReply(const HttpRequest&)>> routes_;
  std::vector<HttpRequest> requests_;
  std::vector<std::string> ws_targets_;
  std::vector<std::chrono::steady_clock::time_point> ws_times_;
  std::vector<std::string> ws_auth_;
  std::vector<std::shared_ptr<WsConn>> ws_;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

/// Reads a fixture file (../shared/fixtures/asterisk/<name>).
std::string fixture(const std::string& name);
/// The `event` objects of a *.jsonl fixture timeline (ws-event lines), serialized.
std::vector<std::string> fixture_events(const std::string& name);
/// The body of a curl -i transcript fixture.
std::string fixture_http_body(const std::string& name);

}  // namespace fake
