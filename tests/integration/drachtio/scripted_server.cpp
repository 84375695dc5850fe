#include "scripted_server.hpp"

#include "astmrf_test/process.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace astmrf_test::drachtio {

namespace asio = boost::asio;

std::vector<CapturedFrame> load_transcript(const std::string& name) {
  const std::string path = std::string(ASTMRF_DRACHTIO_FIXTURES_DIR) + "/jsonl/" + name + ".jsonl";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<CapturedFrame> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto object = boost::json::parse(line).as_object();
    CapturedFrame frame;
    frame.index = static_cast<int>(out.size()) + 1;
    frame.from_app = object.at("dir").as_string() == "app->server";
    frame.frame = std::string(object.at("frame").as_string());
    out.push_back(std::move(frame));
  }
  return out;
}

namespace {

wire::Frame decode(const std::string& bytes) {
  return wire::decode_payload(std::string_view(bytes).substr(bytes.find('#') + 1));
}

std::string describe(const wire::Frame& frame) {
  std::string out;
  for (std::size_t i = 0; i < frame.fields.size(); ++i) out += (i ? "|" : "") + frame.fields[i];
  if (frame.has_sip) out += "\n" + frame.sip;
  return out;
}

}  // namespace

std::string sip_of(const CapturedFrame& frame) { return decode(frame.frame).sip; }

void check_app_frame(const wire::Frame& actual, const wire::Frame& expected, std::map<std::string, std::string>& ids) {
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(what + "\n--- expected:\n" + describe(expected) + "\n--- actual:\n" + describe(actual));
  };
  if (actual.fields.size() != expected.fields.size()) fail("field count differs");
  for (std::size_t i = 1; i < expected.fields.size(); ++i) {
    if (actual.fields[i] != expected.fields[i]) fail("field " + std::to_string(i) + " differs");
  }
  if (actual.id().size() != 36) fail("the msgId is not a UUID");
  ids[std::string(expected.id())] = std::string(actual.id());
  if (actual.has_sip != expected.has_sip) fail("SIP part presence differs");
  // Byte for byte: the application puts on the wire what drachtio-srf put there.
  if (actual.sip != expected.sip) fail("SIP text differs");
}

ScriptedServer::ScriptedServer(asio::io_context& ioc, std::shared_ptr<asio::ssl::context> tls)
    : ioc_(ioc),
      tls_(std::move(tls)),
      acceptor_(ioc, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
      plain_(std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server)) {}

std::uint16_t ScriptedServer::port() const { return acceptor_.local_endpoint().port(); }

asio::awaitable<void> ScriptedServer::accept() {
  drop();
  auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
  ++accepted_;
  decoder_ = wire::FrameDecoder();
  stream_ = std::make_unique<Stream>(std::move(socket), tls_ ? *tls_ : *plain_);
  if (tls_) co_await stream_->async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
}

asio::awaitable<void> ScriptedServer::connect(std::uint16_t port) {
  drop();
  asio::ip::tcp::socket socket(ioc_);
  const asio::ip::tcp::endpoint app(asio::ip::make_address("127.0.0.1"), port);
  co_await socket.async_connect(app, asio::use_awaitable);
  decoder_ = wire::FrameDecoder();
  stream_ = std::make_unique<Stream>(std::move(socket), *plain_);
}

void ScriptedServer::drop() {
  if (!stream_) return;
  boost::system::error_code ignored;
  stream_->next_layer().close(ignored);
  stream_.reset();
}

asio::awaitable<wire::Frame> ScriptedServer::read() {
  wire::Frame frame;
  std::array<char, 4096> buffer{};
  while (true) {
    auto status = decoder_.next(frame);
    if (status == wire::FrameDecoder::Status::frame) co_return frame;
    if (status == wire::FrameDecoder::Status::error)
      throw std::runtime_error("app sent a bad frame: " + decoder_.error());
    std::size_t n = tls_ ? co_await stream_->async_read_some(asio::buffer(buffer), asio::use_awaitable)
                         : co_await stream_->next_layer().async_read_some(asio::buffer(buffer), asio::use_awaitable);
    decoder_.feed(std::string_view(buffer.data(), n));
  }
}

asio::awaitable<void> ScriptedServer::expect_closed() {
  std::array<char, 4096> buffer{};
  wire::Frame frame;
  while (true) {
    if (decoder_.next(frame) == wire::FrameDecoder::Status::frame) {
      throw std::runtime_error("expected the application to close, got: " + std::string(frame.type()));
    }
    boost::system::error_code ec;
    std::size_t n =
        tls_ ? co_await stream_->async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec))
             : co_await stream_->next_layer().async_read_some(asio::buffer(buffer),
                                                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    decoder_.feed(std::string_view(buffer.data(), n));
  }
}

asio::awaitable<void> ScriptedServer::write(std::string bytes) {
  if (tls_) {
    co_await asio::async_write(*stream_, asio::buffer(bytes), asio::use_awaitable);
  } else {
    co_await asio::async_write(stream_->next_layer(), asio::buffer(bytes), asio::use_awaitable);
  }
}

asio::awaitable<void> ScriptedServer::replay(const std::vector<CapturedFrame>& transcript, int from, int to,
                                             std::set<int> skip) {
  for (const auto& captured : transcript) {
    if (captured.index < from || (to > 0 && captured.index > to) || skip.count(captured.index)) continue;
    wire::Frame expected = decode(captured.frame);
    if (captured.from_app) {
      wire::Frame actual = co_await read();
      try {
        check_app_frame(actual, expected, ids);
      } catch (const std::exception& e) {
        throw std::runtime_error("frame [" + std::to_string(captured.index) + "]: " + e.what());
      }
      continue;
    }
    // A response names the app frame it answers: use the application's real id.
    if (expected.type() == "response" && expected.fields.size() > 2) {
      auto it = ids.find(expected.fields[2]);
      if (it != ids.end()) expected.fields[2] = it->second;
    }
    std::string bytes = wire::encode(expected);
    co_await write(bytes);
  }
}

void make_self_signed(const std::string& dir) {
  std::filesystem::create_directories(dir);
  auto result = astmrf_test::run(
      {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/key.pem", "-out",
       dir + "/cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
      std::chrono::seconds(60));
  if (result.exit_code != 0) throw std::runtime_error("openssl could not make a certificate: " + result.output);
}

}  // namespace astmrf_test::drachtio
