// A TCP relay on 127.0.0.1 in front of a local server (an Asterisk's ARI port, say) whose
// behaviour a fault test switches at run time:
//
//   pass       relays bytes both ways (half-closes are passed on).
//   reset      closes every current connection at once with a TCP RST (SO_LINGER 0), both
//              the client's and the upstream side, and answers each new connection by
//              accepting and resetting it: a peer that is gone.
//   blackhole  keeps every connection open but drops what arrives in both directions; new
//              connections are accepted, get no upstream and swallow their bytes: a hung
//              peer or a dead network, which only timeouts detect. Such a connection stays
//              a black hole after a switch back to pass; connections made in pass resume.
//
// Threading: the proxy runs its own io_context on its own thread, started by the
// constructor and joined by the destructor. Every public member is thread-safe;
// set_mode() returns once the mode is in force (after reset: once the sockets are closed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace astmrf_test {

enum class TcpProxyMode { pass, reset, blackhole };

std::string_view to_string(TcpProxyMode mode);

class TcpProxy {
 public:
  // Relays 127.0.0.1:<listen_port> (0: a port the OS chooses) to 127.0.0.1:<target_port>.
  // Throws if the listen port cannot be bound.
  explicit TcpProxy(std::uint16_t target_port, std::uint16_t listen_port = 0, TcpProxyMode mode = TcpProxyMode::pass);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  std::uint16_t port() const;
  std::uint16_t target_port() const;

  void set_mode(TcpProxyMode mode);
  TcpProxyMode mode() const;
  void pass() { set_mode(TcpProxyMode::pass); }
  void reset() { set_mode(TcpProxyMode::reset); }
  void blackhole() { set_mode(TcpProxyMode::blackhole); }

  // Client connections accepted and not yet closed (a reset answer is not counted).
  std::size_t connections() const;
  // Client connections accepted so far, reset answers included.
  std::size_t accepted() const;

 private:
  struct Impl;
  friend struct TcpProxyConnection;
  std::unique_ptr<Impl> impl_;
};

}  // namespace astmrf_test
