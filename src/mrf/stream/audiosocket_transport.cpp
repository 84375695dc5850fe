// The audiosocket transport (chan_audiosocket): a TCP listener of ours that Asterisk connects
// to while POST /channels/externalMedia runs. Every message is type(1) + length(uint16,
// big-endian) + payload; audio is little-endian linear PCM, one message per frame, unpaced.
// Asterisk's first message is 0x01 with the channel's UUID (our `data`): that is how we tell
// its connection from any other. It accepts from us only 0x00 (hangup) and 0x10–0x18 (audio);
// anything else hangs the channel up, so nothing else is ever written.
#include "transport.hpp"

#include <astmrf/util/log.hpp>
#include <astmrf/util/random.hpp>
#include <astmrf/util/socket.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <stdexcept>
#include <utility>
#include <vector>

namespace astmrf::mrf::detail {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using util::quote;

constexpr std::uint8_t kHangup = 0x00;
constexpr std::uint8_t kUuid = 0x01;
constexpr std::uint8_t kDtmf = 0x03;
constexpr std::uint8_t kSlin = 0x10;
constexpr std::uint8_t kSlin16 = 0x12;
constexpr std::uint8_t kLastAudio = 0x18;  // slin192
constexpr std::uint8_t kError = 0xff;
constexpr std::size_t kHeaderBytes = 3;
constexpr std::size_t kUuidBytes = 16;
// 20 ms of slin16 is 640 bytes; more than this is no frame of ours (skipped, never stored).
constexpr std::size_t kMaxAudioBytes = 16 * 1024;
// 200 ms of output waiting on a congested socket: beyond it, frames are dropped.
constexpr std::size_t kMaxQueuedFrames = 10;
// Strangers connecting to the listener before Asterisk does: a few at a time, each for 2 s.
constexpr std::size_t kMaxPendingConnections = 8;
constexpr auto kUuidTimeout = std::chrono::seconds(2);
// Asterisk connects during the POST; if it has not identified itself this long after start(), it never will.
constexpr auto kReadyTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxSamplesPerMessage = 0xFFFF / 2;

std::string hex_byte(std::uint8_t value) { return fmt::format("0x{:02x}", value); }

// Asterisk's names (mrf::to_string lives with the audio code, which this file does not need).
std::string_view format_name(AudioFormat format) noexcept {
  switch (format) {
    case AudioFormat::slin16: return "slin16";
    case AudioFormat::slin: return "slin";
    case AudioFormat::ulaw: return "ulaw";
    case AudioFormat::alaw: return "alaw";
  }
  return "?";
}

std::array<std::uint8_t, kUuidBytes> uuid_bytes(std::string_view text) {
  std::array<std::uint8_t, kUuidBytes> out{};
  std::size_t n = 0;
  auto nibble = [](char c) -> std::uint8_t {
    if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<std::uint8_t>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<std::uint8_t>(c - 'A' + 10);
    throw std::invalid_argument("not a UUID");
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '-') continue;
    if (n == kUuidBytes || i + 1 >= text.size()) throw std::invalid_argument("not a UUID");
    out[n++] = static_cast<std::uint8_t>(nibble(text[i]) << 4 | nibble(text[i + 1]));
    ++i;
  }
  if (n != kUuidBytes) throw std::invalid_argument("not a UUID");
  return out;
}

// A connection to the listener whose UUID message is awaited.
struct Candidate {
  explicit Candidate(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
  tcp::socket socket;
  asio::steady_timer timer;
  bool timed_out{false};
};

// The I/O state, held by every pending operation: the transport may go while they finish.
struct State : std::enable_shared_from_this<State> {
  explicit State(TransportContext c)
      : executor(c.executor),
        format(c.format),
        direction(c.direction),
        local_address(std::move(c.local_address)),
        log(std::move(c.log)),
        stream_id(std::move(c.stream_id)),
        sink(c.sink),
        acceptor(executor),
        socket(executor),
        ready_timer(executor) {}

  asio::any_io_executor executor;
  AudioFormat format;
  StreamDirection direction;
  std::string local_address;
  std::shared_ptr<spdlog::logger> log;
  std::string stream_id;
  StreamSink* sink;  // null once closed
  util::Random random;
  std::array<std::uint8_t, kUuidBytes> uuid{};
  std::string uuid_text;

  tcp::acceptor acceptor;
  std::vector<std::shared_ptr<Candidate>> pending;
  tcp::socket socket;  // Asterisk's connection, once its UUID message was read
  asio::steady_timer ready_timer;

