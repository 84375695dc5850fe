// MediaStream: the core every transport shares. It creates the externalMedia channel (its id
// ours, subscribed before the POST, its StasisStart expected by the server), waits until both
// Asterisk (StasisStart) and the transport (on_ready) are there, then bridges the channel with
// the endpoint's. Incoming audio is cut into 20 ms frames, numbered with losses counted, and
// queued for async_read; outgoing audio is queued and sent one frame per tick of a drift-free
// 20 ms clock, fill when the queue is dry. Everything runs on the endpoint's executor.
#include "transport.hpp"

#include <astmrf/ari/generated/models.hpp>
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/detail/signal.hpp>
#include <astmrf/mrf/bridge.hpp>
#include <astmrf/mrf/stream.hpp>
#include <astmrf/util/log.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <stdexcept>

namespace astmrf::mrf {

std::string_view to_string(StreamTransport transport) noexcept {
  switch (transport) {
    case StreamTransport::rtp: return "rtp";
    case StreamTransport::websocket: return "websocket";
    case StreamTransport::audiosocket: return "audiosocket";
  }
  return "unknown";
}

std::string_view to_string(StreamDirection direction) noexcept {
  switch (direction) {
    case StreamDirection::both: return "both";
    case StreamDirection::in: return "in";
    case StreamDirection::out: return "out";
  }
  return "both";
}

std::string_view to_string(StreamEnd reason) noexcept {
  switch (reason) {
    case StreamEnd::closed: return "closed";
    case StreamEnd::call_ended: return "call_ended";
    case StreamEnd::media_gone: return "media_gone";
    case StreamEnd::media_server_lost: return "media_server_lost";
  }
  return "unknown";
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kFrame = std::chrono::milliseconds(20);

// What a transport can carry; the message says why not.
const char* unsupported(const StreamOptions& o) {
  if (o.transport == StreamTransport::rtp && o.format == AudioFormat::slin)
    return "rtp cannot carry slin (8 kHz linear has no static RTP payload type): use ulaw or alaw";
  // chan_rtp maps only static payload types on receive: slin16 (dynamic 118) from us would be
  // dropped by Asterisk (22.10), so over rtp it can only flow towards the application.
  if (o.transport == StreamTransport::rtp && o.format == AudioFormat::slin16 && o.direction != StreamDirection::in)
    return "rtp carries slin16 towards the application only (direction in): Asterisk drops RTP with a dynamic "
           "payload type on an externalMedia channel; use ulaw or alaw over rtp, or websocket or audiosocket for "
           "16 kHz both ways";
  if (o.transport == StreamTransport::audiosocket && (o.format == AudioFormat::ulaw || o.format == AudioFormat::alaw))
    return "audiosocket carries linear PCM only: use slin or slin16";
  if (o.read_queue_frames == 0) return "read_queue_frames must be at least 1";
  if (o.write_queue_limit < kFrame) return "write_queue_limit must be at least 20 ms";
  return nullptr;
}

}  // namespace

// ------------------------------------------------------------------ state

struct MediaStream::State final : detail::StreamSink {
  using ReadOnce = astmrf::detail::Once<void(std::exception_ptr, AudioFrame)>;
  using WriteOnce = astmrf::detail::Once<void(std::exception_ptr, WriteOutcome)>;
  using OpenOnce = astmrf::detail::Once<void(std::exception_ptr, std::shared_ptr<MediaStream>)>;

  State(MediaStream& owner, boost::asio::any_io_executor ex)
      : self(owner), executor(ex), pacer(ex), open_timer(ex), closed_signal(ex) {}

  MediaStream& self;
  boost::asio::any_io_executor executor;
  std::weak_ptr<MediaServer> server;
  std::shared_ptr<spdlog::logger> log;
  std::unique_ptr<detail::MediaTransport> transport;
  std::shared_ptr<Bridge> bridge;
  ari::Subscription channel_events;
  Subscription endpoint_end;
  std::shared_ptr<OpenOnce> opening;  // until the stream is up
  // The stream itself while it opens (the application holds nothing yet); let go through the
  // executor, never from inside one of the stream's own calls.
  std::shared_ptr<MediaStream> opening_hold;
  bool channel_created{false};  // the POST succeeded: hang it up on close
  bool channel_gone{false};     // Asterisk ended it
  bool in_stasis{false};
  bool transport_ready{false};
  bool bridging{false};
  std::size_t frame{160};

