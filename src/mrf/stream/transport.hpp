// The seam between a MediaStream (stream.cpp: queues, framing, pacing, the ARI channel and
// bridge) and the way its audio travels (rtp_transport.cpp, websocket_transport.cpp,
// audiosocket_transport.cpp). A transport only moves 20 ms frames of linear PCM to and from
// the wire: it encodes, decodes, and reports what it received, what made no sense, and its end.
#pragma once

#include <astmrf/ari/client.hpp>
#include <astmrf/ari/generated/models.hpp>
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/mrf/stream.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace astmrf::mrf::detail {

/// The RTP header fields the core needs for sequencing (rtp only).
struct RtpInfo {
  std::uint16_t sequence{0};
  std::uint32_t timestamp{0};
};

/// What a transport tells its stream. Every call is made on the stream's executor, never from
/// inside MediaTransport::close() and never after it.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  /// Received audio, decoded to linear PCM at the stream's rate (normally one 20 ms frame; any
  /// length is re-framed by the core). `rtp` is set by the rtp transport.
  virtual void on_audio(std::span<const std::int16_t> samples, std::optional<RtpInfo> rtp) = 0;
  /// Something from Asterisk that made no sense (a short RTP packet, an odd WebSocket text, an
  /// unknown AudioSocket type...): counted in StreamStats::malformed and logged; the transport goes on.
  virtual void on_malformed(std::string_view what) = 0;
  /// The transport can carry media both ways now (rtp: at once after start(); websocket: connected;
  /// audiosocket: Asterisk's connection accepted and its UUID message read).
  virtual void on_ready() = 0;
  /// The transport ended by itself (Asterisk closed it, a read failed, an unrecoverable protocol
  /// error): `why` for the log. Nothing more is sent or received.
  virtual void on_transport_closed(std::string_view why) = 0;
};

/// What a transport is made with.
struct TransportContext {
  boost::asio::any_io_executor executor;
  AudioFormat format{AudioFormat::slin16};
  StreamDirection direction{StreamDirection::both};
  std::string local_address{"127.0.0.1"};  // where rtp and audiosocket bind
  ari::Client* ari{nullptr};               // the media server's client (websocket connects through it)
  std::shared_ptr<spdlog::logger> log;     // never null
  std::string stream_id;                   // our id of the stream (= the externalMedia channel id), for the log
  StreamSink* sink{nullptr};               // valid until close() returns
};

/// One stream's transport. Implementations keep their I/O state in a shared object that their
/// pending operations hold, so destroying the transport while a read is in flight is safe;
/// the destructor calls close().
class MediaTransport {
 public:
  virtual ~MediaTransport() = default;
  /// Before POST /channels/externalMedia: binds or listens as needed and fills the request's
  /// transport fields (external_host, encapsulation, transport, connection_type, data,
  /// transport_data, direction; `format`, `app` and `channel_id` are the core's). Throws on
  /// failure (a bind error: boost::system::system_error).
  virtual void prepare(ari::channels::ExternalMedia& request) = 0;
  /// After the channel is created: `channel` is Asterisk's answer (channelvars hold
  /// UNICASTRTP_LOCAL_ADDRESS/PORT, MEDIA_WEBSOCKET_CONNECTION_ID...). Starts the I/O; on_ready()
  /// follows when media can flow (or on_transport_closed() if it cannot).
  virtual void start(const ari::Channel& channel) = 0;
  /// Sends one 20 ms frame (frame_samples() samples of linear PCM). Never blocks; a frame that
  /// cannot be sent now (a congested TCP connection) is dropped and reported by dropped_out().
  virtual void send(std::span<const std::int16_t> frame) = 0;
  /// Barge-in: drop what the far side has queued (websocket: FLUSH_MEDIA). Default: nothing.
  virtual void flush() {}
  /// Frames send() had to drop so far.
  [[nodiscard]] virtual std::uint64_t dropped_out() const noexcept { return 0; }
  /// Closes the sockets; no sink call after it returns. Idempotent.
  virtual void close() = 0;
};

std::unique_ptr<MediaTransport> make_rtp_transport(TransportContext context);
std::unique_ptr<MediaTransport> make_websocket_transport(TransportContext context);
std::unique_ptr<MediaTransport> make_audiosocket_transport(TransportContext context);

}  // namespace astmrf::mrf::detail
