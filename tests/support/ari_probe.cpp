#include "astmrf_test/ari_probe.hpp"

#include "astmrf_test/sandbox.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>

#include <deque>
#include <stdexcept>

namespace astmrf_test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

boost::json::value HttpResult::json() const {
  if (body.empty()) return nullptr;
  return boost::json::parse(body);
}

AriProbe::AriProbe(std::string host, std::uint16_t port, std::string user, std::string password)
    : host_(std::move(host)), port_(port), user_(std::move(user)), password_(std::move(password)) {}

AriProbe AriProbe::for_sandbox() {
  const auto& box = sandbox();
  return AriProbe(box.ari_host, box.ari_port, box.ari_user, box.ari_password);
}

std::string AriProbe::basic_auth() const {
  std::string credentials = user_ + ":" + password_;
  std::string encoded(beast::detail::base64::encoded_size(credentials.size()), '\0');
  encoded.resize(beast::detail::base64::encode(encoded.data(), credentials.data(), credentials.size()));
  return "Basic " + encoded;
}

HttpResult AriProbe::request(std::string_view method, std::string_view target) const {
  boost::asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  stream.connect(resolver.resolve(host_, std::to_string(port_)));

  http::request<http::empty_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host_ + ":" + std::to_string(port_));
  req.set(http::field::authorization, basic_auth());
  req.set(http::field::connection, "close");
  http::write(stream, req);

  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return HttpResult{res.result_int(), std::move(res.body())};
}

struct EventStream::Impl {
  boost::asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  std::deque<boost::json::object> events;
  std::optional<beast::error_code> failure;

  void read_next() {
    ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
      if (ec) {
        failure = ec;
        return;
      }
      auto value = boost::json::parse(beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
      if (value.is_object()) events.push_back(std::move(value.as_object()));
      read_next();
    });
  }
};

EventStream::EventStream(const AriProbe& ari, std::string_view app) : impl_(std::make_unique<Impl>()) {
  tcp::resolver resolver(impl_->ioc);
  beast::get_lowest_layer(impl_->ws).connect(resolver.resolve(ari.host(), std::to_string(ari.port())));
  impl_->ws.set_option(websocket::stream_base::decorator(
      [auth = ari.basic_auth()](websocket::request_type& req) { req.set(http::field::authorization, auth); }));
  std::string target = "/ari/events?app=" + std::string(app);
  impl_->ws.handshake(ari.host() + ":" + std::to_string(ari.port()), target);
  impl_->read_next();
}

EventStream::~EventStream() {
  beast::error_code ignored;
  beast::get_lowest_layer(impl_->ws).socket().close(ignored);
  impl_->ioc.poll();
}

std::optional<boost::json::object> EventStream::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (impl_->events.empty() && !impl_->failure) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    impl_->ioc.restart();
    impl_->ioc.run_one_for(deadline - now);
  }
  if (impl_->events.empty()) {
    if (impl_->failure) throw std::runtime_error("events WebSocket failed: " + impl_->failure->message());
    return std::nullopt;
  }
  auto event = std::move(impl_->events.front());
  impl_->events.pop_front();
  return event;
}

std::optional<boost::json::object> EventStream::wait_for(std::string_view type, std::chrono::milliseconds timeout,
                                                         const std::function<bool(const boost::json::object&)>& match) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto event = next(left);
    if (!event) return std::nullopt;
    const auto* event_type = event->if_contains("type");
    if (event_type != nullptr && event_type->is_string() && event_type->as_string() == type &&
        (!match || match(*event))) {
      return event;
    }
  }
}

}  // namespace astmrf_test
