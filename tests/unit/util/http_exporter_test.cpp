// util::HttpExporter over real loopback sockets: the exporter runs on an io_context of its
// own thread (as in an application), the test is a synchronous Beast client.
#include <astmrf/util/http_exporter.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace util = astmrf::util;
namespace metrics = util::metrics;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

class HttpExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::make_shared<metrics::Registry>();
    requests_ = registry_->counter("astmrf_test_requests_total", "Requests.", {"method"}).with({"INVITE"});
    requests_->inc(7);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    on_loop([this] { exporter_.reset(); });
    work_.reset();
    thread_.join();
  }

  // Runs f on the exporter's thread and waits for it.
  template <typename F>
  void on_loop(F f) {
    std::promise<void> done;
    asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().get();
  }

  void start(util::HttpExporterOptions options = {}) {
    options.port = 0;
    exporter_ = util::HttpExporter::start(io_.get_executor(), registry_, options);
    port_ = exporter_->local_endpoint().port();
  }

  tcp::socket connect() {
    tcp::socket socket(client_io_);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    return socket;
  }

  // One request on an open connection; HEAD responses are read without a body.
  static http::response<http::string_body> exchange(tcp::socket& socket, http::verb method, std::string target,
                                                    bool keep_alive = true) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(keep_alive);
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.skip(method == http::verb::head);
    http::read(socket, buffer, parser);
    return parser.release();
  }

  http::response<http::string_body> request(http::verb method, std::string target) {
    auto socket = connect();
    return exchange(socket, method, std::move(target), false);
  }

  // Waits until the server closes the connection (EOF or reset); false after `limit`.
  static bool closed_by_peer(tcp::socket& socket, std::chrono::milliseconds limit) {
    pollfd p{socket.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
    char byte;
    boost::system::error_code ec;
    socket.read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{io_.get_executor()};
  std::thread thread_;
  asio::io_context client_io_;
  std::shared_ptr<metrics::Registry> registry_;
  std::shared_ptr<metrics::Counter> requests_;
  std::shared_ptr<util::HttpExporter> exporter_;
  std::uint16_t port_ = 0;
};

TEST_F(HttpExporterTest, PortZeroLetsTheOsChoose) {
  start();
  EXPECT_NE(port_, 0);
  EXPECT_EQ(exporter_->local_endpoint().address().to_string(), "127.0.0.1");
}

TEST_F(HttpExporterTest, ServesTheRegistryWithItsContentType) {
  start();
  auto res = request(http::verb::get, "/metrics");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(res.body(), registry_->expose());
  EXPECT_NE(res.body().find("astmrf_test_requests_total{method=\"INVITE\"} 7\n"), std::string::npos) << res.body();
  requests_->inc();
  EXPECT_NE(request(http::verb::get, "/metrics").body().find("astmrf_test_requests_total{method=\"INVITE\"} 8\n"),
            std::string::npos);
  EXPECT_EQ(request(http::verb::get, "/metrics?x=1").result(), http::status::ok);  // a query is ignored
}

TEST_F(HttpExporterTest, HeadHasTheHeadersOfGetWithoutTheBody) {
  start();
  auto get = request(http::verb::get, "/metrics");
  auto head = request(http::verb::head, "/metrics");
  EXPECT_EQ(head.result(), http::status::ok);
  EXPECT_EQ(head[http::field::content_type], get[http::field::content_type]);
  EXPECT_EQ(head[http::field::content_length], std::to_string(get.body().size()));
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(request(http::verb::head, "/healthz")[http::field::content_length], "2");
}

TEST_F(HttpExporterTest, HealthzAnswersWhileRunning) {
  start();
  auto res = request(http::verb::get, "/healthz");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ok");
}

TEST_F(HttpExporterTest, ReadyzFollowsItsChecks) {
  start();
  auto res = request(http::verb::get, "/readyz");  // no check at all: ready
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ready");

  std::atomic<bool> sip{true};
  std::atomic<bool> media{true};
  exporter_->add_readiness_check("sip_listening", [&] { return sip.load(); });
  exporter_->add_readiness_check("media_server_healthy", [&] { return media.load(); });
  EXPECT_EQ(request(http::verb::get, "/readyz").result(), http::status::ok);

  media = false;
  res = request(http::verb::get, "/readyz");
  EXPECT_EQ(res.result(), http::status::service_unavailable);
  EXPECT_EQ(res.body(), "media_server_healthy\n");
  sip = false;
  EXPECT_EQ(request(http::verb::get, "/readyz").body(), "sip_listening\nmedia_server_healthy\n");

  sip = true;
  media = true;
  res = request(http::verb::get, "/readyz");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ready");

  exporter_->add_readiness_check("throws", []() -> bool { throw std::runtime_error("boom"); });
  res = request(http::verb::get, "/readyz");
  EXPECT_EQ(res.result(), http::status::service_unavailable);
  EXPECT_EQ(res.body(), "throws\n");
}

TEST_F(HttpExporterTest, ReadinessChecksRunOnTheExportersThread) {
  start();
  std::atomic<bool> on_loop_thread{false};
  auto loop_id = thread_.get_id();
  exporter_->add_readiness_check("thread", [&] {
    on_loop_thread = std::this_thread::get_id() == loop_id;
    return true;
  });
  request(http::verb::get, "/readyz");
  EXPECT_TRUE(on_loop_thread);
}

TEST_F(HttpExporterTest, UnknownPathsAndMethods) {
  start();
  EXPECT_EQ(request(http::verb::get, "/").result(), http::status::not_found);
  EXPECT_EQ(request(http::verb::get, "/metrics/x").result(), http::status::not_found);
  for (auto method : {http::verb::post, http::verb::put, http::verb::delete_, http::verb::options}) {
    auto res = request(method, "/metrics");
    EXPECT_EQ(res.result(), http::status::method_not_allowed) << method;
    EXPECT_EQ(res[http::field::allow], "GET, HEAD");
  }
}

TEST_F(HttpExporterTest, KeepsTheConnectionAlive) {
  start();
  auto socket = connect();
  for (const char* target : {"/metrics", "/healthz", "/nope", "/readyz"}) {
    auto res = exchange(socket, http::verb::get, target);
    EXPECT_TRUE(res.keep_alive()) << target;
  }
  auto last = exchange(socket, http::verb::get, "/healthz", false);
  EXPECT_FALSE(last.keep_alive());
  EXPECT_TRUE(closed_by_peer(socket, 2s));
}

TEST_F(HttpExporterTest, RefusesAHeaderOverTheLimitAndABody) {
  start();
  {
    auto socket = connect();
    std::string text = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
    asio::write(socket, asio::buffer(text));
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    EXPECT_EQ(res.result(), http::status::request_header_fields_too_large);
    EXPECT_TRUE(closed_by_peer(socket, 2s));
  }
  {
    auto socket = connect();
    std::string text = "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    asio::write(socket, asio::buffer(text));
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    EXPECT_EQ(res.result(), http::status::payload_too_large);
    EXPECT_TRUE(closed_by_peer(socket, 2s));
  }
  {
    auto socket = connect();
    std::string text = "NOT HTTP\r\n\r\n";
    asio::write(socket, asio::buffer(text));
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    EXPECT_EQ(res.result(), http::status::bad_request);
  }
  // A header just under the limit is served.
  auto socket = connect();
  std::string text = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(7000, 'a') + "\r\n\r\n";
  asio::write(socket, asio::buffer(text));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  EXPECT_EQ(res.result(), http::status::ok);
}

TEST_F(HttpExporterTest, AnIdleConnectionIsClosed) {
  util::HttpExporterOptions options;
  options.idle_timeout = 300ms;
  start(options);
  auto socket = connect();
  exchange(socket, http::verb::get, "/healthz");
  auto before = std::chrono::steady_clock::now();
  EXPECT_TRUE(closed_by_peer(socket, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - before, 250ms);
  // A half-sent request does not keep it open either.
  auto slow = connect();
  asio::write(slow, asio::buffer(std::string("GET /metrics HTTP/1.1\r\n")));
  EXPECT_TRUE(closed_by_peer(slow, 5s));
}

TEST_F(HttpExporterTest, ConnectionsBeyondTheLimitAreClosedAtOnce) {
  util::HttpExporterOptions options;
  options.max_connections = 2;
  start(options);
  auto a = connect();
  auto b = connect();
  exchange(a, http::verb::get, "/healthz");  // both accepted and served
  exchange(b, http::verb::get, "/healthz");
  auto c = connect();
  EXPECT_TRUE(closed_by_peer(c, 2s));
  // The two first ones still work; once one is closed, a new one is served.
  EXPECT_EQ(exchange(a, http::verb::get, "/healthz").result(), http::status::ok);
  b.close();
  std::optional<http::status> served;
  for (int i = 0; i < 50 && !served; ++i) {
    auto d = connect();
    try {
      served = exchange(d, http::verb::get, "/healthz").result();
    } catch (const boost::system::system_error&) {
      std::this_thread::sleep_for(20ms);  // b's end not yet seen by the exporter
    }
  }
  EXPECT_EQ(served, http::status::ok);
}

TEST_F(HttpExporterTest, StopClosesTheListenerAndTheConnections) {
  start();
  auto socket = connect();
  exchange(socket, http::verb::get, "/healthz");
  exporter_->stop();  // from another thread than the exporter's: posted
  EXPECT_TRUE(closed_by_peer(socket, 2s));
  tcp::socket late(client_io_);
  boost::system::error_code ec;
  late.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
  exporter_->stop();  // idempotent
}

TEST_F(HttpExporterTest, StopOnTheExecutorFreesThePortAtOnce) {
  util::HttpExporterOptions options;
  start(options);
  auto socket = connect();
  exchange(socket, http::verb::get, "/healthz");
  options.port = port_;
  std::shared_ptr<util::HttpExporter> again;
  on_loop([&] {
    exporter_->stop();
    again = util::HttpExporter::start(io_.get_executor(), registry_, options);
  });
  EXPECT_EQ(again->local_endpoint().port(), port_);
  EXPECT_TRUE(closed_by_peer(socket, 2s));
  auto fresh = connect();
  EXPECT_EQ(exchange(fresh, http::verb::get, "/healthz").result(), http::status::ok);
  on_loop([&] { again.reset(); });  // the destructor stops it
  tcp::socket late(client_io_);
  boost::system::error_code ec;
  late.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
}

TEST_F(HttpExporterTest, BindErrorsAndAddresses) {
  start();
  util::HttpExporterOptions taken;
  taken.port = port_;
  try {
    util::HttpExporter::start(io_.get_executor(), registry_, taken);
    ADD_FAILURE() << "bound a port in use";
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code(), asio::error::address_in_use);
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port_)), std::string::npos) << e.what();
  }
  util::HttpExporterOptions named;
  named.address = "localhost";
  EXPECT_THROW(util::HttpExporter::start(io_.get_executor(), registry_, named), std::invalid_argument);
  util::HttpExporterOptions none;
  none.max_connections = 0;
  EXPECT_THROW(util::HttpExporter::start(io_.get_executor(), registry_, none), std::invalid_argument);
  EXPECT_THROW(util::HttpExporter::start(io_.get_executor(), nullptr), std::invalid_argument);

  util::HttpExporterOptions v6;
  v6.address = "[::1]";
  v6.port = 0;
  std::shared_ptr<util::HttpExporter> six;
  try {
    six = util::HttpExporter::start(io_.get_executor(), registry_, v6);
  } catch (const boost::system::system_error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  EXPECT_TRUE(six->local_endpoint().address().is_v6());
  tcp::socket socket(client_io_);
  socket.connect(six->local_endpoint());
  EXPECT_EQ(exchange(socket, http::verb::get, "/healthz").result(), http::status::ok);
  on_loop([&] { six.reset(); });
}

