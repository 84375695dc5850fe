// MediaStream: the call's audio in the application, live, both ways (voice bots: speech
// recognition in, synthesized speech out, barge-in). Asterisk's externalMedia channel is bridged
// with the endpoint's channel, and the library serves the application's side of its media:
//
//   rtp          an RTP socket of ours (chan_rtp, UnicastRTP)
//   websocket    a WebSocket connection to Asterisk's /media/<id> (chan_websocket, Asterisk as
//                the server: no websocket_client.conf needed)
//   audiosocket  a TCP listener of ours that Asterisk connects to (chan_audiosocket)
//
//   auto stream = co_await endpoint->async_open_stream({.transport = mrf::StreamTransport::websocket}, use_awaitable);
//   for (;;) {
//     auto frame = co_await stream->async_read(use_awaitable);   // 20 ms of the caller, linear PCM
//     stream->write(reply);                                      // any length: paced out in 20 ms frames
//     if (caller_speaks) stream->flush();                        // barge-in: queued output dropped now
//   }
//
// Everything runs on the endpoint's executor (no thread of its own): the reads, the socket and
// the 20 ms pacing clock. Call the members there.
#pragma once

#include <astmrf/mrf/audio.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::mrf {

/// How the audio travels between Asterisk and the application.
enum class StreamTransport : std::uint8_t {
  rtp,          ///< RTP over UDP (chan_rtp): ulaw or alaw; slin16 towards the application only
  websocket,    ///< WebSocket binary frames (chan_websocket, Asterisk 22.8+): any format
  audiosocket,  ///< AudioSocket over TCP (chan_audiosocket): slin or slin16 only
};
/// The transport's name, e.g. "websocket".
std::string_view to_string(StreamTransport transport) noexcept;

/// Which way audio flows, from the application's point of view.
enum class StreamDirection : std::uint8_t {
  both,  ///< the caller's audio in, the application's out
  in,    ///< only the caller's audio in (async_write is refused)
  out,   ///< only the application's audio out (async_read is refused)
};
/// The direction's name, e.g. "both".
std::string_view to_string(StreamDirection direction) noexcept;

/// What to fill the outgoing stream with while the application has nothing queued.
enum class StreamFill : std::uint8_t {
  silence,        ///< digital silence
  comfort_noise,  ///< low-level noise (audio::ComfortNoise)
};

/// Options of Endpoint::async_open_stream. A combination the transport cannot carry (slin over
/// rtp, slin16 over rtp both ways or out, ulaw or alaw over audiosocket) is refused with
/// std::invalid_argument before anything is created on Asterisk.
struct StreamOptions {
  /// WebSocket by default: 16 kHz both ways, and Asterisk's own queue smooths our frames.
  StreamTransport transport{StreamTransport::websocket};
  /// The format on the wire; the application reads and writes linear PCM at its rate.
  AudioFormat format{AudioFormat::slin16};
  /// Which way audio flows.
  StreamDirection direction{StreamDirection::both};
  /// What goes out while nothing is queued.
  StreamFill fill{StreamFill::silence};
  /// Frames of the caller's audio kept for async_read; older ones are dropped (counted in
  /// StreamStats::dropped) when the application reads too slowly.
  std::size_t read_queue_frames{50};
  /// Audio kept for output at most; a write beyond it is refused (std::length_error).
  std::chrono::milliseconds write_queue_limit{std::chrono::minutes(10)};
  /// The address our side binds (rtp, audiosocket) — where Asterisk sends to or connects.
  std::string local_address{"127.0.0.1"};
};

