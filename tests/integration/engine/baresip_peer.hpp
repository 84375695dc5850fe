// baresip (Debian's baresip-core) as a SIP over TLS peer for the tests: its own temporary
// config directory (config, accounts), driven through its
// ctrl_tcp module (netstring JSON commands from the menu module, events back). Audio: aubridge both ways (what it
// decodes, it sends back), no sound device.
#pragma once

#include "astmrf_test/process.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <string>

namespace astmrf_test {

class BaresipPeer {
 public:
  struct Options {
    std::string certificate;  ///< certificate and key in one PEM (baresip's sip_certificate)
    std::string ca_file;      ///< CAs it trusts
    std::string user{"bob"};
    /// When set, baresip's accounts line instead of the default (a TLS account that does not register).
    std::string account{};
  };
  /// Its SIP (UDP/TCP) port.
  [[nodiscard]] std::uint16_t sip_port() const { return sip_port_; }
  /// Starts baresip on free loopback ports and connects to its ctrl_tcp (throws on failure).
  explicit BaresipPeer(Options options);
  ~BaresipPeer();
  BaresipPeer(const BaresipPeer&) = delete;
  BaresipPeer& operator=(const BaresipPeer&) = delete;

  /// Its TLS port (baresip listens for TLS on its SIP port + 1).
  [[nodiscard]] std::uint16_t tls_port() const { return static_cast<std::uint16_t>(sip_port_ + 1); }
  /// Sends a ctrl_tcp command ("dial", "hangup", ...); true when baresip answered ok.
  bool command(const std::string& command, const std::string& params = {});
  /// Waits for an event of `type` ("CALL_ESTABLISHED", "CALL_CLOSED", ...); its JSON text, or
  /// empty on time-out.
  std::string wait_event(const std::string& type, std::chrono::milliseconds timeout = std::chrono::seconds(15));
  /// What baresip printed (for failure messages).
  [[nodiscard]] std::string output() const { return process_ ? process_->output() : std::string{}; }

 private:
  std::string read_netstring(std::chrono::steady_clock::time_point deadline);

  std::filesystem::path dir_;
  std::uint16_t sip_port_{0};
  std::uint16_t ctrl_port_{0};
  std::unique_ptr<Process> process_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket ctrl_{ioc_};
  std::deque<std::string> pending_;  // events read while waiting for a command's answer
  int token_{0};
};

}  // namespace astmrf_test