  bool closed{false};      // close() was called: no sink call any more
  bool ended{false};       // the transport ended by itself (on_transport_closed was called)
  bool identified{false};  // Asterisk's connection is `socket`
  bool started{false};
  bool ready{false};

  std::deque<std::vector<std::uint8_t>> out;  // front() is being written while `writing`
  bool writing{false};
  std::uint64_t dropped{0};
  std::vector<std::int16_t> decoded;

  [[nodiscard]] bool live() const noexcept { return !closed && !ended; }
  [[nodiscard]] std::uint8_t kind() const noexcept { return format == AudioFormat::slin16 ? kSlin16 : kSlin; }

  void malformed(std::string_view what) {
    log->trace("event=audiosocket_malformed stream_id={} what={}", stream_id, quote(what));
    if (live()) sink->on_malformed(what);
  }

  // Stops listening and drops every connection (the write in flight keeps its buffer: `out`
  // is only cleared by its handler).
  void shut_down() {
    error_code ec;
    acceptor.close(ec);
    for (auto& c : pending) {
      c->timer.cancel();
      c->socket.close(ec);
    }
    pending.clear();
    socket.close(ec);
    ready_timer.cancel();
  }

  // The transport's own end: reported once, and nothing after it.
  void end(std::string_view why) {
    if (!live()) return;
    ended = true;
    shut_down();
    log->debug("event=audiosocket_closed stream_id={} why={}", stream_id, quote(why));
    sink->on_transport_closed(why);
  }

  void close() {
    if (closed) return;
    closed = true;
    sink = nullptr;
    shut_down();
  }

  void remove_pending(const std::shared_ptr<Candidate>& c) { std::erase(pending, c); }

  // The coroutines take the state by value: their frames keep it alive until they end.
  static asio::awaitable<void> accept_loop(std::shared_ptr<State> self) { co_await self->accept_all(); }
  static asio::awaitable<void> identify(std::shared_ptr<State> self, std::shared_ptr<Candidate> c) {
    co_await self->identify_one(std::move(c));
  }
  static asio::awaitable<void> read_loop(std::shared_ptr<State> self) { co_await self->read_all(); }

  asio::awaitable<void> accept_all() {
    while (live() && !identified) {
      tcp::socket peer(executor);
      auto [ec] = co_await acceptor.async_accept(peer, asio::as_tuple(asio::use_awaitable));
      if (!live() || identified) co_return;
      util::close_on_exec(peer);
      if (ec == asio::error::connection_aborted) continue;
      if (ec) {
        end("accepting Asterisk's connection failed: " + ec.message());
        co_return;
      }
      if (pending.size() >= kMaxPendingConnections) {
        malformed("too many connections without a UUID message");
        continue;  // `peer` closes here
      }
      auto c = std::make_shared<Candidate>(std::move(peer));
      pending.push_back(c);
      asio::co_spawn(executor, identify(shared_from_this(), c), asio::detached);
    }
  }

  // Reads a connection's first message: Asterisk's is 0x01 with our UUID.
  asio::awaitable<void> identify_one(std::shared_ptr<Candidate> c) {
    c->timer.expires_after(kUuidTimeout);
    c->timer.async_wait([c](error_code ec) {
      if (ec) return;
      c->timed_out = true;
      error_code ignored;
      c->socket.close(ignored);
    });
    std::array<std::uint8_t, kHeaderBytes + kUuidBytes> message{};
    auto header = asio::buffer(message.data(), kHeaderBytes);
    auto [ec, n] = co_await asio::async_read(c->socket, header, asio::as_tuple(asio::use_awaitable));
    std::string rejected;
    if (!ec) {
      const std::size_t length = static_cast<std::size_t>(message[1]) << 8 | message[2];
      if (message[0] != kUuid) {
        rejected = "first message of type " + hex_byte(message[0]) + " instead of a UUID";
      } else if (length != kUuidBytes) {
        rejected = fmt::format("UUID message of {} bytes", length);
      } else {
        auto body = asio::buffer(message.data() + kHeaderBytes, kUuidBytes);
        auto [ec2, n2] = co_await asio::async_read(c->socket, body, asio::as_tuple(asio::use_awaitable));
        ec = ec2;
        if (!ec && !std::equal(uuid.begin(), uuid.end(), message.begin() + kHeaderBytes)) {
          rejected = "a connection with another UUID";
        }
      }
    }
    c->timer.cancel();
    remove_pending(c);
    if (!live() || identified) co_return;
    if (ec) {
      rejected = c->timed_out ? "no UUID message within 2 s" : "a connection closed before its UUID message";
    }
    if (!rejected.empty()) {
      error_code ignored;
      c->socket.close(ignored);
      malformed(rejected);
      co_return;
    }
    adopt(*c);
  }

