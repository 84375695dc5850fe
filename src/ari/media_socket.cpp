// ari::MediaSocket: the WebSocket to chan_websocket's /media/<connection_id> (ws:// or wss:// as
// the client's URL), and Client::async_open_media_socket. Beast is compiled here. Unlike the
// events WebSocket there is no liveness watch (audio flows every 20 ms, and Asterisk answers
// pings itself) and no Authorization header (chan_websocket checks none: the id is the secret).
#include "client_impl.hpp"
#include "transport.hpp"

#include <astmrf/ari/client.hpp>
#include <astmrf/ari/error.hpp>
#include <astmrf/ari/media_socket.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/util/socket.hpp>
#include <astmrf/util/tls_client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <vector>

namespace astmrf::ari {

namespace detail {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;
using OpenOnce = astmrf::detail::Once<void(std::exception_ptr, std::shared_ptr<MediaSocket>)>;

constexpr std::size_t kMaxQueued = 50;          // one second of 20 ms frames
constexpr std::size_t kMaxMessage = 65536;      // Asterisk sends one 20 ms frame per message
constexpr std::chrono::seconds kCloseGrace{1};  // for the close handshake, before the TCP close

// chan_websocket's ids are UUIDs; anything outside RFC 3986's unreserved set would need escaping.
bool valid_connection_id(std::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~';
    if (!ok) return false;
  }
  return id != "." && id != "..";
}

struct Message {
  bool text{false};
  std::vector<std::uint8_t> data{};
};

// The connection. Every pending operation holds it (shared_from_this), so dropping it with I/O in
// flight is safe; the application's handle is a Handle, whose end closes it.
template <typename Ws>
class Socket final : public MediaSocket, public std::enable_shared_from_this<Socket<Ws>> {
 public:
  explicit Socket(const Shared& shared) : s_(shared), ws_(make_stream(shared)), close_timer_(shared.executor) {}

  // ---- opening

  void open(std::string target, std::shared_ptr<OpenOnce> once) {
    target_ = std::move(target);
    auto self = this->shared_from_this();
    asio::co_spawn(s_.executor, connect(self), [self, once](std::exception_ptr e) {
      if (!e && once->done()) {
        // Cancelled just as it connected: nobody will own it.
        self->close();
        return;
      }
      if (e) {
        self->abort();
        (*once)(e, nullptr);
        return;
      }
      // The application's handle closes the connection when it goes.
      auto handle = std::make_shared<Handle>(self);
      (*once)(nullptr, std::shared_ptr<MediaSocket>(handle, handle->socket.get()));
    });
  }

  // Cancellation of the open: whatever is in flight fails, and nothing completes the Once again.
  void abort() {
    aborted_ = true;
    resolve_cancel_.emit(asio::cancellation_type::terminal);
    beast::get_lowest_layer(ws_).close();
  }

  // ---- MediaSocket

  void start(std::function<void(bool, std::span<const std::uint8_t>)> on_message,
             std::function<void(boost::system::error_code)> on_closed) override {
    if (started_) throw std::logic_error("ari::MediaSocket::start called twice");
    started_ = true;
    on_message_ = std::move(on_message);
    on_closed_ = std::move(on_closed);
    if (ended_) {
      notify_later();
      return;
    }
    read();
  }

  bool send_binary(std::span<const std::uint8_t> data) override {
    return enqueue(Message{false, std::vector<std::uint8_t>(data.begin(), data.end())});
  }

  bool send_text(std::string text) override {
    return enqueue(Message{true, std::vector<std::uint8_t>(text.begin(), text.end())});
  }

  [[nodiscard]] std::size_t queued_messages() const noexcept override { return queue_.size(); }
  [[nodiscard]] std::size_t max_queued_messages() const noexcept override { return kMaxQueued; }

