// Events transport: one WebSocket connection to /ari/events (ws:// or wss://) with the Basic
// Authorization header on the upgrade, and ping/pong liveness: a ping after half the idle timeout
// without traffic, the connection declared dead after a whole one. Reconnecting is the client's
// job: it creates a new EventSocket each time.
#include "transport.hpp"

#include <astmrf/ari/error.hpp>
#include <astmrf/util/socket.hpp>
#include <astmrf/util/tls_client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <variant>
#include <vector>

namespace astmrf::ari::detail {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

class Socket final : public EventSocket, public std::enable_shared_from_this<Socket> {
 public:
  explicit Socket(Shared shared) : s_(std::move(shared)), liveness_(s_.executor) {
    if (s_.tls) {
      ws_.emplace<TlsWs>(s_.executor, *s_.tls);
    } else {
      ws_.emplace<PlainWs>(s_.executor);
    }
  }

  void connect(std::string target, asio::any_completion_handler<void(std::exception_ptr)> handler) override {
    auto self = shared_from_this();
    asio::co_spawn(
        s_.executor,
        [self, target = std::move(target)]() -> asio::awaitable<void> {
          if (auto* p = std::get_if<PlainWs>(&self->ws_)) {
            co_await self->do_connect(*p, target);
          } else {
            co_await self->do_connect(std::get<TlsWs>(self->ws_), target);
          }
        },
        std::move(handler));
  }

  void run(std::function<void(std::string_view)> on_message,
           asio::any_completion_handler<void(boost::system::error_code)> handler) override {
    auto self = shared_from_this();
    asio::co_spawn(
        s_.executor,
        [self, fn = std::move(on_message)]() -> asio::awaitable<boost::system::error_code> {
          if (auto* p = std::get_if<PlainWs>(&self->ws_)) {
            asio::co_spawn(self->s_.executor, self->watch(*p), asio::detached);
            co_return co_await self->read_loop(*p, fn);
          }
          auto& tls = std::get<TlsWs>(self->ws_);
          asio::co_spawn(self->s_.executor, self->watch(tls), asio::detached);
          co_return co_await self->read_loop(tls, fn);
        },
        [h = std::move(handler)](std::exception_ptr e, boost::system::error_code ec) mutable {
          if (e) ec = asio::error::operation_aborted;
          std::move(h)(ec);
        });
  }

