// A loopback stand-in for chan_websocket's `/media/<connection_id>` server, for unit tests of
// ari::MediaSocket and of the mrf websocket transport: ids the test allows are upgraded
// (sub-protocol `media` echoed when offered), others get 404, a second connection to one id 409,
// like Asterisk. Everything runs on the server's own io_context and thread; the test talks to it
// through thread-safe calls (send, close, wait_*).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace fake {

class MediaServer {
 public:
  struct Message {
    bool text{false};
    std::string data{};
  };

  MediaServer() : acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~MediaServer() {
    boost::asio::post(ioc_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto& s : sessions_) s->shutdown();
      sessions_.clear();
      ioc_.stop();
    });
    thread_.join();
  }
  MediaServer(const MediaServer&) = delete;
  MediaServer& operator=(const MediaServer&) = delete;

  std::uint16_t port() const { return port_; }
  /// The ARI URL of this "Asterisk": the client strips /ari and asks for /media/<id>.
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  /// Lets `id` connect.
  void allow(const std::string& id) {
    std::lock_guard lk(mu_);
    allowed_.insert(id);
  }
  /// Echo every message back (its kind kept).
  void set_echo(bool echo) { echo_ = echo; }
  /// Read upgrade requests but never answer them (for timeouts and cancellation).
  void set_hold_upgrades(bool hold) { hold_ = hold; }

  /// Sends one message on every open media connection.
  void send(bool text, std::string data) {
    boost::asio::post(ioc_, [this, text, d = std::move(data)] {
      for (auto& s : sessions_) s->send(text, d);
    });
  }
  void send_binary(const std::vector<std::uint8_t>& bytes) { send(false, std::string(bytes.begin(), bytes.end())); }
  /// Closes every open media connection with a close frame (what Asterisk does on hangup).
  void close_all() {
    boost::asio::post(ioc_, [this] {
      for (auto& s : sessions_) s->close();
    });
  }

  bool wait_connections(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, limit, [&] { return connections_ >= n; });
  }
  bool wait_messages(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, limit, [&] { return messages_.size() >= n; });
  }
  bool wait_disconnects(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, limit, [&] { return disconnects_ >= n; });
  }
  bool wait_requests(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, limit, [&] { return targets_.size() >= n; });
  }
  std::vector<Message> messages() const {
    std::lock_guard lk(mu_);
    return messages_;
  }
  /// The upgrade requests' targets, Sec-WebSocket-Protocol and Authorization headers.
  std::vector<std::string> targets() const {
    std::lock_guard lk(mu_);
    return targets_;
  }
  std::vector<std::string> protocols() const {
    std::lock_guard lk(mu_);
    return protocols_;
  }
  std::vector<std::string> authorizations() const {
    std::lock_guard lk(mu_);
    return authorizations_;
  }
  /// The close codes the clients sent (a close frame), in order.
  std::vector<int> close_codes() const {
    std::lock_guard lk(mu_);
    return close_codes_;
  }
  std::size_t connections() const {
    std::lock_guard lk(mu_);
    return connections_;
  }

 private:
  using tcp = boost::asio::ip::tcp;
  using Ws = boost::beast::websocket::stream<tcp::socket>;

  // One connection: the upgrade, then reads (recorded, echoed) and a write queue. Server thread only.
  struct Session : std::enable_shared_from_this<Session> {
    Session(MediaServer& server, tcp::socket socket) : srv(server), ws(std::move(socket)) {}

    void start() {
      auto self = shared_from_this();
      boost::beast::http::async_read(ws.next_layer(), buffer, req, [self](boost::system::error_code ec, std::size_t) {
        if (!ec) self->on_request();
      });
    }

    void on_request() {
      namespace http = boost::beast::http;
      const std::string target(req.target());
      {
        std::lock_guard lk(srv.mu_);
        srv.targets_.push_back(target);
        srv.protocols_.emplace_back(req[http::field::sec_websocket_protocol]);
        srv.authorizations_.emplace_back(req[http::field::authorization]);
      }
      srv.cv_.notify_all();
      if (srv.hold_) return;  // never answered; the client times out or cancels
      constexpr std::string_view kPrefix = "/media/";
      unsigned status = 0;
      if (target.rfind(kPrefix, 0) != 0) {
        status = 404;
      } else {
        id = target.substr(kPrefix.size());
        std::lock_guard lk(srv.mu_);
        if (!srv.allowed_.contains(id)) {
          status = 404;
        } else if (srv.connected_ids_.contains(id)) {
          status = 409;
        } else {
          srv.connected_ids_.insert(id);
        }
      }
      auto self = shared_from_this();
      if (status != 0) {
        auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
        res->body() = status == 404 ? "Not found" : "Conflict";
        res->prepare_payload();
        http::async_write(ws.next_layer(), *res, [self, res](boost::system::error_code, std::size_t) {
          boost::system::error_code ignored;
          self->ws.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
        });
        return;
      }
      const bool offered = !req[http::field::sec_websocket_protocol].empty();
      ws.set_option(
          boost::beast::websocket::stream_base::decorator([offered](boost::beast::websocket::response_type& r) {
            if (offered) r.set(http::field::sec_websocket_protocol, "media");
          }));
      ws.async_accept(req, [self](boost::system::error_code ec) {
        if (ec) return;
        self->open = true;
        {
          std::lock_guard lk(self->srv.mu_);
          ++self->srv.connections_;
        }
        self->srv.cv_.notify_all();
        self->read();
      });
    }

    void read() {
      auto self = shared_from_this();
      ws.async_read(rbuf, [self](boost::system::error_code ec, std::size_t) {
        if (ec) {
          self->gone();
          return;
        }
        Message m{self->ws.got_text(), boost::beast::buffers_to_string(self->rbuf.data())};
        self->rbuf.consume(self->rbuf.size());
        if (self->srv.echo_) self->send(m.text, m.data);
        {
          std::lock_guard lk(self->srv.mu_);
          self->srv.messages_.push_back(std::move(m));
        }
        self->srv.cv_.notify_all();
        self->read();
      });
    }

    void gone() {
      if (!open) return;
      open = false;
      {
        std::lock_guard lk(srv.mu_);
        ++srv.disconnects_;
        srv.connected_ids_.erase(id);
        if (ws.reason().code != boost::beast::websocket::close_code::none) {
          srv.close_codes_.push_back(static_cast<int>(ws.reason().code));
        }
      }
      srv.cv_.notify_all();
    }

    void send(bool text, std::string data) {
      if (!open) return;
      out.push_back({text, std::move(data)});
      if (out.size() == 1) write();
    }
    void write() {
      auto self = shared_from_this();
      ws.text(out.front().text);
      ws.async_write(boost::asio::buffer(out.front().data), [self](boost::system::error_code ec, std::size_t) {
        self->out.pop_front();
        if (!ec && !self->out.empty()) self->write();
      });
    }
    void close() {
      if (!open) return;
      ws.async_close(boost::beast::websocket::close_code::normal,
                     [self = shared_from_this()](boost::system::error_code) {});
    }
    void shutdown() {
      boost::system::error_code ignored;
      ws.next_layer().close(ignored);
    }

    MediaServer& srv;
    Ws ws;
    boost::beast::flat_buffer buffer;
    boost::beast::flat_buffer rbuf;
    boost::beast::http::request<boost::beast::http::string_body> req;
    std::deque<Message> out;
    std::string id;
    bool open{false};
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto s = std::make_shared<Session>(*this, std::move(socket));
      sessions_.push_back(s);
      s->start();
      accept();
    });
  }

  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_{0};
  std::thread thread_;
  std::vector<std::shared_ptr<Session>> sessions_;  // server thread only
  std::atomic<bool> echo_{false};
  std::atomic<bool> hold_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> allowed_;
  std::set<std::string> connected_ids_;
  std::vector<Message> messages_;
  std::vector<std::string> targets_;
  std::vector<std::string> protocols_;
  std::vector<std::string> authorizations_;
  std::vector<int> close_codes_;
  std::size_t connections_{0};
  std::size_t disconnects_{0};
};

}  // namespace fake