  void close() override {
    if (ended_) return;
    end(asio::error::operation_aborted);
    if (connected_) {
      // Asterisk hangs the channel up on the close frame; its answer is not waited for long.
      auto self = this->shared_from_this();
      ws_.async_close(websocket::close_code::normal, [self](beast::error_code) {
        self->close_timer_.cancel();
        beast::get_lowest_layer(self->ws_).close();
      });
      close_timer_.expires_after(kCloseGrace);
      close_timer_.async_wait([self](beast::error_code ec) {
        if (!ec) beast::get_lowest_layer(self->ws_).close();
      });
    } else {
      beast::get_lowest_layer(ws_).close();
    }
    notify_later();
  }

 private:
  // What the application holds: its last copy going closes the connection.
  struct Handle {
    explicit Handle(std::shared_ptr<Socket> s) : socket(std::move(s)) {}
    ~Handle() { socket->close(); }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    std::shared_ptr<Socket> socket;
  };

  static Ws make_stream(const Shared& shared) {
    if constexpr (std::is_same_v<Ws, TlsWs>) {
      return Ws(shared.executor, *shared.tls);
    } else {
      return Ws(shared.executor);
    }
  }

  [[noreturn]] void fail(boost::system::error_code ec, const std::string& what) const {
    if (ec == beast::error::timeout) ec = errc::timed_out;
    if (aborted_) ec = asio::error::operation_aborted;
    throw TransportError(ec, what + ": " + ec.message(), "GET", target_);
  }

  // `self` keeps the socket alive from the coroutine's creation.
  asio::awaitable<void> connect(std::shared_ptr<Socket> self) {
    const auto& opts = *s_.options;
    auto& lowest = beast::get_lowest_layer(ws_);
    std::string host = s_.target.host;
    auto resolving = s_.resolver->async_resolve(
        std::move(host), asio::bind_cancellation_slot(resolve_cancel_.slot(), asio::as_tuple(asio::use_awaitable)));
    auto [rerror, addresses] = co_await std::move(resolving);
    if (rerror) throw_resolve_error(rerror, s_.target.host, "GET", target_);
    if (aborted_) fail(asio::error::operation_aborted, "cancelled");
    std::vector<tcp::endpoint> endpoints;
    for (const auto& a : addresses) endpoints.emplace_back(a, s_.target.port_number);
    // One deadline for the whole opening: TCP, TLS and the upgrade.
    lowest.expires_after(opts.connect_timeout);
    auto [cec, ep] = co_await lowest.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
    static_cast<void>(ep);
    if (cec) fail(cec, "cannot connect to " + s_.target.host_header);
    util::close_on_exec(lowest.socket());
    // 20 ms frames must not wait for Nagle.
    boost::system::error_code nec;
    lowest.socket().set_option(tcp::no_delay(true), nec);
    if constexpr (std::is_same_v<Ws, TlsWs>) {
      auto& tls = ws_.next_layer();
      if (auto sni = util::prepare_tls_client(tls, opts.tls, s_.target.host)) fail(sni, "TLS SNI");
      auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
      if (hec) fail(hec, "TLS handshake with " + s_.target.host_header);
    }
    websocket::stream_base::timeout to{};
    to.handshake_timeout = websocket::stream_base::none();  // the stream's deadline applies
    to.idle_timeout = websocket::stream_base::none();
    to.keep_alive_pings = false;
    ws_.set_option(to);
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(http::field::sec_websocket_protocol, "media");
      req.set(http::field::user_agent, "astmrf-ari");
    }));
    ws_.read_message_max(kMaxMessage);
    websocket::response_type res;
    auto [wec] = co_await ws_.async_handshake(res, s_.target.host_header, target_, asio::as_tuple(asio::use_awaitable));
    if (wec) {
      // A refused upgrade (404: unknown id, 409: already connected) has a status; a timeout's
      // empty response only looks like 200.
      if (!aborted_ && wec == websocket::error::upgrade_declined) {
        std::rethrow_exception(make_error(res.result_int(), res.body(), "GET", target_));
      }
      fail(wec, "WebSocket upgrade");
    }
    if (aborted_) fail(asio::error::operation_aborted, "cancelled");
    lowest.expires_never();
    connected_ = true;
    static_cast<void>(self);
  }

  // ---- reading

  void read() {
    auto self = this->shared_from_this();
    ws_.async_read(buffer_, [self](beast::error_code ec, std::size_t n) {
      if (self->ended_) return;
      if (ec) {
        self->end(ec);
        self->notify();
        return;
      }
      const auto data = self->buffer_.cdata();
      const std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(data.data()), n);
      if (self->on_message_) self->on_message_(self->ws_.got_text(), bytes);
      self->buffer_.consume(self->buffer_.size());
      if (!self->ended_) self->read();  // on_message may have closed it
    });
  }

  // ---- writing

  bool enqueue(Message m) {
    if (ended_ || !connected_ || queue_.size() >= kMaxQueued) return false;
    queue_.push_back(std::move(m));
    if (!writing_) write();
    return true;
  }

  void write() {
    writing_ = true;
    auto self = this->shared_from_this();
    const auto& m = queue_.front();
    ws_.binary(!m.text);
    ws_.async_write(asio::buffer(m.data), [self](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (!self->queue_.empty()) self->queue_.pop_front();
      if (self->ended_) return;
      if (ec) {
        self->end(ec);
        self->notify();
        return;
      }
      if (!self->queue_.empty()) self->write();
    });
  }

  // ---- the end

  // Ends the connection's life once: no more messages, nothing more sent (the message being
  // written stays until its write completes: Beast still reads it).
  void end(boost::system::error_code why) {
    ended_ = true;
    end_code_ = why;
    if (writing_) {
      queue_.erase(queue_.begin() + 1, queue_.end());
    } else {
      queue_.clear();
    }
    if (why != asio::error::operation_aborted) beast::get_lowest_layer(ws_).close();
  }

  // on_closed, at most once, and only after start().
  void notify() {
    if (!on_closed_) return;
    auto fn = std::move(on_closed_);
    on_closed_ = nullptr;
    on_message_ = nullptr;
    fn(end_code_);
  }

  // From close() or start(): never inside the caller's call.
  void notify_later() {
    if (!on_closed_) return;
    asio::post(s_.executor, [self = this->shared_from_this()] { self->notify(); });
  }

  Shared s_;
  Ws ws_;
  asio::steady_timer close_timer_;
  asio::cancellation_signal resolve_cancel_;
  std::string target_;
  beast::flat_buffer buffer_;
  std::deque<Message> queue_;
  std::function<void(bool, std::span<const std::uint8_t>)> on_message_;
  std::function<void(boost::system::error_code)> on_closed_;
  boost::system::error_code end_code_;
  bool started_{false};
  bool connected_{false};
  bool writing_{false};
  bool ended_{false};
  bool aborted_{false};
};