  // ---- in
  std::deque<AudioFrame> in_queue;
  std::shared_ptr<ReadOnce> reader;
  std::vector<std::int16_t> in_partial;  // re-framing of odd-sized input
  std::uint64_t next_sequence{0};
  bool rtp_started{false};
  std::uint16_t rtp_expected{0};
  std::uint32_t rtp_last_ts{0};
  std::uint64_t rtp_media_time{0};

  // ---- out: a flat buffer read from `out_head` (compacted when half of it is consumed)
  std::vector<std::int16_t> out;
  std::size_t out_head{0};
  std::uint64_t written{0};  // samples ever queued (positions of the writes' ends)
  std::uint64_t sent{0};     // samples ever sent or flushed
  std::deque<std::pair<std::uint64_t, std::shared_ptr<WriteOnce>>> writes;
  boost::asio::steady_timer pacer;
  boost::asio::steady_timer open_timer;  // bounds the open
  Clock::time_point next_tick{};
  bool pacing{false};
  std::vector<std::int16_t> frame_buffer;
  std::optional<audio::ComfortNoise> noise;

  StreamStats stats;
  astmrf::detail::Signal<StreamEnd> closed_signal;

  [[nodiscard]] std::size_t queued_out() const noexcept { return out.size() - out_head; }

  // ---- StreamSink

  void on_audio(std::span<const std::int16_t> samples, std::optional<detail::RtpInfo> rtp) override {
    if (self.end_ || self.options_.direction == StreamDirection::out || samples.empty()) return;
    std::uint32_t lost = 0;
    if (rtp) {
      if (!rtp_started) {
        rtp_started = true;
        rtp_last_ts = rtp->timestamp;
      } else {
        const auto delta = static_cast<std::int16_t>(static_cast<std::uint16_t>(rtp->sequence - rtp_expected));
        if (delta < 0) {
          ++stats.late;  // out of order or a duplicate: its place in the stream has passed
          return;
        }
        const auto packet_frames = std::max<std::size_t>(1, samples.size() / frame);
        lost = static_cast<std::uint32_t>(delta) * static_cast<std::uint32_t>(packet_frames);
        rtp_media_time += static_cast<std::uint32_t>(rtp->timestamp - rtp_last_ts);
        rtp_last_ts = rtp->timestamp;
      }
      rtp_expected = static_cast<std::uint16_t>(rtp->sequence + 1);
      if (lost != 0) {
        stats.lost += lost;
        next_sequence += lost;
        in_partial.clear();  // a partial frame before a gap would glue unrelated audio
      }
    }
    const auto now = Clock::now();
    auto deliver = [&](std::span<const std::int16_t> frame_samples, std::uint64_t timestamp) {
      AudioFrame f;
      f.samples.assign(frame_samples.begin(), frame_samples.end());
      f.sequence = next_sequence++;
      f.timestamp = timestamp;
      f.lost_before = lost;
      f.received = now;
      lost = 0;
      ++stats.frames_in;
      push_frame(std::move(f));
    };
    if (in_partial.empty() && samples.size() == frame) {
      deliver(samples, rtp ? rtp_media_time : (next_sequence * frame));
      return;
    }
    in_partial.insert(in_partial.end(), samples.begin(), samples.end());
    std::size_t used = 0;
    while (in_partial.size() - used >= frame) {
      deliver(std::span<const std::int16_t>(in_partial).subspan(used, frame), next_sequence * frame);
      used += frame;
    }
    in_partial.erase(in_partial.begin(), in_partial.begin() + static_cast<std::ptrdiff_t>(used));
  }

  void push_frame(AudioFrame frame_in) {
    if (reader && !reader->done()) {
      auto r = std::move(reader);
      (*r)(nullptr, std::move(frame_in));
      return;
    }
    reader.reset();
    in_queue.push_back(std::move(frame_in));
    if (in_queue.size() > self.options_.read_queue_frames) {
      in_queue.pop_front();
      ++stats.dropped;
    }
  }

  void on_malformed(std::string_view what) override {
    ++stats.malformed;
    // Debug, not warn: a peer sending garbage must not flood the log at the default level.
    log->debug("event=stream_malformed channel_id={} transport={} what={}", self.channel_id_,
               to_string(self.options_.transport), util::quote(what));
  }

  void on_ready() override {
    transport_ready = true;
    maybe_bridge();
  }

  void on_transport_closed(std::string_view why) override {
    log->debug("event=stream_transport_closed channel_id={} transport={} why={}", self.channel_id_,
               to_string(self.options_.transport), util::quote(why));
    fail_open(std::make_exception_ptr(Error("the " + std::string(to_string(self.options_.transport)) +
                                            " media connection ended: " + std::string(why))));
    self.end(StreamEnd::media_gone);
  }