// An application that stops its io_context and destroys it with connections still open:
// the coroutines' frames are destroyed unrun, and nothing they hold is used after it is freed
// (ASan checks it in the asan preset).
TEST(HttpExporterLifetime, DestroyedWithItsIoContextNotRunning) {
  auto registry = std::make_shared<metrics::Registry>();
  asio::io_context client_io;
  tcp::socket client(client_io);
  {
    asio::io_context io;
    util::HttpExporterOptions options;
    options.port = 0;
    auto exporter = util::HttpExporter::start(io.get_executor(), registry, options);
    client.connect(exporter->local_endpoint());
    std::string text = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(client, asio::buffer(text));
    io.run_for(200ms);  // accepted and answered; the connection waits for the next request
    exporter.reset();   // stop() posted: the io_context never runs it
  }
  pollfd p{client.native_handle(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(client, buffer, res);
  EXPECT_EQ(res.body(), "ok");
  boost::system::error_code ec;
  http::read(client, buffer, res, ec);
  EXPECT_EQ(ec, http::error::end_of_stream);  // closed when the io_context went
}

// Asio opens its sockets without FD_CLOEXEC: the exporter opens its own close-on-exec, so
// that a child process (sipp, Prometheus in the tests) inherits none.
TEST_F(HttpExporterTest, ItsSocketsAreCloseOnExec) {
  start();
  auto socket = connect();
  exchange(socket, http::verb::get, "/healthz");
  int found = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = std::stoi(entry.path().filename().string());
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.ss_family != AF_INET) continue;
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    if (ntohs(in->sin_port) != port_) continue;  // the client's own socket has another port
    ++found;
    EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0) << "fd " << fd;
  }
  EXPECT_EQ(found, 2);  // the listener and the accepted connection
}

}  // namespace
