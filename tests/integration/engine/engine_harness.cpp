#include "engine_harness.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

namespace astmrf_test {

namespace asio = boost::asio;
using astmrf::sip::Transport;

astmrf::sip::EngineConfig EngineHarness::test_config() {
  astmrf::sip::EngineConfig config;
  config.listen = {{Transport::udp, "127.0.0.1", 0}, {Transport::tcp, "127.0.0.1", 0}};
  config.timers.t1 = std::chrono::milliseconds(50);
  config.timers.t2 = std::chrono::milliseconds(400);
  config.timers.t4 = std::chrono::milliseconds(500);
  config.user_agent = "astmrf-test";
  return config;
}

EngineHarness::EngineHarness(astmrf::sip::EngineConfig config) : work_(ioc_.get_executor()) {
  engine_ = std::make_unique<astmrf::sip::Engine>(ioc_.get_executor(), std::move(config));
  engine_->start();
  thread_ = std::thread([this] { ioc_.run(); });
}

EngineHarness::~EngineHarness() {
  run([this] {
    engine_->stop();
    return 0;
  });
  run([this] {
    engine_.reset();
    return 0;
  });
  work_.reset();
  ioc_.stop();
  thread_.join();
}

std::uint16_t EngineHarness::port(Transport transport) {
  return run([&] { return engine_->local_address(transport).port; });
}

std::string EngineHarness::address(Transport transport) { return "127.0.0.1:" + std::to_string(port(transport)); }

void EventLog::add(std::string event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  changed_.notify_all();
}

bool EventLog::wait_for(const std::string& event, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    for (const auto& e : events_) {
      if (e == event) return true;
    }
    return false;
  });
}

std::vector<std::string> EventLog::events() {
  std::lock_guard lock(mutex_);
  return events_;
}

std::string EventLog::joined() {
  std::string out;
  for (const auto& e : events()) out += e + "\n";
  return out;
}

std::uint16_t free_port(Transport transport) {
  asio::io_context ioc;
  if (transport == Transport::udp) {
    asio::ip::udp::socket s(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    return s.local_endpoint().port();
  }
  asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

bool wait_until_bound(Transport transport, std::uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::io_context ioc;
  while (std::chrono::steady_clock::now() < deadline) {
    boost::system::error_code ec;
    if (transport == Transport::udp) {
      asio::ip::udp::socket s(ioc);
      s.open(asio::ip::udp::v4());
      s.bind({asio::ip::make_address("127.0.0.1"), port}, ec);
    } else {
      asio::ip::tcp::socket s(ioc);
      s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
      if (!ec) return true;
      ec = asio::error::address_in_use;
      if (s.is_open()) {
        boost::system::error_code ignored;
        s.close(ignored);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (ec == asio::error::address_in_use) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace astmrf_test
