// REST transport: a pool of keep-alive HTTP/1.1 connections (plain or TLS).
// Each request runs as its own coroutine on the client's executor, so concurrent calls use
// concurrent connections; calls beyond pool_size wait for a free connection within their deadline.
#include "transport.hpp"

#include <astmrf/ari/error.hpp>
#include <astmrf/util/socket.hpp>
#include <astmrf/util/tls_client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <deque>
#include <set>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace astmrf::ari::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct Conn {
  explicit Conn(const asio::any_io_executor& ex, asio::ssl::context* tls) {
    if (tls != nullptr) {
      stream.emplace<TlsStream>(ex, *tls);
    } else {
      stream.emplace<beast::tcp_stream>(ex);
    }
  }
  beast::tcp_stream& lowest() {
    if (auto* tls = std::get_if<TlsStream>(&stream)) return beast::get_lowest_layer(*tls);
    return std::get<beast::tcp_stream>(stream);
  }
  std::variant<std::monostate, beast::tcp_stream, TlsStream> stream;
  beast::flat_buffer buffer;
  std::string request_text;  // reused by every request on this connection
  bool reused = false;
  clock::time_point idle_since{};
};

constexpr auto kMaxIdle = std::chrono::seconds(10);

// A request waiting for a connection; woken by cancelling its timer.
struct Pending {
  explicit Pending(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::unique_ptr<Conn> conn;  // handed over by release(); null: a slot was freed, open one
  bool woken = false;
};

bool stale_connection(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == asio::ssl::error::stream_truncated;
}

class Pool final : public HttpPool, public std::enable_shared_from_this<Pool> {
 public:
  explicit Pool(Shared shared)
      : s_(std::move(shared)),
        fixed_headers_("Host: " + s_.target.host_header + "\r\nAuthorization: " + s_.authorization +
                       "\r\nUser-Agent: astmrf-ari\r\n") {}

  void request(Request r, ResponseHandler handler) override {
    asio::co_spawn(
        s_.executor, run(shared_from_this(), std::move(r)),
        [h = std::move(handler)](std::exception_ptr e, Response resp) mutable { std::move(h)(e, std::move(resp)); });
  }

  void close() override {
    closed_ = true;
    idle_.clear();
    // basic_stream::close also cancels the stream's timer (see event_socket.cpp).
    for (auto* c : busy_) c->lowest().close();
    for (auto* p : waiting_) p->timer.cancel();
  }

  std::size_t open_connections() const noexcept override { return open_; }

 private:
  [[noreturn]] static void fail(boost::system::error_code ec, const Request& r, std::string what) {
    if (ec == beast::error::timeout) ec = errc::timed_out;
    throw TransportError(ec, std::move(what) + ": " + ec.message(), std::string(http::to_string(r.method)), r.target);
  }

  static asio::awaitable<Response> run(std::shared_ptr<Pool> self, Request r) {
    // The target goes into the request line as is: no space or control character may end it.
    for (const unsigned char c : r.target) {
      if (c <= 0x20 || c == 0x7f) {
        throw std::invalid_argument("ari: request target '" + r.target + "' is not percent-encoded");
      }
    }
    const auto deadline = clock::now() + r.timeout.value_or(self->s_.options->request_timeout);
    for (int attempt = 0;; ++attempt) {
      auto conn = co_await self->acquire(deadline, r);
      self->busy_.insert(conn.get());
      const bool reused = conn->reused;
      boost::system::error_code ec;
      bool keep_alive = false;
      Response resp;
      if (std::holds_alternative<TlsStream>(conn->stream)) {
        ec = co_await self->exchange(std::get<TlsStream>(conn->stream), *conn, r, deadline, resp, keep_alive);
      } else {
        ec = co_await self->exchange(std::get<beast::tcp_stream>(conn->stream), *conn, r, deadline, resp, keep_alive);
      }
      self->busy_.erase(conn.get());
      if (!ec) {
        self->release(keep_alive && !self->closed_ ? std::move(conn) : nullptr);
        co_return resp;
      }
      self->release(nullptr);
      // A kept-alive connection the server closed meanwhile: the other idle ones are as old, drop
      // them and retry once on a fresh connection.
      if (reused && attempt == 0 && stale_connection(ec) && !self->closed_ && clock::now() < deadline) {
        self->open_ -= self->idle_.size();
        self->idle_.clear();
        continue;
      }
      fail(ec, r, "request failed");
    }
  }

