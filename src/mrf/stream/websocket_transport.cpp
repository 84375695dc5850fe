// The websocket transport: chan_websocket with Asterisk as the server. The externalMedia channel
// is made with connection_type=server, and we connect to /media/<MEDIA_WEBSOCKET_CONNECTION_ID>
// through the ARI client (ari::MediaSocket). Binary messages are raw audio in the channel's format
// (linear PCM little-endian, not RTP's big-endian); text messages are JSON control events
// (transport_data f(json)). chan_websocket plays what we send at its own pace (one frame per
// ptime); MEDIA_XOFF means its queue is nearly full, and we drop frames until MEDIA_XON.
#include "transport.hpp"

#include <astmrf/ari/media_socket.hpp>
#include <astmrf/mrf/audio.hpp>
#include <astmrf/util/log.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace astmrf::mrf::detail {

namespace {

using util::quote;

constexpr std::string_view kConnectionIdVar = "MEDIA_WEBSOCKET_CONNECTION_ID";
constexpr std::string_view kFlushMedia = R"({"command":"FLUSH_MEDIA"})";

bool is_linear(AudioFormat f) noexcept { return f == AudioFormat::slin16 || f == AudioFormat::slin; }

std::string error_text(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown error";
  }
}

// A string member of a JSON object, or empty.
std::string_view string_of(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// The I/O state, held by the open's completion and (weakly) by the socket's handlers, so that the
// transport may go while they are pending.
struct State : std::enable_shared_from_this<State> {
  explicit State(TransportContext c) : ctx(std::move(c)), sink(ctx.sink) {}

  TransportContext ctx;
  StreamSink* sink;  // null once closed: no sink call after close()
  std::shared_ptr<ari::MediaSocket> socket;
  boost::asio::cancellation_signal cancel_open;
  std::string connection_id;
  std::uint64_t dropped_out{0};
  std::uint64_t dropped_xoff{0};  // of which while Asterisk said MEDIA_XOFF (for the log)
  bool closed{false};
  bool xoff{false};
  std::vector<std::int16_t> samples;  // decode scratch
  std::vector<std::uint8_t> bytes;    // encode scratch

  void opened(std::exception_ptr error, std::shared_ptr<ari::MediaSocket> s) {
    if (closed) {
      if (s) s->close();
      return;
    }
    if (error) {
      const auto why = "cannot open the media WebSocket: " + error_text(error);
      ctx.log->warn("event=stream_ws_open_failed stream_id={} connection_id={} error={}", quote(ctx.stream_id),
                    quote(connection_id), quote(why));
      closed = true;
      if (auto* k = std::exchange(sink, nullptr)) k->on_transport_closed(why);
      return;
    }
    socket = std::move(s);
    std::weak_ptr<State> weak = weak_from_this();
    socket->start(
        [weak](bool text, std::span<const std::uint8_t> data) {
          if (auto st = weak.lock()) st->on_message(text, data);
        },
        [weak](boost::system::error_code ec) {
          if (auto st = weak.lock()) st->on_socket_closed(ec);
        });
    ctx.log->debug("event=stream_ws_connected stream_id={} connection_id={}", quote(ctx.stream_id),
                   quote(connection_id));
    if (sink) sink->on_ready();
  }

  void on_message(bool text, std::span<const std::uint8_t> data) {
    if (closed || !sink) return;
    if (text) {
      on_control(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
      return;
    }
    if (data.empty()) return;
    if (is_linear(ctx.format)) {
      if (data.size() % 2 != 0) {
        sink->on_malformed("odd-length linear audio message (" + std::to_string(data.size()) + " bytes)");
        return;
      }
      samples.resize(data.size() / 2);
      for (std::size_t i = 0; i < samples.size(); ++i) {
        // Asterisk writes its frames in host order: little-endian.
        samples[i] = static_cast<std::int16_t>(static_cast<std::uint16_t>(data[2 * i]) |
                                               static_cast<std::uint16_t>(data[2 * i + 1] << 8));
      }
    } else {
      samples.resize(data.size());
      if (ctx.format == AudioFormat::ulaw) {
        audio::decode_ulaw(data, samples);
      } else {
        audio::decode_alaw(data, samples);
      }
    }
    sink->on_audio(samples, std::nullopt);
  }

  void on_control(std::string_view text) {
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec || !v.is_object()) {
      malformed("control message is not a JSON object", text);
      return;
    }
    const auto& o = v.get_object();
    const auto event = string_of(o, "event");
    if (event.empty()) {
      malformed("control message without an event", text);
      return;
    }
    auto& log = *ctx.log;
    if (event == "MEDIA_START") {
      const auto* frame = o.if_contains("optimal_frame_size");
      const auto* ptime = o.if_contains("ptime");
      log.debug("event=stream_ws_media_start stream_id={} channel_id={} format={} optimal_frame_size={} ptime={}",
                quote(ctx.stream_id), quote(string_of(o, "channel_id")), quote(string_of(o, "format")),
                frame && frame->is_int64() ? frame->get_int64() : -1,
                ptime && ptime->is_int64() ? ptime->get_int64() : -1);
      if (string_of(o, "format") != to_string(ctx.format)) {
        malformed("MEDIA_START with format '" + std::string(string_of(o, "format")) + "', expected '" +
                      std::string(to_string(ctx.format)) + "'",
                  text);
      }
    } else if (event == "MEDIA_XOFF") {
      xoff = true;
      log.debug("event=stream_ws_xoff stream_id={}", quote(ctx.stream_id));
    } else if (event == "MEDIA_XON") {
      xoff = false;
      log.debug("event=stream_ws_xon stream_id={} dropped_while_xoff={}", quote(ctx.stream_id), dropped_xoff);
    } else if (event == "DTMF_END") {
      // The stream's DTMF comes from the endpoint's ARI events.
      log.trace("event=stream_ws_dtmf stream_id={} digit={}", quote(ctx.stream_id), quote(string_of(o, "digit")));
    } else if (event == "QUEUE_DRAINED" || event == "STATUS" || event == "MEDIA_BUFFERING_COMPLETED" ||
               event == "MEDIA_MARK_PROCESSED") {
      log.trace("event=stream_ws_control stream_id={} type={} body={}", quote(ctx.stream_id), quote(event),
                quote(text));
    } else if (event == "ERROR") {
      const auto why = string_of(o, "error_text");
      log.warn("event=stream_ws_error stream_id={} error={}", quote(ctx.stream_id), quote(why));
      if (sink) sink->on_malformed("chan_websocket ERROR: " + std::string(why));
    } else {
      malformed("unknown control event '" + std::string(event) + "'", text);
    }
  }

  void malformed(const std::string& what, std::string_view text) {
    ctx.log->debug("event=stream_ws_malformed stream_id={} what={} body={}", quote(ctx.stream_id), quote(what),
                   quote(text.substr(0, 256)));
    if (sink) sink->on_malformed(what);
  }

  void on_socket_closed(boost::system::error_code ec) {
    if (closed) return;  // our close(): nothing to tell
    closed = true;
    socket.reset();
    const auto why = "media WebSocket closed: " + ec.message();
    ctx.log->debug("event=stream_ws_closed stream_id={} connection_id={} error={}", quote(ctx.stream_id),
                   quote(connection_id), quote(ec.message()));
    if (auto* k = std::exchange(sink, nullptr)) k->on_transport_closed(why);
  }

  void send(std::span<const std::int16_t> frame) {
    if (ctx.direction == StreamDirection::in || closed) return;
    if (!socket || xoff) {
      ++dropped_out;
      if (xoff) ++dropped_xoff;
      return;
    }
    if (is_linear(ctx.format)) {
      bytes.resize(frame.size() * 2);
      for (std::size_t i = 0; i < frame.size(); ++i) {
        const auto u = static_cast<std::uint16_t>(frame[i]);
        bytes[2 * i] = static_cast<std::uint8_t>(u & 0xff);
        bytes[2 * i + 1] = static_cast<std::uint8_t>(u >> 8);
      }
    } else {
      bytes.resize(frame.size());
      if (ctx.format == AudioFormat::ulaw) {
        audio::encode_ulaw(frame, bytes);
      } else {
        audio::encode_alaw(frame, bytes);
      }
    }
    if (!socket->send_binary(bytes)) ++dropped_out;  // a congested connection
  }

  void close() {
    if (closed) {
      sink = nullptr;
      return;
    }
    closed = true;
    sink = nullptr;
    cancel_open.emit(boost::asio::cancellation_type::terminal);
    if (socket) {
      ctx.log->debug("event=stream_ws_close stream_id={} connection_id={} dropped_out={}", quote(ctx.stream_id),
                     quote(connection_id), dropped_out);
      socket->close();
      socket.reset();
    }
  }
};

class WebsocketTransport final : public MediaTransport {
 public:
  explicit WebsocketTransport(TransportContext context) : st_(std::make_shared<State>(std::move(context))) {}
  ~WebsocketTransport() override { st_->close(); }
  WebsocketTransport(const WebsocketTransport&) = delete;
  WebsocketTransport& operator=(const WebsocketTransport&) = delete;

  void prepare(ari::channels::ExternalMedia& request) override {
    request.transport = "websocket";
    request.encapsulation = "none";
    request.connection_type = "server";
    request.external_host = "";
    request.transport_data = "f(json)";
    request.direction = std::string(to_string(st_->ctx.direction));
  }

  void start(const ari::Channel& channel) override {
    auto st = st_;
    if (st->closed) return;
    const auto* id = channel.channelvars.if_contains(kConnectionIdVar);
    if (!id || !id->is_string() || id->get_string().empty()) {
      // Told later: never inside the caller's call.
      boost::asio::post(st->ctx.executor, [st] {
        if (st->closed) return;
        st->closed = true;
        if (auto* k = std::exchange(st->sink, nullptr)) k->on_transport_closed("no MEDIA_WEBSOCKET_CONNECTION_ID");
      });
      return;
    }
    st->connection_id = std::string(id->get_string());
    if (!st->ctx.ari) throw std::logic_error("websocket transport without an ARI client");
    // Held strongly until the open completes: its cancellation slot lives in the state. close()
    // cancels it, so a closed transport's state goes soon.
    st->ctx.ari->async_open_media_socket(
        st->connection_id, boost::asio::bind_cancellation_slot(
                               st->cancel_open.slot(), [st](std::exception_ptr e, std::shared_ptr<ari::MediaSocket> s) {
                                 st->opened(e, std::move(s));
                               }));
  }

  void send(std::span<const std::int16_t> frame) override { st_->send(frame); }

  void flush() override {
    if (st_->closed || !st_->socket) return;
    st_->socket->send_text(std::string(kFlushMedia));
  }

  [[nodiscard]] std::uint64_t dropped_out() const noexcept override { return st_->dropped_out; }

  void close() override { st_->close(); }

 private:
  std::shared_ptr<State> st_;
};

}  // namespace

std::unique_ptr<MediaTransport> make_websocket_transport(TransportContext context) {
  return std::make_unique<WebsocketTransport>(std::move(context));
}

}  // namespace astmrf::mrf::detail