  // ---- opening

  void fail_open(std::exception_ptr error) {
    open_timer.cancel();
    release_hold();
    if (!opening) return;
    auto o = std::move(opening);
    (*o)(std::move(error), nullptr);
  }

  void release_hold() {
    if (opening_hold) boost::asio::post(executor, [hold = std::move(opening_hold)] {});
  }

  // Both Asterisk's StasisStart and the transport are needed before addChannel succeeds.
  void maybe_bridge();

  // ---- pacing

  void start_pacing() {
    if (pacing || self.options_.direction == StreamDirection::in) return;
    pacing = true;
    next_tick = Clock::now();
    tick();
  }

  void tick() {
    if (self.end_) return;
    const auto now = Clock::now();
    const auto behind = now - next_tick;
    if (behind > kFrame / 2) ++stats.late_ticks;
    // After a stall (a busy executor) the schedule restarts from now: frames are never burst
    // out to catch up, which Asterisk would play as a rush of audio.
    if (behind > 3 * kFrame) next_tick = now;
    send_frame();
    next_tick += kFrame;
    pacer.expires_at(next_tick);
    pacer.async_wait([this, alive = std::weak_ptr<MediaStream>(self.weak_from_this())](boost::system::error_code ec) {
      if (ec || alive.expired()) return;
      tick();
    });
  }

  void send_frame() {
    frame_buffer.resize(frame);
    const auto available = queued_out();
    const auto take = std::min(available, frame);
    if (take > 0) {
      std::copy_n(out.begin() + static_cast<std::ptrdiff_t>(out_head), take, frame_buffer.begin());
      out_head += take;
      sent += take;
      if (take < frame) ++stats.underruns;
    } else {
      ++stats.fill_frames_out;
    }
    if (take < frame) fill(std::span<std::int16_t>(frame_buffer).subspan(take));
    if (out_head == out.size()) {
      out.clear();
      out_head = 0;
    } else if (out_head > out.size() / 2 && out_head > 16 * frame) {
      out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(out_head));
      out_head = 0;
    }
    ++stats.frames_out;
    transport->send(frame_buffer);
    complete_writes(WriteOutcome::played);
  }

  void fill(std::span<std::int16_t> rest) {
    if (self.options_.fill == StreamFill::comfort_noise) {
      if (!noise) noise.emplace();
      noise->fill(rest);
    } else {
      std::fill(rest.begin(), rest.end(), std::int16_t{0});
    }
  }

  // Writes whose last sample has gone out (or was flushed) complete.
  void complete_writes(WriteOutcome outcome) {
    while (!writes.empty() && writes.front().first <= sent) {
      auto once = std::move(writes.front().second);
      writes.pop_front();
      (*once)(nullptr, outcome);
    }
  }

  void drop_output() {
    out.clear();
    out_head = 0;
    sent = written;
    complete_writes(WriteOutcome::flushed);
  }
};

// ------------------------------------------------------------------ access to the other objects

namespace detail {

struct StreamAccess {
  static std::shared_ptr<Bridge> bridge_of(const Endpoint& endpoint) { return endpoint.bridge_.lock(); }
  static const std::shared_ptr<spdlog::logger>& log(const MediaServer& server) { return server.log_; }
  static std::map<std::string, std::weak_ptr<MediaStream>>& streams(MediaServer& server) { return server.streams_; }
  static void create_bridge(const std::shared_ptr<MediaServer>& server, BridgeOptions options,
                            std::shared_ptr<Endpoint> endpoint,
                            boost::asio::any_completion_handler<void(std::exception_ptr, std::shared_ptr<Bridge>)> h) {
    Bridge::create(server, std::move(options), {std::move(endpoint)}, std::move(h));
  }
  static void add_channel(Bridge& bridge, std::string channel_id,
                          boost::asio::any_completion_handler<void(std::exception_ptr)> h) {
    bridge.add_channels({std::move(channel_id)}, {}, {}, std::move(h));
  }
};

}  // namespace detail

