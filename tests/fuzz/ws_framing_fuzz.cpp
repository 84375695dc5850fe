// libFuzzer target: the engine's SIP-over-WebSocket connection (src/sip/engine/ws_connection.hpp)
// fed bytes from a peer through Beast's in-memory test stream. The first input byte picks:
//   0: a valid upgrade, then the rest as raw bytes (frame headers, masks, lengths, opcodes);
//   1: the rest as the HTTP upgrade request itself;
//   2: a valid upgrade, then masked frames built from the rest (header byte: FIN + opcode,
//      length byte, payload), so that fragmentation, control frames and limits are reached.
// Checked: no crash or sanitizer report; every message delivered is whole text of at most
// max_message_size bytes with parsed == null; the sink hears of the end at most once; and the
// connection answers each message (the write path runs too).
#include "ws_connection.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/_experimental/test/stream.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace {

using astmrf::sip::Message;
using astmrf::sip::Result;
using astmrf::sip::Transport;
using astmrf::sip::WebSocketOptions;
using astmrf::sip::detail::Connection;
using TestStream = boost::beast::test::stream;

constexpr std::size_t kMaxMessage = 1024;

const std::string_view kUpgrade =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: sip\r\n\r\n";

struct Sink : Connection::Sink {
  void on_connection_input(Connection& c, std::string_view raw, Result<Message>* parsed) override {
    if (parsed != nullptr || raw.size() > kMaxMessage || closed > 0) std::abort();
    ++messages;
    c.send("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", {});
  }
  void on_connection_closed(Connection&, boost::system::error_code) override {
    if (++closed > 1) std::abort();
  }
  int messages{0};
  int closed{0};
};

// Client frames: masked (RFC 6455 5.3), with a fixed key.
void append_frame(std::string& out, unsigned char header, std::string_view payload) {
  out += static_cast<char>(header);
  if (payload.size() < 126) {
    out += static_cast<char>(0x80 | payload.size());
  } else {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xff);
  }
  const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  for (auto k : key) out += static_cast<char>(k);
  for (std::size_t i = 0; i < payload.size(); ++i) out += static_cast<char>(payload[i] ^ key[i % 4]);
}

std::string frames_from(std::string_view rest) {
  std::string out;
  while (rest.size() >= 2) {
    const auto header = static_cast<unsigned char>(rest[0]);
    std::size_t length = static_cast<unsigned char>(rest[1]);
    if (length > 250) length = 300 + length * 8;  // now and then beyond one 126 length byte, or the limit
    rest.remove_prefix(2);
    std::string payload(rest.substr(0, length));
    rest.remove_prefix(std::min(length, rest.size()));
    while (payload.size() < length) payload += "INVITE sip:a@b SIP/2.0\r\n";
    payload.resize(length);
    append_frame(out, header, payload);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string input;
  switch (data[0] % 3) {
    case 0: input.append(kUpgrade).append(rest); break;
    case 1: input.append(rest); break;
    default: input.append(kUpgrade).append(frames_from(rest)); break;
  }

  boost::asio::io_context ioc;
  TestStream server(ioc);
  TestStream client(ioc);
  server.connect(client);
  boost::asio::write(client, boost::asio::buffer(input));
  client.close();  // the peer's end: eof once the input is read

  auto sink = std::make_shared<Sink>();
  WebSocketOptions options;
  options.max_message_size = kMaxMessage;
  options.handshake_timeout = std::chrono::milliseconds(200);
  auto connection = std::make_shared<astmrf::sip::detail::WsConnection<TestStream>>(
      std::move(server), Transport::ws, 1, boost::asio::ip::tcp::endpoint{}, sink, options);
  connection->start_accepted();
  ioc.run();
  connection->close();
  return 0;
}
