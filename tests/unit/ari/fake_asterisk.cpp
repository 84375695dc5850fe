#include "fake_asterisk.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <sys/socket.h>

namespace fake {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {
std::string base64(const std::string& in) {
  std::string out;
  out.resize(beast::detail::base64::encoded_size(in.size()));
  out.resize(beast::detail::base64::encode(out.data(), in.data(), in.size()));
  return out;
}
}  // namespace

struct Asterisk::WsConn {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;
  bool closed = false;
  bool accepted = false;  // guarded by Asterisk::mu_
  int fd = -1;
};

Asterisk::Asterisk(std::string user, std::string password) : expected_auth_("Basic " + base64(user + ":" + password)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("fake asterisk: cannot listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  route("GET /ari/asterisk/info", 200, fixture("asterisk-info.json"));
  acceptor_ = std::thread([this] { accept_loop(); });
}

Asterisk::~Asterisk() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  {
    std::lock_guard lk(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    for (auto& w : ws_) {
      std::lock_guard wl(w->mu);
      w->closed = true;
      w->cv.notify_all();
    }
  }
  acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lk(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void Asterisk::route(std::string method_and_path, std::function<HttpReply(const HttpRequest&)> fn) {
  std::lock_guard lk(mu_);
  routes_[std::move(method_and_path)] = std::move(fn);
}

void Asterisk::route(std::string method_and_path, unsigned status, std::string body) {
  route(std::move(method_and_path), [status, body](const HttpRequest&) { return HttpReply{status, body}; });
}

void Asterisk::push(const std::string& text) {
  std::lock_guard lk(mu_);
  for (auto& w : ws_) {
    std::lock_guard wl(w->mu);
    w->queue.push_back(text);
    w->cv.notify_all();
  }
}

void Asterisk::drop_websockets() {
  std::lock_guard lk(mu_);
  for (auto& w : ws_) {
    std::lock_guard wl(w->mu);
    w->closed = true;
    ::shutdown(w->fd, SHUT_RDWR);
    w->cv.notify_all();
  }
  ws_.clear();
}

bool Asterisk::wait_websockets(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] {
    return static_cast<std::size_t>(std::ranges::count_if(ws_, [](const auto& w) { return w->accepted; })) >= n;
  });
}

std::vector<HttpRequest> Asterisk::requests() const {
  std::lock_guard lk(mu_);
  return requests_;
}
std::vector<std::string> Asterisk::ws_targets() const {
  std::lock_guard lk(mu_);
  return ws_targets_;
}
std::vector<std::chrono::steady_clock::time_point> Asterisk::ws_attempt_times() const {
  std::lock_guard lk(mu_);
  return ws_times_;
}
std::vector<std::string> Asterisk::ws_authorizations() const {
  std::lock_guard lk(mu_);
  return ws_auth_;
}

void Asterisk::accept_loop() {
  for (;;) {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0 || stop_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    ++accepts_;
    std::lock_guard lk(mu_);
    open_fds_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

HttpReply Asterisk::dispatch(const HttpRequest& r) {
  if (r.authorization != expected_auth_) return {401, R"({"message":"Authentication required"})"};
  auto path = r.target.substr(0, r.target.find('?'));
  std::function<HttpReply(const HttpRequest&)> fn;
  {
    std::lock_guard lk(mu_);
    auto it = routes_.find(r.method + " " + path);
    if (it != routes_.end()) fn = it->second;
    for (const auto& [key, f] : routes_) {  // "METHOD /prefix*" routes
      if (fn) break;
      const auto prefix = std::string_view(key).substr(0, key.size() - 1);
      if (!key.empty() && key.back() == '*' && (r.method + " " + path).rfind(prefix, 0) == 0) fn = f;
    }
  }
  if (!fn) return {404, R"({"message":"Resource not found"})"};
  return fn(r);
}

void Asterisk::serve(int fd) {
  asio::io_context ioc;
  tcp::socket sock(ioc);
  boost::system::error_code ec;
  sock.assign(tcp::v4(), fd, ec);
  beast::flat_buffer buf;
  for (;;) {
    http::request<http::string_body> req;
    http::read(sock, buf, req, ec);
    if (ec) return;
    HttpRequest r;
    r.method = req.method_string();
    r.target = req.target();
    r.body = req.body();
    r.authorization = req[http::field::authorization];
    r.host = req[http::field::host];
    r.content_type = req[http::field::content_type];
    r.content_length = req[http::field::content_length];
    r.version = req.version();
    if (websocket::is_upgrade(req)) {
      {
        std::lock_guard lk(mu_);
        ws_targets_.push_back(r.target);
        ws_times_.push_back(std::chrono::steady_clock::now());
        ws_auth_.push_back(r.authorization);
      }
      if (r.authorization != expected_auth_ || refuse_ws_) {
        http::response<http::string_body> res{
            refuse_ws_ ? http::status::service_unavailable : http::status::unauthorized, 11};
        res.body() = R"({"message":"Authentication required"})";
        res.prepare_payload();
        http::write(sock, res, ec);
        return;
      }
      // Registered before the 101 goes out: the client counts itself connected as soon as it reads
      // the 101, and a drop_websockets() from then on must reach this socket.
      auto conn = std::make_shared<WsConn>();
      conn->fd = fd;
      {
        std::lock_guard lk(mu_);
        // The destructor may have closed every registered socket already: a late one would wait
        // for ever and the destructor's join with it.
        if (stop_) return;
        ws_.push_back(conn);
      }
      websocket::stream<tcp::socket> ws(std::move(sock));
      ws.accept(req, ec);
      if (ec) return;
      {
        std::lock_guard lk(mu_);
        conn->accepted = true;
      }
      cv_.notify_all();
      for (;;) {
        std::unique_lock wl(conn->mu);
        conn->cv.wait(wl, [&] { return conn->closed || !conn->queue.empty(); });
        if (conn->closed) return;
        auto text = std::move(conn->queue.front());
        conn->queue.pop_front();
        wl.unlock();
        ws.text(true);
        ws.write(asio::buffer(text), ec);
        if (ec) return;
      }
    }
    {
      std::lock_guard lk(mu_);
      requests_.push_back(r);
    }
    auto now = ++in_flight_;
    auto prev = max_in_flight_.load();
    while (now > prev && !max_in_flight_.compare_exchange_weak(prev, now)) {
    }
    auto reply = dispatch(r);
    if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
    --in_flight_;
    http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
    res.set(http::field::server, "Asterisk");
    if (!reply.body.empty()) res.set(http::field::content_type, "application/json");
    res.body() = reply.body;
    res.keep_alive(!reply.close && req.keep_alive());
    res.prepare_payload();
    http::write(sock, res, ec);
    if (ec || reply.close) return;
  }
}

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(ASTMRF_FIXTURES_DIR) + "/asterisk/" + name);
  if (!in) throw std::runtime_error("missing fixture " + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> fixture_events(const std::string& name) {
  std::vector<std::string> out;
  std::istringstream in(fixture(name));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto v = boost::json::parse(line);
    const auto& o = v.as_object();
    if (const auto* e = o.if_contains("event")) out.push_back(boost::json::serialize(*e));
  }
  return out;
}

std::string fixture_http_body(const std::string& name) {
  auto text = fixture(name);
  auto pos = text.find("\r\n\r\n");
  if (pos != std::string::npos) return text.substr(pos + 4);
  pos = text.find("\n\n");
  return pos == std::string::npos ? std::string() : text.substr(pos + 2);
}

}  // namespace fake
