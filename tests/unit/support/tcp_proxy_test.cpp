// astmrf_test::TcpProxy over loopback, in front of a small echo server: relaying, resets
// of live and new connections, black holes in both directions, and pass again.
#include "astmrf_test/tcp_proxy.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <poll.h>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

// Echoes every byte back on each connection and counts the bytes it received.
class EchoServer {
 public:
  EchoServer() {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::address_v4::loopback(), 0});
    acceptor_.listen();
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EchoServer() {
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::size_t received() const { return received_.load(); }

 private:
  struct Session {
    explicit Session(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::array<char, 4096> buffer{};
  };

  void accept() {
    acceptor_.async_accept([this](const error_code& error, tcp::socket socket) {
      if (error) return;
      echo(std::make_shared<Session>(std::move(socket)));
      accept();
    });
  }
  void echo(std::shared_ptr<Session> session) {
    session->socket.async_read_some(asio::buffer(session->buffer),
                                    [this, session](const error_code& error, std::size_t n) {
                                      if (error) return;
                                      received_ += n;
                                      asio::async_write(session->socket, asio::buffer(session->buffer.data(), n),
                                                        [this, session](const error_code& write_error, std::size_t) {
                                                          if (!write_error) echo(session);
                                                        });
                                    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::thread thread_;
  std::atomic<std::size_t> received_{0};
};

// A blocking client socket of the test's own.
class Client {
 public:
  explicit Client(std::uint16_t port) { socket_.connect({asio::ip::address_v4::loopback(), port}); }
  void send(const std::string& text) { asio::write(socket_, asio::buffer(text)); }
  // Waits up to `timeout` for something to read; false when nothing came.
  bool readable_within(std::chrono::milliseconds timeout) {
    pollfd fd{socket_.native_handle(), POLLIN, 0};
    return ::poll(&fd, 1, static_cast<int>(timeout.count())) > 0;
  }
  // Reads exactly n bytes (after readable_within said so).
  std::string read(std::size_t n, error_code& error) {
    std::string out(n, '\0');
    const auto got = asio::read(socket_, asio::buffer(out), error);
    out.resize(got);
    return out;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_{io_};
};

bool wait_until(const auto& condition, std::chrono::milliseconds timeout = 2s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A closed connection reads as end of file or as reset, depending on FIN or RST.
bool closed_by_peer(const error_code& error) {
  return error == asio::error::eof || error == asio::error::connection_reset;
}

TEST(TcpProxy, PassRelaysBothWays) {
  EchoServer echo;
  astmrf_test::TcpProxy proxy(echo.port());
  EXPECT_NE(proxy.port(), 0);
  EXPECT_EQ(proxy.mode(), astmrf_test::TcpProxyMode::pass);
  Client client(proxy.port());
  client.send("hello");
  ASSERT_TRUE(client.readable_within(2s));
  error_code error;
  EXPECT_EQ(client.read(5, error), "hello");
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(proxy.connections(), 1u);
  EXPECT_EQ(echo.received(), 5u);
}

TEST(TcpProxy, ListensOnAGivenPort) {
  EchoServer echo;
  std::uint16_t port = 0;
  {
    astmrf_test::TcpProxy probe(echo.port());
    port = probe.port();
  }
  astmrf_test::TcpProxy proxy(echo.port(), port);
  EXPECT_EQ(proxy.port(), port);
  Client client(port);
  client.send("x");
  ASSERT_TRUE(client.readable_within(2s));
}

TEST(TcpProxy, ResetClosesLiveConnectionsAndRefusesNewOnes) {
  EchoServer echo;
  astmrf_test::TcpProxy proxy(echo.port());
  Client first(proxy.port());
  Client second(proxy.port());
  ASSERT_TRUE(wait_until([&] { return proxy.connections() == 2; })) << proxy.connections();

  proxy.reset();
  EXPECT_EQ(proxy.mode(), astmrf_test::TcpProxyMode::reset);
  for (Client* client : {&first, &second}) {
    ASSERT_TRUE(client->readable_within(2s));
    error_code error;
    EXPECT_EQ(client->read(1, error), "");
    EXPECT_TRUE(closed_by_peer(error)) << error.message();
  }
  EXPECT_TRUE(wait_until([&] { return proxy.connections() == 0; })) << proxy.connections();

  // A new connection is accepted (the kernel completes the handshake) and reset at once.
  Client late(proxy.port());
  ASSERT_TRUE(late.readable_within(2s));
  error_code error;
  EXPECT_EQ(late.read(1, error), "");
  EXPECT_TRUE(closed_by_peer(error)) << error.message();
  EXPECT_EQ(proxy.connections(), 0u);
  EXPECT_EQ(proxy.accepted(), 3u);
  EXPECT_EQ(echo.received(), 0u);
}

TEST(TcpProxy, BlackholeDropsBothWaysAndKeepsConnectionsOpen) {
  EchoServer echo;
  astmrf_test::TcpProxy proxy(echo.port());
  Client before(proxy.port());
  before.send("a");
  ASSERT_TRUE(before.readable_within(2s));
  error_code error;
  ASSERT_EQ(before.read(1, error), "a");

  proxy.blackhole();
  before.send("dropped");
  EXPECT_FALSE(before.readable_within(300ms));  // neither an echo nor a close
  EXPECT_EQ(echo.received(), 1u);

  Client during(proxy.port());
  during.send("dropped too");
  EXPECT_FALSE(during.readable_within(300ms));
  EXPECT_TRUE(wait_until([&] { return proxy.connections() == 2; })) << proxy.connections();
  EXPECT_EQ(echo.received(), 1u);

  // Pass again: new connections relay, and so does the one made in pass mode.
  proxy.pass();
  Client after(proxy.port());
  after.send("back");
  ASSERT_TRUE(after.readable_within(2s));
  EXPECT_EQ(after.read(4, error), "back");
  before.send("b");
  ASSERT_TRUE(before.readable_within(2s));
  EXPECT_EQ(before.read(1, error), "b");
  // The connection made in the black hole has no upstream and stays one.
  during.send("still dropped");
  EXPECT_FALSE(during.readable_within(200ms));
  EXPECT_EQ(echo.received(), 1u + 4u + 1u);
}

TEST(TcpProxy, ConnectionsCountFallsWhenClientsLeave) {
  EchoServer echo;
  astmrf_test::TcpProxy proxy(echo.port());
  {
    Client client(proxy.port());
    client.send("x");
    ASSERT_TRUE(client.readable_within(2s));
    EXPECT_EQ(proxy.connections(), 1u);
  }
  EXPECT_TRUE(wait_until([&] { return proxy.connections() == 0; })) << proxy.connections();
}

TEST(TcpProxy, UnreachableTargetClosesTheClient) {
  std::uint16_t dead_port = 0;
  {
    EchoServer gone;
    dead_port = gone.port();
  }
  astmrf_test::TcpProxy proxy(dead_port);
  Client client(proxy.port());
  ASSERT_TRUE(client.readable_within(2s));
  error_code error;
  EXPECT_EQ(client.read(1, error), "");
  EXPECT_TRUE(closed_by_peer(error)) << error.message();
}

}  // namespace