void MediaStream::State::maybe_bridge() {
  if (!opening || bridging || !in_stasis || !transport_ready || self.end_) return;
  auto media_server = server.lock();
  auto endpoint = self.endpoint_.lock();
  if (!media_server || !endpoint || endpoint->destroyed()) {
    fail_open(std::make_exception_ptr(CallEnded(endpoint ? endpoint->end_reason() : std::nullopt)));
    self.end(StreamEnd::call_ended);
    return;
  }
  bridging = true;
  std::weak_ptr<MediaStream> weak = self.weak_from_this();
  BridgeOptions options;
  options.type = BridgeType::mixing;
  options.name = "astmrf-stream";
  options.destroy_when_empty = true;
  options.dtmf_events = true;  // the caller's DTMF keeps reaching the endpoint's events
  detail::StreamAccess::create_bridge(
      media_server, options, endpoint, [weak](std::exception_ptr error, std::shared_ptr<Bridge> made) {
        auto s = weak.lock();
        if (!s) {
          if (made) made->destroy();
          return;
        }
        auto& st = *s->state_;
        if (error || s->end_) {
          if (made) made->destroy();
          st.fail_open(error ? error : std::make_exception_ptr(StreamClosed(s->end_.value_or(StreamEnd::closed))));
          s->end(StreamEnd::closed);
          return;
        }
        st.bridge = made;
        // A bridge that ends under the stream (destroyed by someone, server lost) ends it.
        made->async_wait_destroyed([weak](std::exception_ptr, BridgeEnd reason) {
          if (auto s2 = weak.lock())
            s2->end(reason == BridgeEnd::media_server_lost ? StreamEnd::media_server_lost : StreamEnd::media_gone);
        });
        detail::StreamAccess::add_channel(*made, s->channel_id_, [weak](std::exception_ptr add_error) {
          auto s2 = weak.lock();
          if (!s2) return;
          auto& st2 = *s2->state_;
          if (add_error || s2->end_) {
            st2.fail_open(add_error ? add_error
                                    : std::make_exception_ptr(StreamClosed(s2->end_.value_or(StreamEnd::closed))));
            s2->end(StreamEnd::closed);
            return;
          }
          st2.log->debug("event=stream_up channel_id={} transport={} format={} bridge_id={}", s2->channel_id_,
                         to_string(s2->options_.transport), to_string(s2->options_.format), st2.bridge->id());
          st2.start_pacing();
          st2.open_timer.cancel();
          st2.release_hold();
          if (auto o = std::move(st2.opening)) (*o)(nullptr, s2);
        });
      });
}

// ------------------------------------------------------------------ MediaStream

MediaStream::MediaStream(StreamOptions options, std::weak_ptr<Endpoint> endpoint)
    : options_(std::move(options)), endpoint_(std::move(endpoint)) {}

MediaStream::~MediaStream() { end(StreamEnd::closed); }

StreamStats MediaStream::stats() const noexcept {
  if (!state_) return {};
  auto s = state_->stats;
  s.queued_out_samples = state_->queued_out();
  s.queued_in_frames = state_->in_queue.size();
  return s;
}

void MediaStream::close() { end(StreamEnd::closed); }

void MediaStream::end(StreamEnd reason) {
  if (end_ || !state_) return;
  end_ = reason;
  auto& st = *state_;
  st.pacer.cancel();
  if (st.transport) st.transport->close();
  st.channel_events.reset();
  st.endpoint_end.reset();
  st.fail_open(std::make_exception_ptr(StreamClosed(reason)));
  st.drop_output();
  if (st.reader && !st.reader->done() && st.in_queue.empty()) {
    auto r = std::move(st.reader);
    (*r)(std::make_exception_ptr(StreamClosed(reason)), AudioFrame{});
  }
  auto server = st.server.lock();
  if (server) {
    auto& streams = detail::StreamAccess::streams(*server);
    if (auto it = streams.find(channel_id_); it != streams.end()) streams.erase(it);
    st.log->debug("event=stream_closed channel_id={} reason={} frames_in={} frames_out={} lost={} malformed={}",
                  channel_id_, to_string(reason), st.stats.frames_in, st.stats.frames_out, st.stats.lost,
                  st.stats.malformed);
    // Hung up whoever ended it: Asterisk keeps an externalMedia channel until told otherwise.
    if (st.channel_created && !st.channel_gone && reason != StreamEnd::media_server_lost && server->connected()) {
      server->ari().channels().async_hangup(ari::channels::Hangup{channel_id_, {}, {}}, [](std::exception_ptr) {});
    }
  }
  if (st.bridge) {
    st.bridge->destroy();
    st.bridge.reset();
  }
  st.closed_signal.emit(reason);
  st.closed_signal.close(std::make_exception_ptr(StreamClosed(reason)));
}