/// 20 ms of the caller's audio.
struct AudioFrame {
  /// Linear PCM at the stream's rate (320 samples for slin16, 160 otherwise).
  std::vector<std::int16_t> samples{};
  /// The frame's number in the stream: 0, 1, 2, … with lost frames counted (so a gap in the
  /// numbers is audio that never arrived).
  std::uint64_t sequence{0};
  /// The frame's media time in samples since the stream began (the RTP timestamp's offset
  /// for rtp; sequence × frame size otherwise).
  std::uint64_t timestamp{0};
  /// Frames lost just before this one (0 normally).
  std::uint32_t lost_before{0};
  /// When it arrived.
  std::chrono::steady_clock::time_point received{};
};

/// What became of the samples of one async_write.
enum class WriteOutcome : std::uint8_t {
  played,   ///< every sample was sent to Asterisk
  flushed,  ///< flush() (or the stream's end) dropped some
};

/// Counters of a stream (MediaStream::stats).
struct StreamStats {
  std::uint64_t frames_in{0};         ///< frames of the caller's audio received
  std::uint64_t frames_out{0};        ///< frames sent to Asterisk (audio and fill)
  std::uint64_t fill_frames_out{0};   ///< of which silence or comfort noise, nothing being queued
  std::uint64_t lost{0};              ///< frames that never arrived (sequence gaps)
  std::uint64_t late{0};              ///< frames that arrived out of order or twice (dropped)
  std::uint64_t dropped{0};           ///< frames dropped because the application read too slowly
  std::uint64_t underruns{0};         ///< frames padded because the queue ran dry mid-frame
  std::uint64_t late_ticks{0};        ///< pacing ticks more than half a frame late
  std::uint64_t malformed{0};         ///< packets or messages from Asterisk that made no sense
  std::size_t queued_out_samples{0};  ///< audio waiting to go out, in samples
  std::size_t queued_in_frames{0};    ///< frames waiting for async_read
};

/// Why a stream ended.
enum class StreamEnd : std::uint8_t {
  closed,             ///< close(), or the last handle dropped
  call_ended,         ///< the endpoint ended (the caller hung up, …)
  media_gone,         ///< Asterisk ended the externalMedia channel or its connection
  media_server_lost,  ///< the media server's connection was lost
};
/// The reason's name, e.g. "call_ended".
std::string_view to_string(StreamEnd reason) noexcept;

/// The stream has ended (async_read once the queue is drained, write on a closed stream).
class StreamClosed : public Error {
 public:
  /// The stream ended for `reason`.
  explicit StreamClosed(StreamEnd reason)
      : Error("the media stream has ended (" + std::string(to_string(reason)) + ")"), reason_(reason) {}
  /// Why it ended.
  [[nodiscard]] StreamEnd reason() const noexcept { return reason_; }

 private:
  StreamEnd reason_;
};

/// A live audio stream of an endpoint. Closing it (close(), or dropping the last handle) hangs
/// the externalMedia channel up and destroys its bridge; the endpoint's call stays up. The
/// endpoint's end ends the stream.
class MediaStream : public std::enable_shared_from_this<MediaStream> {
 public:
  /// The options it was opened with.
  [[nodiscard]] const StreamOptions& options() const noexcept { return options_; }
  /// The stream's sample rate (8000 or 16000).
  [[nodiscard]] unsigned sample_rate() const noexcept { return mrf::sample_rate(options_.format); }
  /// Samples per 20 ms frame.
  [[nodiscard]] std::size_t frame_samples() const noexcept {
    return samples_in(options_.format, std::chrono::milliseconds(20));
  }
  /// The externalMedia channel's id on Asterisk.
  [[nodiscard]] const std::string& channel_id() const noexcept { return channel_id_; }
  /// Our side of the media as Asterisk sees it: "127.0.0.1:40000" for rtp (our RTP socket) and
  /// audiosocket (our listener); empty for websocket (we connect to Asterisk).
  [[nodiscard]] const std::string& local_endpoint() const noexcept { return local_endpoint_; }
  /// The endpoint whose audio it carries.
  [[nodiscard]] std::weak_ptr<Endpoint> endpoint() const noexcept { return endpoint_; }
  /// Counters now.
  [[nodiscard]] StreamStats stats() const noexcept;
  /// Whether it has ended.
  [[nodiscard]] bool closed() const noexcept { return end_.has_value(); }
  /// Why it ended, once it has.
  [[nodiscard]] std::optional<StreamEnd> end_reason() const noexcept { return end_; }