  void adopt(Candidate& c) {
    identified = true;
    socket = std::move(c.socket);
    error_code ec;
    acceptor.close(ec);
    for (auto& other : pending) {
      other->timer.cancel();
      other->socket.close(ec);
    }
    pending.clear();
    socket.set_option(tcp::no_delay(true), ec);  // 20 ms frames must not wait for Nagle
    auto peer = socket.remote_endpoint(ec);
    log->debug("event=audiosocket_connected stream_id={} peer={} uuid={}", stream_id,
               quote(ec ? std::string("?") : fmt::format("{}:{}", peer.address().to_string(), peer.port())), uuid_text);
    if (started) become_ready();
  }

  // Once Asterisk's connection is identified and the core has started us.
  void become_ready() {
    if (ready || !live()) return;
    ready = true;
    ready_timer.cancel();
    sink->on_ready();
    if (live()) asio::co_spawn(executor, read_loop(shared_from_this()), asio::detached);
  }

  asio::awaitable<void> read_all() {
    std::array<std::uint8_t, kHeaderBytes> header{};
    std::vector<std::uint8_t> payload(kMaxAudioBytes);
    while (live()) {
      auto header_buffer = asio::buffer(header);
      auto [ec, n] = co_await asio::async_read(socket, header_buffer, asio::as_tuple(asio::use_awaitable));
      if (!live()) co_return;
      if (ec) {
        end(ec == asio::error::eof ? "Asterisk closed the connection" : "read failed: " + ec.message());
        co_return;
      }
      const std::uint8_t type = header[0];
      const std::size_t length = static_cast<std::size_t>(header[1]) << 8 | header[2];
      // The first kMaxAudioBytes are kept; the rest of a longer payload is read over them.
      const std::size_t kept = std::min(length, kMaxAudioBytes);
      std::size_t remaining = length;
      std::uint8_t first = 0;
      while (remaining > 0 && !ec) {
        const std::size_t chunk = std::min(remaining, kMaxAudioBytes);
        auto body = asio::buffer(payload.data(), chunk);
        auto [ec2, n2] = co_await asio::async_read(socket, body, asio::as_tuple(asio::use_awaitable));
        ec = ec2;
        if (remaining == length) first = payload[0];
        remaining -= chunk;
      }
      if (!live()) co_return;
      if (ec) {
        end(ec == asio::error::eof ? "Asterisk closed the connection in a message" : "read failed: " + ec.message());
        co_return;
      }
      handle(type, length, first, std::span<const std::uint8_t>(payload.data(), length == kept ? kept : 0));
    }
  }

  // One message; `body` is empty when it was too long to keep.
  void handle(std::uint8_t type, std::size_t length, std::uint8_t first, std::span<const std::uint8_t> body) {
    if (type == kind()) {
      if (length == 0 || length > kMaxAudioBytes || length % 2 != 0) {
        malformed(fmt::format("audio message of {} bytes", length));
        return;
      }
      if (direction == StreamDirection::out) return;  // Asterisk ignores `direction` for audiosocket
      decoded.resize(length / 2);
      for (std::size_t i = 0; i < decoded.size(); ++i) {
        decoded[i] = static_cast<std::int16_t>(static_cast<std::uint16_t>(body[2 * i]) |
                                               static_cast<std::uint16_t>(body[2 * i + 1]) << 8);
      }
      sink->on_audio(decoded, std::nullopt);
      return;
    }
    switch (type) {
      case kHangup: end("hangup"); return;
      case kError:
        log->warn("event=audiosocket_error stream_id={} code={}", stream_id,
                  length > 0 ? hex_byte(first) : std::string("none"));
        end(length > 0 ? "error message " + hex_byte(first) + " from Asterisk" : "error message from Asterisk");
        return;
      case kDtmf:
        // The endpoint reports DTMF through ARI; this copy is only logged.
        log->debug("event=audiosocket_dtmf stream_id={} digit={}", stream_id,
                   quote(length == 1 && first >= 0x20 && first < 0x7f ? std::string(1, static_cast<char>(first))
                                                                      : std::string("?")));
        return;
      default:
        if (type >= kSlin && type <= kLastAudio) {
          malformed("audio of kind " + hex_byte(type) + " on a " + std::string(format_name(format)) + " stream");
        } else {
          malformed("message of unknown type " + hex_byte(type));
        }
        return;
    }
  }