void MediaStream::start_read(ReadHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), state_->executor);
  auto& st = *state_;
  if (options_.direction == StreamDirection::out) {
    (*once)(std::make_exception_ptr(std::logic_error("async_read on an `out` stream")), AudioFrame{});
    return;
  }
  if (st.reader && !st.reader->done()) {
    (*once)(std::make_exception_ptr(std::logic_error("async_read while another read waits")), AudioFrame{});
    return;
  }
  if (!st.in_queue.empty()) {
    auto f = std::move(st.in_queue.front());
    st.in_queue.pop_front();
    (*once)(nullptr, std::move(f));
    return;
  }
  if (end_) {
    (*once)(std::make_exception_ptr(StreamClosed(*end_)), AudioFrame{});
    return;
  }
  once->on_cancel();
  st.reader = std::move(once);
}

void MediaStream::write(std::span<const std::int16_t> samples) {
  if (options_.direction == StreamDirection::in) throw std::logic_error("write on an `in` stream");
  if (end_) throw StreamClosed(*end_);
  auto& st = *state_;
  const auto limit = samples_in(options_.format, options_.write_queue_limit);
  if (st.queued_out() + samples.size() > limit) {
    throw std::length_error("stream write: " + std::to_string(samples.size()) +
                            " samples would exceed the queue limit (" +
                            std::to_string(options_.write_queue_limit.count()) + " ms)");
  }
  st.out.insert(st.out.end(), samples.begin(), samples.end());
  st.written += samples.size();
}

void MediaStream::start_write(std::vector<std::int16_t> samples, WriteHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), state_->executor);
  try {
    write(samples);
  } catch (...) {
    (*once)(std::current_exception(), WriteOutcome::flushed);
    return;
  }
  auto& st = *state_;
  if (st.written <= st.sent) {
    (*once)(nullptr, WriteOutcome::played);
    return;
  }
  std::weak_ptr<MediaStream> weak = weak_from_this();
  once->on_cancel([weak] {
    if (auto s = weak.lock()) s->flush();
  });
  st.writes.emplace_back(st.written, std::move(once));
}

void MediaStream::flush() {
  if (!state_ || end_) return;
  auto& st = *state_;
  const auto dropped = st.queued_out();
  st.drop_output();
  if (st.transport) st.transport->flush();
  st.log->trace("event=stream_flush channel_id={} dropped_samples={}", channel_id_, dropped);
}

Subscription MediaStream::on_dtmf(std::function<void(const DtmfEvent&)> handler) {
  auto endpoint = endpoint_.lock();
  if (!endpoint || end_) return {};
  return endpoint->on_dtmf(std::move(handler));
}

Subscription MediaStream::on_closed(std::function<void(StreamEnd)> handler) {
  if (end_) {
    handler(*end_);
    return {};
  }
  return state_->closed_signal.connect([h = std::move(handler)](const StreamEnd& reason) { h(reason); });
}

// ------------------------------------------------------------------ MediaServer hooks

bool MediaServer::accept_stream(const std::string& channel_id) {
  auto it = streams_.find(channel_id);
  if (it == streams_.end()) return false;
  auto stream = it->second.lock();
  if (!stream || stream->closed()) return false;  // given up already: hung up as a stranger
  stream->state_->in_stasis = true;
  stream->state_->maybe_bridge();
  return true;
}

void MediaServer::lose_streams() {
  auto streams = streams_;
  for (auto& [id, weak] : streams) {
    if (auto stream = weak.lock()) stream->end(StreamEnd::media_server_lost);
  }
}

// ------------------------------------------------------------------ Endpoint::async_open_stream

