#include <astmrf/util/http_exporter.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cerrno>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

namespace astmrf::util {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::uint32_t kHeaderLimit = 8 * 1024;
constexpr std::string_view kTextType = "text/plain; charset=utf-8";

struct Check {
  std::string name;
  std::function<bool()> run;
};

}  // namespace

struct HttpExporter::State {
  State(asio::any_io_executor ex, std::shared_ptr<metrics::Registry> reg, HttpExporterOptions opts)
      : executor(std::move(ex)), registry(std::move(reg)), options(std::move(opts)), acceptor(executor) {}

  asio::any_io_executor executor;
  std::shared_ptr<metrics::Registry> registry;
  HttpExporterOptions options;
  tcp::acceptor acceptor;
  tcp::endpoint local;
  bool stopped = false;  // on the executor
  // The open connections, for stop() (on the executor).
  std::map<std::uint64_t, beast::tcp_stream*> connections;
  std::uint64_t next_id = 0;

  std::mutex checks_mutex;  // add_readiness_check() may run on any thread
  std::vector<Check> checks;

  void close_all() {
    stopped = true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    for (auto& [id, stream] : connections) stream->socket().close(ignored);
  }
};

namespace {

using State = HttpExporter::State;

// A served connection, in the exporter's open set for as long as it lives: made by the
// accept loop (so that the limit counts connections whose coroutine has not run yet) and
// owned by its coroutine, whose frame frees it however it ends.
class Connection {
 public:
  Connection(std::shared_ptr<State> state, tcp::socket socket)
      : state_(std::move(state)), stream_(std::move(socket)), id_(state_->next_id++) {
    state_->connections.emplace(id_, &stream_);
  }
  ~Connection() { state_->connections.erase(id_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  State& state() { return *state_; }
  beast::tcp_stream& stream() { return stream_; }

 private:
  std::shared_ptr<State> state_;
  beast::tcp_stream stream_;
  std::uint64_t id_;
};

using Response = http::response<http::string_body>;

Response make_response(const http::request<http::empty_body>& req, http::status status, std::string body,
                       std::string_view content_type = kTextType) {
  Response res{status, req.version()};
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  if (req.method() == http::verb::head) {
    res.content_length(body.size());  // what GET would send, without the body
  } else {
    res.body() = std::move(body);
    res.prepare_payload();
  }
  res.keep_alive(req.keep_alive());
  return res;
}

// A request refused before it was read whole: answered, then the connection is closed.
Response make_error(http::status status, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, kTextType);
  res.body() = std::move(body);
  res.prepare_payload();
  res.keep_alive(false);
  return res;
}

std::string readiness_failures(State& s) {
  std::vector<Check> checks;
  {
    std::lock_guard lock(s.checks_mutex);
    checks = s.checks;
  }
  std::string failing;
  for (const auto& check : checks) {
    bool ok = false;
    try {
      ok = check.run();
    } catch (...) {
      ok = false;  // a check that throws is not ready
    }
    if (!ok) {
      failing += check.name;
      failing += '\n';
    }
  }
  return failing;
}

Response answer(State& s, const http::request<http::empty_body>& req) {
  auto path = std::string_view(req.target());
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (path != "/metrics" && path != "/healthz" && path != "/readyz") {
    return make_response(req, http::status::not_found, "not found\n");
  }
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = make_response(req, http::status::method_not_allowed, "method not allowed\n");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (path == "/metrics") {
    return make_response(req, http::status::ok, s.registry->expose(), metrics::Registry::content_type);
  }
  if (path == "/healthz") return make_response(req, http::status::ok, "ok");
  auto failing = readiness_failures(s);
  if (failing.empty()) return make_response(req, http::status::ok, "ready");
  return make_response(req, http::status::service_unavailable, std::move(failing));
}

asio::awaitable<void> serve(std::unique_ptr<Connection> conn) {
  auto* s = &conn->state();
  auto& stream = conn->stream();
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(0);
    stream.expires_after(s->options.idle_timeout);  // idle, and a slow request, alike
    auto [rec, rn] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (s->stopped) co_return;
    Response res;
    bool close = false;
    if (rec == http::error::header_limit) {
      res = make_error(http::status::request_header_fields_too_large, "request header too large\n");
      close = true;
    } else if (rec == http::error::body_limit || rec == http::error::unexpected_body) {
      res = make_error(http::status::payload_too_large, "no request body accepted\n");
      close = true;
    } else if (rec == http::error::bad_method || rec == http::error::bad_target || rec == http::error::bad_version ||
               rec == http::error::bad_field || rec == http::error::bad_value ||
               rec == http::error::bad_content_length || rec == http::error::bad_transfer_encoding ||
               rec == http::error::bad_line_ending || rec == http::error::bad_chunk) {
      res = make_error(http::status::bad_request, "bad request\n");
      close = true;
    } else if (rec) {
      co_return;  // end of stream, idle timeout, reset or stop(): nothing to answer
    } else {
      res = answer(*s, parser.get());
      close = !res.keep_alive();
    }
    stream.expires_after(s->options.idle_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || s->stopped) co_return;
    if (close) {
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<State> s) {
  // accept4 instead of async_accept: the socket is close-on-exec from the start, with no
  // window in which a fork and exec by another thread could inherit it.
  asio::steady_timer backoff(s->executor);
  while (!s->stopped) {
    auto [wec] = co_await s->acceptor.async_wait(tcp::acceptor::wait_read, use_tuple);
    if (wec || s->stopped) co_return;
    for (;;) {
      int fd = ::accept4(s->acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors: let some connections end before trying again.
          backoff.expires_after(std::chrono::milliseconds(100));
          auto [tec] = co_await backoff.async_wait(use_tuple);
          if (tec) co_return;
        }
        break;  // EAGAIN: none left; anything else: wait for the next readiness
      }
      if (s->connections.size() >= s->options.max_connections) {
        ::close(fd);  // over the limit: closed at once
        continue;
      }
      tcp::socket socket(s->executor);
      boost::system::error_code aec;
      socket.assign(s->local.protocol(), fd, aec);
      if (aec) {
        ::close(fd);
        continue;
      }
      auto conn = std::make_unique<Connection>(s, std::move(socket));
      asio::co_spawn(s->executor, serve(std::move(conn)), asio::detached);
    }
  }
}

asio::ip::address parse_address(std::string text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(text, ec);
  if (ec) {
    throw std::invalid_argument("HttpExporter: the address must be an IP literal (IPv4 or IPv6), not '" + text + "'");
  }
  return address;
}

}  // namespace

std::shared_ptr<HttpExporter> HttpExporter::start(asio::any_io_executor executor,
                                                  std::shared_ptr<metrics::Registry> registry,
                                                  HttpExporterOptions options) {
  if (!registry) throw std::invalid_argument("HttpExporter: no registry");
  if (options.max_connections == 0) throw std::invalid_argument("HttpExporter: max_connections must be at least 1");
  tcp::endpoint endpoint(parse_address(options.address), options.port);
  auto state = std::make_shared<State>(std::move(executor), std::move(registry), std::move(options));
  auto where = [&] {
    return endpoint.address().is_v6() ? "[" + endpoint.address().to_string() + "]:" + std::to_string(endpoint.port())
                                      : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  };
  auto fail = [&](const boost::system::error_code& ec, const char* what) {
    throw boost::system::system_error(ec, "HttpExporter: cannot " + std::string(what) + " " + where());
  };
  int fd = ::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) fail(boost::system::error_code(errno, boost::system::system_category()), "open a socket for");
  boost::system::error_code ec;
  state->acceptor.assign(endpoint.protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    fail(ec, "open a socket for");
  }
  // Rebinding right after a restart must not wait for old connections' TIME_WAIT.
  state->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(endpoint, ec);
  if (ec) fail(ec, "bind");
  state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail(ec, "listen on");
  state->acceptor.native_non_blocking(true, ec);
  if (ec) fail(ec, "listen on");
  state->local = state->acceptor.local_endpoint(ec);
  if (ec) fail(ec, "listen on");
  auto ex = state->executor;
  asio::co_spawn(ex, accept_loop(state), asio::detached);
  return std::shared_ptr<HttpExporter>(new HttpExporter(std::move(state)));
}

HttpExporter::HttpExporter(std::shared_ptr<State> state) : state_(std::move(state)) {}

HttpExporter::~HttpExporter() { stop(); }

tcp::endpoint HttpExporter::local_endpoint() const { return state_->local; }

void HttpExporter::add_readiness_check(std::string name, std::function<bool()> check) {
  if (!check) throw std::invalid_argument("HttpExporter: empty readiness check " + name);
  std::lock_guard lock(state_->checks_mutex);
  state_->checks.push_back(Check{std::move(name), std::move(check)});
}

void HttpExporter::stop() {
  // Inline on the executor's thread; posted from any other (the coroutines run there).
  asio::dispatch(state_->executor, [s = state_] { s->close_all(); });
}

}  // namespace astmrf::util