  void close() override {
    stopped_ = true;
    liveness_.cancel();
    std::visit(
        [](auto& ws) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(ws)>, std::monostate>) {
            // basic_stream::close (not socket().close): it also cancels the stream's
            // timer, so a read in flight completes with operation_aborted and Beast's
            // read op never sees a zero-byte success.
            beast::get_lowest_layer(ws).close();
          }
        },
        ws_);
  }

 private:
  [[noreturn]] void fail(boost::system::error_code ec, const std::string& target, const std::string& what) {
    if (ec == beast::error::timeout) ec = errc::timed_out;
    throw TransportError(ec, what + ": " + ec.message(), "GET", target);
  }

  template <typename Ws>
  asio::awaitable<void> do_connect(Ws& ws, const std::string& target) {
    const auto& opts = *s_.options;
    auto& lowest = beast::get_lowest_layer(ws);
    // Resolved at every connect: the client makes a new EventSocket for each reconnect.
    std::string host = s_.target.host;
    auto resolving = s_.resolver->async_resolve(std::move(host), use_tuple);
    auto [rerror, addresses] = co_await std::move(resolving);
    if (rerror) throw_resolve_error(rerror, s_.target.host, "GET", target);
    std::vector<tcp::endpoint> endpoints;
    for (const auto& a : addresses) endpoints.emplace_back(a, s_.target.port_number);
    lowest.expires_after(opts.connect_timeout);
    auto [cec, ep] = co_await lowest.async_connect(endpoints, use_tuple);
    static_cast<void>(ep);
    if (cec) fail(cec, target, "cannot connect to " + s_.target.host_header);
    util::close_on_exec(lowest.socket());
    lowest.socket().set_option(tcp::no_delay(true));
    if constexpr (std::is_same_v<Ws, TlsWs>) {
      auto& tls = ws.next_layer();
      if (auto sni = util::prepare_tls_client(tls, opts.tls, s_.target.host)) fail(sni, target, "TLS SNI");
      auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_tuple);
      if (hec) fail(hec, target, "TLS handshake with " + s_.target.host_header);
    }
    // From here Beast's handshake deadline applies. Liveness is ours (watch): Beast's idle timeout
    // re-arms a timer on every frame, which cost more than the rest of reading an event.
    lowest.expires_never();
    websocket::stream_base::timeout to{};
    to.handshake_timeout = opts.connect_timeout;
    to.idle_timeout = websocket::stream_base::none();
    to.keep_alive_pings = false;
    ws.set_option(to);
    ws.control_callback([this](websocket::frame_type, beast::string_view) { ++activity_; });
    ws.set_option(websocket::stream_base::decorator([auth = s_.authorization](websocket::request_type& req) {
      req.set(http::field::authorization, auth);
      req.set(http::field::user_agent, "astmrf-ari");
    }));
    ws.read_message_max(16 * 1024 * 1024);
    websocket::response_type res;
    auto [wec] = co_await ws.async_handshake(res, s_.target.host_header, s_.target.base_path + target, use_tuple);
    if (wec) {
      if (res.result_int() != 0 && res.result_int() != 101) {
        std::rethrow_exception(make_error(res.result_int(), res.body(), "GET", target));
      }
      fail(wec, target, "WebSocket upgrade");
    }
  }

  template <typename Ws>
  asio::awaitable<boost::system::error_code> read_loop(Ws& ws, const std::function<void(std::string_view)>& fn) {
    for (;;) {
      buffer_.consume(buffer_.size());
      auto [ec, n] = co_await ws.async_read(buffer_, use_tuple);
      if (ec) {
        stopped_ = true;
        liveness_.cancel();
        co_return silent_ ? make_error_code(beast::error::timeout) : ec;
      }
      ++activity_;
      const auto data = buffer_.cdata();
      fn(std::string_view(static_cast<const char*>(data.data()), n));
    }
  }

  // Every half idle timeout: traffic since the last look (a message, a ping or a pong) keeps the
  // connection; none sends a ping; none again closes it, which ends the read with `timeout`.
  template <typename Ws>
  asio::awaitable<void> watch(Ws& ws) {
    auto self = shared_from_this();
    const auto half = std::max(s_.options->ws_idle_timeout / 2, std::chrono::milliseconds(1));
    std::uint64_t seen = activity_;
    bool pinged = false;
    for (;;) {
      liveness_.expires_after(half);
      auto [ec] = co_await liveness_.async_wait(use_tuple);
      if (ec || stopped_) co_return;
      if (activity_ != seen) {
        seen = activity_;
        pinged = false;
        continue;
      }
      if (pinged) {
        silent_ = true;
        beast::get_lowest_layer(ws).close();
        co_return;
      }
      pinged = true;
      auto [pec] = co_await ws.async_ping({}, use_tuple);
      if (pec || stopped_) co_return;  // a failed ping fails the read too, which reports it
    }
  }

  Shared s_;
  std::variant<std::monostate, PlainWs, TlsWs> ws_;
  beast::flat_buffer buffer_;
  asio::steady_timer liveness_;
  std::uint64_t activity_ = 0;  // messages and control frames received
  bool silent_ = false;         // closed by watch(): nothing arrived for a whole idle timeout
  bool stopped_ = false;        // closed, or the read ended: watch() must end too
};

}  // namespace

std::shared_ptr<EventSocket> make_event_socket(const Shared& shared) { return std::make_shared<Socket>(shared); }

}  // namespace astmrf::ari::detail