void Endpoint::start_open_stream(StreamOptions options, StreamHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (const char* why = unsupported(options)) {
    (*once)(std::make_exception_ptr(std::invalid_argument(std::string("open stream: ") + why)), nullptr);
    return;
  }
  if (end_.ended()) {
    (*once)(std::make_exception_ptr(CallEnded(end_.value())), nullptr);
    return;
  }
  auto server = server_.lock();
  if (!server || !server->connected()) {
    (*once)(std::make_exception_ptr(MediaServerUnavailable("the media server is gone")), nullptr);
    return;
  }
  if (bridge_.lock()) {
    (*once)(std::make_exception_ptr(
                std::logic_error("open stream: the endpoint is in a bridge; take it out first (async_unbridge)")),
            nullptr);
    return;
  }
  auto& client = server->ari();
  std::shared_ptr<MediaStream> stream(new MediaStream(options, weak_from_this()));
  stream->channel_id_ = client.make_id("stream");
  stream->state_ = std::make_unique<MediaStream::State>(*stream, executor_);
  auto& st = *stream->state_;
  st.server = server;
  st.log = detail::StreamAccess::log(*server);
  st.frame = stream->frame_samples();
  st.opening = once;
  st.opening_hold = stream;
  std::weak_ptr<MediaStream> weak = stream;

  detail::TransportContext context;
  context.executor = executor_;
  context.format = options.format;
  context.direction = options.direction;
  context.local_address = options.local_address;
  context.ari = &client;
  context.log = st.log;
  context.stream_id = stream->channel_id_;
  context.sink = &st;
  ari::channels::ExternalMedia request;
  request.app = server->app();
  request.channel_id = stream->channel_id_;
  request.format = std::string(to_string(options.format));
  try {
    switch (options.transport) {
      case StreamTransport::rtp: st.transport = detail::make_rtp_transport(std::move(context)); break;
      case StreamTransport::websocket: st.transport = detail::make_websocket_transport(std::move(context)); break;
      case StreamTransport::audiosocket: st.transport = detail::make_audiosocket_transport(std::move(context)); break;
    }
    st.transport->prepare(request);
  } catch (...) {
    st.fail_open(std::current_exception());
    stream->end(StreamEnd::closed);
    return;
  }
  stream->local_endpoint_ = options.transport == StreamTransport::websocket ? std::string() : request.external_host;

  // Subscribe first, then act: the channel's events (and its StasisStart) may precede the answer.
  detail::StreamAccess::streams(*server)[stream->channel_id_] = stream;
  st.channel_events = client.subscribe(
      ari::ResourceKind::channel, stream->channel_id_,
      [weak](const ari::Event& event) {
        if (event.type() != ari::EventType::stasis_end && event.type() != ari::EventType::channel_destroyed) return;
        if (auto s = weak.lock()) {
          s->state_->channel_gone = true;
          s->end(StreamEnd::media_gone);
        }
      },
      [weak](ari::EndReason reason) {
        auto s = weak.lock();
        if (!s) return;
        s->state_->channel_gone = true;
        s->end(reason == ari::EndReason::closed ? StreamEnd::media_server_lost : StreamEnd::media_gone);
      });
  st.endpoint_end = on_destroyed([weak](const EndpointEnd& reason) {
    auto s = weak.lock();
    if (!s) return;
    s->state_->fail_open(std::make_exception_ptr(CallEnded(reason)));
    s->end(StreamEnd::call_ended);
  });
  // The open is bounded like an endpoint's setup: a transport that never connects fails it.
  st.open_timer.expires_after(server->options().setup_timeout);
  st.open_timer.async_wait([weak, ms = server->options().setup_timeout.count()](boost::system::error_code ec) {
    if (ec) return;
    auto s = weak.lock();
    if (!s || !s->state_->opening) return;
    s->state_->fail_open(std::make_exception_ptr(
        MediaSetupTimeout("the stream's media was not up within " + std::to_string(ms) + " ms")));
    s->end(StreamEnd::closed);
  });
  // Cancelling the open undoes it.
  once->on_cancel([weak] {
    if (auto s = weak.lock()) s->end(StreamEnd::closed);
  });

  st.log->debug("event=stream_open call_id={} channel_id={} stream_id={} transport={} format={} direction={} local={}",
                util::quote(call_id_), channel_id_, stream->channel_id_, to_string(options.transport),
                to_string(options.format), to_string(options.direction), util::quote(stream->local_endpoint_));
  // The creating request keeps the stream alive until Asterisk answers (the caller only has the
  // operation so far); afterwards the open's completion hands it over.
  client.channels().async_external_media(request, [stream](std::exception_ptr error, ari::Channel channel) {
    auto& s = *stream->state_;
    if (stream->end_) {
      if (!error) {
        // Closed while Asterisk was creating it: hang the new channel up.
        if (auto server2 = s.server.lock(); server2 && server2->connected()) {
          server2->ari().channels().async_hangup(ari::channels::Hangup{stream->channel_id_, {}, {}},
                                                 [](std::exception_ptr) {});
        }
      }
      return;
    }
    if (error) {
      s.fail_open(error);
      stream->end(StreamEnd::closed);
      return;
    }
    s.channel_created = true;
    s.transport->start(channel);
    // A transport whose media is up at start() (rtp) may already have reported ready.
    s.maybe_bridge();
  });
}

}  // namespace astmrf::mrf
