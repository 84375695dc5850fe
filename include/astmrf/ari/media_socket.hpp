// ari::MediaSocket: a WebSocket to Asterisk's chan_websocket media endpoint,
// `/media/<connection_id>` on Asterisk's HTTP server (the ARI client's host, port and TLS), for
// an externalMedia channel created with transport=websocket, connection_type=server. Binary
// messages carry raw audio in the channel's format; text messages carry chan_websocket's control
// commands and events. No authentication: the connection id is the secret.
//
//   auto socket = co_await client.async_open_media_socket(connection_id, use_awaitable);
//   socket->start([](bool text, std::span<const std::uint8_t> data) { ... }, [](boost::system::error_code) { ... });
//   socket->send_binary(frame);
//
// Belongs to the client's executor; call it there. Writes are queued (one in flight at a time).
#pragma once

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace astmrf::ari {

/// One WebSocket connection to chan_websocket's media endpoint (see the file comment).
class MediaSocket {
 public:
  virtual ~MediaSocket() = default;
  /// Starts reading: `on_message(text, data)` for each message (data valid during the call only),
  /// then `on_closed(ec)` once when the connection ends (Asterisk closed it: websocket::error::closed;
  /// close(): operation_aborted). Call once.
  virtual void start(std::function<void(bool text, std::span<const std::uint8_t> data)> on_message,
                     std::function<void(boost::system::error_code)> on_closed) = 0;
  /// Queues one binary message (copied). Returns false, sending nothing, when more than
  /// `max_queued_messages()` are waiting (a congested connection) or the socket is closed.
  virtual bool send_binary(std::span<const std::uint8_t> data) = 0;
  /// Queues one text message (chan_websocket ignores texts longer than 128 bytes).
  virtual bool send_text(std::string text) = 0;
  /// Messages queued and not yet written.
  [[nodiscard]] virtual std::size_t queued_messages() const noexcept = 0;
  /// The queue's limit (send_* refuse beyond it): 50 (one second of 20 ms frames).
  [[nodiscard]] virtual std::size_t max_queued_messages() const noexcept = 0;
  /// Closes the connection at once (a WebSocket close frame is attempted first, not awaited).
  /// on_closed then runs with operation_aborted unless it ran already. Idempotent.
  virtual void close() = 0;
};

}  // namespace astmrf::ari