  void send(std::span<const std::int16_t> frame) {
    if (!live() || direction == StreamDirection::in || frame.empty()) return;
    if (!ready || out.size() >= kMaxQueuedFrames) {
      ++dropped;
      return;
    }
    std::vector<std::uint8_t> message;
    message.reserve(frame.size() * 2 + kHeaderBytes);
    // A zero-length audio message is an error to Asterisk: only non-empty pieces are written.
    for (std::size_t at = 0; at < frame.size(); at += kMaxSamplesPerMessage) {
      const std::size_t samples = std::min(frame.size() - at, kMaxSamplesPerMessage);
      const std::size_t bytes = samples * 2;
      message.push_back(kind());
      message.push_back(static_cast<std::uint8_t>(bytes >> 8));
      message.push_back(static_cast<std::uint8_t>(bytes & 0xFF));
      for (std::size_t i = at; i < at + samples; ++i) {
        const auto v = static_cast<std::uint16_t>(frame[i]);
        message.push_back(static_cast<std::uint8_t>(v & 0xFF));
        message.push_back(static_cast<std::uint8_t>(v >> 8));
      }
    }
    out.push_back(std::move(message));
    if (!writing) write_next();
  }

  void write_next() {
    writing = true;
    asio::async_write(socket, asio::buffer(out.front()), [self = shared_from_this()](error_code ec, std::size_t) {
      self->writing = false;
      self->out.pop_front();
      if (!self->live()) {
        self->out.clear();
        return;
      }
      if (ec) {
        self->end("write failed: " + ec.message());
        return;
      }
      if (!self->out.empty()) self->write_next();
    });
  }
};

class AudiosocketTransport final : public MediaTransport {
 public:
  explicit AudiosocketTransport(TransportContext context) : state_(std::make_shared<State>(std::move(context))) {}
  ~AudiosocketTransport() override { close(); }
  AudiosocketTransport(const AudiosocketTransport&) = delete;
  AudiosocketTransport& operator=(const AudiosocketTransport&) = delete;

  void prepare(ari::channels::ExternalMedia& request) override {
    auto& s = *state_;
    if (s.format != AudioFormat::slin && s.format != AudioFormat::slin16) {
      throw std::invalid_argument("audiosocket carries slin or slin16 only, not " + std::string(format_name(s.format)));
    }
    if (s.closed) throw std::logic_error("the audiosocket transport is closed");
    if (s.acceptor.is_open()) throw std::logic_error("the audiosocket transport is already prepared");
    const auto address = asio::ip::make_address(s.local_address);
    s.acceptor.open(address.is_v6() ? tcp::v6() : tcp::v4());
    util::close_on_exec(s.acceptor);
    s.acceptor.bind(tcp::endpoint(address, 0));
    s.acceptor.listen(4);
    const auto port = s.acceptor.local_endpoint().port();
    s.uuid_text = s.random.uuid4();
    s.uuid = uuid_bytes(s.uuid_text);
    request.encapsulation = "audiosocket";
    request.transport = "tcp";
    request.external_host = address.is_v6() ? fmt::format("[{}]:{}", address.to_string(), port)
                                            : fmt::format("{}:{}", address.to_string(), port);
    request.data = s.uuid_text;
    s.log->debug("event=audiosocket_listening stream_id={} address={} uuid={}", s.stream_id,
                 quote(request.external_host), s.uuid_text);
    // Asterisk connects while the POST runs, before its answer: accept from now on.
    asio::co_spawn(s.executor, State::accept_loop(state_), asio::detached);
  }

  void start(const ari::Channel& channel) override {
    auto& s = *state_;
    if (!s.live() || s.started) return;
    s.started = true;
    s.log->debug("event=audiosocket_started stream_id={} channel_id={} identified={}", s.stream_id, channel.id,
                 s.identified);
    if (s.identified) {
      // on_ready is never called from inside start().
      asio::post(s.executor, [st = state_] { st->become_ready(); });
      return;
    }
    s.ready_timer.expires_after(kReadyTimeout);
    s.ready_timer.async_wait([st = state_](error_code ec) {
      if (ec || st->ready) return;
      st->end("Asterisk did not connect to the audiosocket listener within 10 s");
    });
  }

  void send(std::span<const std::int16_t> frame) override { state_->send(frame); }

  [[nodiscard]] std::uint64_t dropped_out() const noexcept override { return state_->dropped; }

  void close() override { state_->close(); }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace

std::unique_ptr<MediaTransport> make_audiosocket_transport(TransportContext context) {
  return std::make_unique<AudiosocketTransport>(std::move(context));
}

}  // namespace astmrf::mrf::detail