std::string media_target(const Target& target, const std::string& connection_id) {
  // ARI lives at <http prefix>/ari, chan_websocket at <http prefix>/media.
  std::string base = target.base_path;
  constexpr std::string_view kAri = "/ari";
  if (base.size() >= kAri.size() && std::string_view(base).substr(base.size() - kAri.size()) == kAri) {
    base.resize(base.size() - kAri.size());
  }
  return base + "/media/" + connection_id;
}

}  // namespace

}  // namespace detail

void Client::start_open_media_socket(std::string connection_id, detail::media_socket_handler handler) {
  auto impl = impl_;
  auto once = astmrf::detail::make_once(std::move(handler), impl->ex);
  if (!detail::valid_connection_id(connection_id)) {
    (*once)(std::make_exception_ptr(
                std::invalid_argument("ari: invalid media connection id (expected letters, digits and -._~ only)")),
            nullptr);
    return;
  }
  auto target = detail::media_target(impl->shared.target, connection_id);
  auto open = [&](auto socket) {
    std::weak_ptr weak = socket;
    once->on_cancel([weak] {
      if (auto s = weak.lock()) s->abort();
    });
    socket->open(std::move(target), once);
  };
  if (impl->shared.tls) {
    open(std::make_shared<detail::Socket<detail::TlsWs>>(impl->shared));
  } else {
    open(std::make_shared<detail::Socket<detail::PlainWs>>(impl->shared));
  }
}

}  // namespace astmrf::ari
