// A drachtio-server played from a captured transcript: the server's frames are
// sent as captured, the application's frames are read and checked against the
// captured ones byte for byte (all but the message id),
// over a real TCP (or TLS) socket on 127.0.0.1. Ids made by the application
// (message ids) are mapped to the captured ones; everything else the server made
// (transaction ids, dialog ids, tags, Call-IDs) is replayed as captured.
#pragma once

#include "frame_codec.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace astmrf_test::drachtio {

namespace wire = astmrf::srf::drachtio::wire;

struct CapturedFrame {
  int index{0};  ///< 1-based, as "[n]" in the .txt transcript
  bool from_app{false};
  std::string frame;  ///< with its length prefix
};

/// jsonl/<name>.jsonl of the fixture directory.
std::vector<CapturedFrame> load_transcript(const std::string& name);

/// The SIP text of a frame (after the CRLF), or "".
std::string sip_of(const CapturedFrame& frame);

class ScriptedServer {
 public:
  /// Listens on 127.0.0.1:0; with `tls`, every accepted connection is TLS.
  explicit ScriptedServer(boost::asio::io_context& ioc, std::shared_ptr<boost::asio::ssl::context> tls = nullptr);

  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] int accepted() const noexcept { return accepted_; }

  /// Waits for the next connection (the previous one is dropped).
  boost::asio::awaitable<void> accept();
  /// Outbound mode: this "server" connects to the application.
  boost::asio::awaitable<void> connect(std::uint16_t port);
  /// The next frame the application sent; throws on EOF.
  boost::asio::awaitable<wire::Frame> read();
  /// Reads until the application closes; throws if a frame arrives instead.
  boost::asio::awaitable<void> expect_closed();
  boost::asio::awaitable<void> write(std::string bytes);
  void drop();

  /// Replays frames [from, to] (1-based, inclusive; 0 = to the end) except `skip`.
  boost::asio::awaitable<void> replay(const std::vector<CapturedFrame>& transcript, int from, int to,
                                      std::set<int> skip);
  // Not a coroutine: the empty set is made here, never as a temporary of a co_await
  // expression (g++ 12 destroys those twice).
  boost::asio::awaitable<void> replay(const std::vector<CapturedFrame>& transcript, int from = 1, int to = 0) {
    return replay(transcript, from, to, std::set<int>{});
  }

  /// Captured app msgId -> the application's real one.
  std::map<std::string, std::string> ids;

 private:
  boost::asio::io_context& ioc_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  using Stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;
  std::unique_ptr<Stream> stream_;
  std::shared_ptr<boost::asio::ssl::context> plain_;
  wire::FrameDecoder decoder_;
  int accepted_{0};
};

/// Checks that the application's frame is the captured one, byte for byte except
/// its message id; throws with both otherwise. Learns the msgId mapping into `ids`.
void check_app_frame(const wire::Frame& actual, const wire::Frame& expected, std::map<std::string, std::string>& ids);

/// Makes a self-signed certificate for 127.0.0.1 in `dir` (cert.pem, key.pem).
void make_self_signed(const std::string& dir);

}  // namespace astmrf_test::drachtio