  template <typename Stream>
  asio::awaitable<boost::system::error_code> exchange(Stream& stream, Conn& conn, const Request& r,
                                                      clock::time_point deadline, Response& out, bool& keep_alive) {
    // The request is written as text: Beast's request object and serializer cost more than
    // the rest of a REST call (the header block that never changes is made once).
    auto& text = conn.request_text;
    text.clear();
    text += http::to_string(r.method);
    text += ' ';
    text += s_.target.base_path;
    text += r.target;
    text += " HTTP/1.1\r\n";
    text += fixed_headers_;
    if (!r.body.empty()) {
      text += "Content-Type: application/json\r\nContent-Length: ";
      text += std::to_string(r.body.size());
      text += "\r\n\r\n";
      text += r.body;
    } else if (r.method == http::verb::post || r.method == http::verb::put || r.method == http::verb::patch) {
      text += "Content-Length: 0\r\n\r\n";
    } else {
      text += "\r\n";
    }
    conn.lowest().expires_at(deadline);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(text), use_tuple);
    static_cast<void>(wn);
    if (wec) co_return wec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    auto [rec, rn] = co_await http::async_read(stream, conn.buffer, parser, use_tuple);
    static_cast<void>(rn);
    if (rec) co_return rec;
    conn.lowest().expires_never();
    auto& res = parser.get();
    out.status = res.result_int();
    out.content_type = std::string(res[http::field::content_type]);
    keep_alive = res.keep_alive();
    out.body = std::move(res.body());
    co_return boost::system::error_code{};
  }

  asio::awaitable<std::unique_ptr<Conn>> acquire(clock::time_point deadline, const Request& r) {
    if (closed_) fail(errc::closed, r, "client closed");
    // Asterisk closes idle keep-alive connections (session_keep_alive, 15 s by default): do not
    // reuse one that has been idle for long.
    const auto now = clock::now();
    while (!idle_.empty() && now - idle_.front()->idle_since > kMaxIdle) {
      idle_.erase(idle_.begin());
      --open_;
    }
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      c->reused = true;
      co_return c;
    }
    if (open_ < std::max<std::size_t>(1, s_.options->pool_size)) {
      ++open_;
      co_return co_await open(deadline, r);
    }
    Pending p(s_.executor);
    p.timer.expires_at(deadline);
    waiting_.push_back(&p);
    co_await p.timer.async_wait(use_tuple);
    if (!p.woken) {
      std::erase(waiting_, &p);
      fail(closed_ ? make_error_code(errc::closed) : make_error_code(errc::timed_out), r, "no free connection");
    }
    if (p.conn) {
      p.conn->reused = true;
      co_return std::move(p.conn);
    }
    co_return co_await open(deadline, r);  // a slot was freed for us (open_ already counts it)
  }

  // Opens a connection for a slot already counted in open_; frees the slot on failure. The host
  // name is resolved for every new connection, so a media server that moved is found again.
  asio::awaitable<std::unique_ptr<Conn>> open(clock::time_point deadline, const Request& r) {
    std::string host = s_.target.host;
    auto resolving = s_.resolver->async_resolve(std::move(host), use_tuple);
    auto [rerror, addresses] = co_await std::move(resolving);
    if (rerror) {
      release(nullptr);
      throw_resolve_error(rerror, s_.target.host, std::string(http::to_string(r.method)), r.target);
    }
    if (closed_) {  // closed while resolving
      release(nullptr);
      fail(errc::closed, r, "client closed");
    }
    std::vector<tcp::endpoint> endpoints;
    for (const auto& a : addresses) endpoints.emplace_back(a, s_.target.port_number);
    auto conn = std::make_unique<Conn>(s_.executor, s_.tls.get());
    busy_.insert(conn.get());
    boost::system::error_code ec = co_await connect(*conn, endpoints, deadline);
    busy_.erase(conn.get());
    if (ec) {
      release(nullptr);
      fail(ec, r, "cannot connect to " + s_.target.host_header);
    }
    co_return conn;
  }

  asio::awaitable<boost::system::error_code> connect(Conn& conn, const std::vector<tcp::endpoint>& endpoints,
                                                     clock::time_point deadline) {
    auto& tcp_stream = conn.lowest();
    tcp_stream.expires_at(deadline);
    auto [cec, ep] = co_await tcp_stream.async_connect(endpoints, use_tuple);
    static_cast<void>(ep);
    if (cec) co_return cec;
    util::close_on_exec(tcp_stream.socket());
    tcp_stream.socket().set_option(tcp::no_delay(true));
    if (auto* tls = std::get_if<TlsStream>(&conn.stream)) {
      if (auto sni = util::prepare_tls_client(*tls, s_.options->tls, s_.target.host)) co_return sni;
      auto [hec] = co_await tls->async_handshake(asio::ssl::stream_base::client, use_tuple);
      if (hec) co_return hec;
    }
    tcp_stream.expires_never();
    co_return boost::system::error_code{};
  }

  // Returns a connection to the pool (null: it was closed and its slot is free).
  void release(std::unique_ptr<Conn> conn) {
    if (!waiting_.empty()) {
      auto* p = waiting_.front();
      waiting_.pop_front();
      p->woken = true;
      p->conn = std::move(conn);  // null: the waiter opens a new connection in the freed slot
      p->timer.cancel();
      return;
    }
    if (conn) {
      conn->idle_since = clock::now();
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
  }

  Shared s_;
  std::string fixed_headers_;  // Host, Authorization, User-Agent
  bool closed_ = false;
  std::size_t open_ = 0;  // connections open or opening, idle or busy
  std::vector<std::unique_ptr<Conn>> idle_;
  std::set<Conn*> busy_;
  std::deque<Pending*> waiting_;
};

}  // namespace

std::shared_ptr<HttpPool> make_http_pool(const Shared& shared) { return std::make_shared<Pool>(shared); }

}  // namespace astmrf::ari::detail