  /// The next 20 ms frame of the caller's audio: `(std::exception_ptr, AudioFrame)`. Frames that
  /// arrived while nobody read are queued (StreamOptions::read_queue_frames). Fails with
  /// StreamClosed once the stream has ended and the queue is empty; std::logic_error on an `out`
  /// stream or while another read waits. Cancelling it ends the wait only (operation_aborted).
  template <typename CompletionToken>
  auto async_read(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, AudioFrame)>(
        [this](auto handler) { start_read(ReadHandler(std::move(handler))); }, token);
  }

  /// Queues `samples` (linear PCM at the stream's rate, any length) to be sent in real time, one
  /// 20 ms frame every 20 ms; returns at once. std::logic_error on an `in` stream, StreamClosed on
  /// a closed one, std::length_error beyond StreamOptions::write_queue_limit (nothing is queued).
  void write(std::span<const std::int16_t> samples);
  /// Queues `samples` like write() and completes `(std::exception_ptr, WriteOutcome)` when the
  /// last of them has been sent (played) or dropped (flushed). Cancelling it flushes the stream.
  template <typename CompletionToken>
  auto async_write(std::vector<std::int16_t> samples, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, WriteOutcome)>(
        [this](auto handler, std::vector<std::int16_t> s) {
          start_write(std::move(s), WriteHandler(std::move(handler)));
        },
        token, std::move(samples));
  }
  /// Drops every queued sample at once (barge-in): the next frame out is fill. Writes waiting
  /// complete with WriteOutcome::flushed. Over websocket, Asterisk's own queue is flushed too.
  void flush();

  /// Every DTMF digit of the caller (the endpoint's, whatever the transport).
  [[nodiscard]] Subscription on_dtmf(std::function<void(const DtmfEvent&)> handler);
  /// The stream's end, once (at once if it has ended).
  [[nodiscard]] Subscription on_closed(std::function<void(StreamEnd)> handler);

  /// Ends the stream: the pacing stops, waiting operations complete (reads with StreamClosed once
  /// drained, writes flushed), the externalMedia channel is hung up, its bridge destroyed and the
  /// socket closed. Idempotent.
  void close();
  /// Closes it.
  ~MediaStream();
  MediaStream(const MediaStream&) = delete;
  MediaStream& operator=(const MediaStream&) = delete;

 private:
  friend class Endpoint;
  friend class MediaServer;  // which tells it of its channel's StasisStart and of the server's loss
  friend struct detail::StreamAccess;
  using ReadHandler = boost::asio::any_completion_handler<void(std::exception_ptr, AudioFrame)>;
  using WriteHandler = boost::asio::any_completion_handler<void(std::exception_ptr, WriteOutcome)>;
  MediaStream(StreamOptions options, std::weak_ptr<Endpoint> endpoint);
  void start_read(ReadHandler handler);
  void start_write(std::vector<std::int16_t> samples, WriteHandler handler);
  void end(StreamEnd reason);

  StreamOptions options_;
  std::weak_ptr<Endpoint> endpoint_;
  std::string channel_id_;
  std::string local_endpoint_;
  std::optional<StreamEnd> end_;
  // The rest (transport, pacer, queues, bridge) lives in src/mrf/stream/.
  struct State;
  std::unique_ptr<State> state_;
};

template <typename CompletionToken>
auto Endpoint::async_open_stream(StreamOptions options, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::shared_ptr<MediaStream>)>(
      [this](auto handler, StreamOptions o) { start_open_stream(std::move(o), StreamHandler(std::move(handler))); },
      token, std::move(options));
}

}  // namespace astmrf::mrf
