#include "baresip_peer.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace astmrf_test {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// A TCP port on 127.0.0.1 free now, with the next one free too (baresip's TLS port).
std::uint16_t free_pair() {
  asio::io_context ioc;
  for (int i = 0; i < 50; ++i) {
    tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = a.local_endpoint().port();
    if (port == 65535) continue;
    boost::system::error_code ec;
    tcp::acceptor b(ioc);
    b.open(tcp::v4());
    b.bind({asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port + 1)}, ec);
    if (!ec) return port;
  }
  throw std::runtime_error("baresip: no two free ports in a row");
}

std::uint16_t free_tcp() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace

BaresipPeer::BaresipPeer(Options options) {
  std::string path = (std::filesystem::temp_directory_path() / "astmrf-baresip-XXXXXX").string();
  if (::mkdtemp(path.data()) == nullptr) throw std::runtime_error("baresip: mkdtemp failed");
  dir_ = path;
  sip_port_ = free_pair();
  ctrl_port_ = free_tcp();
  {
    std::ofstream config(dir_ / "config");
    config << "poll_method epoll\n"
           << "sip_listen 127.0.0.1:" << sip_port_ << "\n";
    if (!options.certificate.empty()) config << "sip_certificate " << options.certificate << "\n";
    if (!options.ca_file.empty()) config << "sip_cafile " << options.ca_file << "\n";
    config << "net_interface 127.0.0.1\n"
           << "audio_player aubridge,nil\naudio_source aubridge,nil\naudio_alert aubridge,nil\n"
           << "rtp_ports 40000-40999\n"
           << "module_path /usr/lib/baresip/modules\n"
           << "module g711.so\nmodule aubridge.so\nmodule account.so\nmodule menu.so\nmodule ctrl_tcp.so\n"
           << "ctrl_tcp_listen 127.0.0.1:" << ctrl_port_ << "\n";
    // No registration; incoming calls answered at once.
    if (!options.account.empty()) {
      std::ofstream(dir_ / "accounts") << options.account << "\n";
    } else {
      std::ofstream(dir_ / "accounts") << "<sip:" << options.user
                                       << "@127.0.0.1;transport=tls>;regint=0;answermode=auto;audio_codecs=PCMU\n";
    }
  }
  process_ = std::make_unique<Process>(std::vector<std::string>{"baresip", "-f", dir_.string()});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  boost::system::error_code ec;
  do {
    if (ctrl_.is_open()) ctrl_.close(ec);
    ctrl_.connect({asio::ip::make_address("127.0.0.1"), ctrl_port_}, ec);
    if (ec) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (ec && std::chrono::steady_clock::now() < deadline && process_->running());
  if (ec) {
    const auto output = process_->output();
    process_.reset();
    std::filesystem::remove_all(dir_, ec);  // no destructor runs after a throw
    throw std::runtime_error("baresip: no ctrl_tcp: " + output);
  }
  timeval tick{0, 200000};  // reads wake up to check their deadline
  ::setsockopt(ctrl_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
}

BaresipPeer::~BaresipPeer() {
  boost::system::error_code ec;
  command("quit");
  ctrl_.close(ec);
  if (process_) process_->wait(std::chrono::seconds(5));
  process_.reset();
  std::filesystem::remove_all(dir_, ec);
}

bool BaresipPeer::command(const std::string& command, const std::string& params) {
  const std::string token = "t" + std::to_string(++token_);
  const std::string json =
      R"({"command":")" + command + R"(","params":")" + params + R"(","token":")" + token + R"("})";
  const std::string frame = std::to_string(json.size()) + ":" + json + ",";
  boost::system::error_code ec;
  asio::write(ctrl_, asio::buffer(frame), ec);
  if (ec) return false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    auto message = read_netstring(deadline);
    if (message.empty()) return false;
    if (message.find(R"("token":")" + token + "\"") != std::string::npos)
      return message.find(R"("ok":true)") != std::string::npos;
    pending_.push_back(message);  // an event that came first
  }
}

std::string BaresipPeer::wait_event(const std::string& type, std::chrono::milliseconds timeout) {
  const std::string wanted = R"("type":")" + type + "\"";
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->find(wanted) == std::string::npos) continue;
    auto event = *it;
    pending_.erase(it);
    return event;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto message = read_netstring(deadline);
    if (message.empty()) return {};
    if (message.find(wanted) != std::string::npos) return message;
  }
}

std::string BaresipPeer::read_netstring(std::chrono::steady_clock::time_point deadline) {
  std::string length;
  char c = 0;
  boost::system::error_code ec;
  while (std::chrono::steady_clock::now() < deadline) {
    asio::read(ctrl_, asio::buffer(&c, 1), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec) return {};
    if (c == ':') break;
    if (c < '0' || c > '9') return {};
    length += c;
  }
  if (length.empty()) return {};
  std::string body(std::stoul(length) + 1, '\0');  // and the ','
  std::size_t got = 0;
  while (got < body.size() && std::chrono::steady_clock::now() < deadline) {
    got += ctrl_.read_some(asio::buffer(body.data() + got, body.size() - got), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return {};
  }
  if (got < body.size()) return {};
  body.pop_back();
  return body;
}

}  // namespace astmrf_test
