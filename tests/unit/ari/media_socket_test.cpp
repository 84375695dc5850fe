// ari::MediaSocket against a stand-in for chan_websocket's /media/<id> server: the upgrade
// (target, sub-protocol, no credentials), messages both ways, Asterisk's refusals, both ends'
// closes, the write queue's limit, cancellation and the open's deadline.
#include "client_run.hpp"
#include "fake_media_server.hpp"

#include <astmrf/ari/client.hpp>
#include <astmrf/ari/error.hpp>
#include <astmrf/ari/media_socket.hpp>
#include <astmrf/detail/async.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/websocket/error.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using astmrf::ari::Client;
using astmrf::ari::MediaSocket;

struct Received {
  bool text{false};
  std::vector<std::uint8_t> data{};
};

class MediaSocketTest : public ::testing::Test {
 protected:
  MediaSocketTest() { server_.allow("conn-1"); }

  astmrf::ari::ClientOptions options() const {
    astmrf::ari::ClientOptions o;
    o.url = server_.url();
    o.user = "astmrf";
    o.password = "secret";
    return o;
  }

  // Opens `id`; returns the error, and the socket in `out`.
  std::exception_ptr open(Client& client, const std::string& id, std::shared_ptr<MediaSocket>& out) {
    bool done = false;
    std::exception_ptr error;
    client.async_open_media_socket(id, [&](std::exception_ptr e, std::shared_ptr<MediaSocket> s) {
      done = true;
      error = e;
      out = std::move(s);
    });
    EXPECT_TRUE(fake::run_until(ioc_, [&] { return done; }));
    return error;
  }

  // Opens "conn-1" and starts reading into received_ / closed_.
  std::shared_ptr<MediaSocket> open_started(Client& client) {
    std::shared_ptr<MediaSocket> socket;
    auto e = open(client, "conn-1", socket);
    EXPECT_FALSE(e);
    if (!socket) return nullptr;
    socket->start(
        [this](bool text, std::span<const std::uint8_t> data) {
          received_.push_back({text, std::vector<std::uint8_t>(data.begin(), data.end())});
        },
        [this](boost::system::error_code ec) { closed_.push_back(ec); });
    return socket;
  }

  fake::MediaServer server_;
  boost::asio::io_context ioc_;
  std::vector<Received> received_;
  std::vector<boost::system::error_code> closed_;
};

template <typename E>
bool is(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

TEST_F(MediaSocketTest, ConnectsToMediaPathWithSubprotocolAndNoCredentials) {
  Client client(ioc_.get_executor(), options());
  auto socket = open_started(client);
  ASSERT_TRUE(socket);
  ASSERT_TRUE(server_.wait_connections(1));
  ASSERT_EQ(server_.targets().size(), 1U);
  EXPECT_EQ(server_.targets()[0], "/media/conn-1");
  EXPECT_EQ(server_.protocols()[0], "media");
  EXPECT_EQ(server_.authorizations()[0], "");
  EXPECT_EQ(socket->max_queued_messages(), 50U);
  EXPECT_EQ(socket->queued_messages(), 0U);
}

TEST_F(MediaSocketTest, PathKeepsTheHttpPrefix) {
  auto o = options();
  o.url = server_.url() + "/asterisk/ari";
  Client client(ioc_.get_executor(), o);
  std::shared_ptr<MediaSocket> socket;
  auto e = open(client, "conn-1", socket);
  EXPECT_TRUE(is<astmrf::ari::NotFound>(e));  // the fake serves /media only
  ASSERT_EQ(server_.targets().size(), 1U);
  EXPECT_EQ(server_.targets()[0], "/asterisk/media/conn-1");
}

TEST_F(MediaSocketTest, BinaryAndTextBothWays) {
  Client client(ioc_.get_executor(), options());
  auto socket = open_started(client);
  ASSERT_TRUE(socket);
  ASSERT_TRUE(server_.wait_connections(1));

  server_.send_binary({1, 2, 3, 0, 255});
  server_.send(true, R"({"event":"MEDIA_XON"})");
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return received_.size() == 2; }));
  EXPECT_FALSE(received_[0].text);
  EXPECT_EQ(received_[0].data, (std::vector<std::uint8_t>{1, 2, 3, 0, 255}));
  EXPECT_TRUE(received_[1].text);
  EXPECT_EQ(std::string(received_[1].data.begin(), received_[1].data.end()), R"({"event":"MEDIA_XON"})");

  const std::vector<std::uint8_t> frame(640, 0x7f);
  EXPECT_TRUE(socket->send_binary(frame));
  EXPECT_TRUE(socket->send_text(R"({"command":"FLUSH_MEDIA"})"));
  EXPECT_TRUE(socket->send_binary(std::vector<std::uint8_t>{9}));
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return server_.messages().size() == 3; }));
  const auto got = server_.messages();
  EXPECT_FALSE(got[0].text);
  EXPECT_EQ(got[0].data, std::string(640, '\x7f'));
  EXPECT_TRUE(got[1].text);
  EXPECT_EQ(got[1].data, R"({"command":"FLUSH_MEDIA"})");
  EXPECT_FALSE(got[2].text);
  EXPECT_EQ(got[2].data, std::string(1, '\x09'));
  EXPECT_EQ(socket->queued_messages(), 0U);
  EXPECT_TRUE(closed_.empty());
}

TEST_F(MediaSocketTest, EchoRoundTrip) {
  server_.set_echo(true);
  Client client(ioc_.get_executor(), options());
  auto socket = open_started(client);
  ASSERT_TRUE(socket);
  std::vector<std::uint8_t> frame(320);
  for (std::size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<std::uint8_t>(i);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(socket->send_binary(frame));
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return received_.size() == 10; }));
  for (const auto& r : received_) EXPECT_EQ(r.data, frame);
}

TEST_F(MediaSocketTest, UnknownIdIsNotFound) {
  Client client(ioc_.get_executor(), options());
  std::shared_ptr<MediaSocket> socket;
  auto e = open(client, "no-such-id", socket);
  EXPECT_TRUE(is<astmrf::ari::NotFound>(e));
  EXPECT_FALSE(socket);
}

TEST_F(MediaSocketTest, SecondConnectionIsConflict) {
  Client client(ioc_.get_executor(), options());
  auto first = open_started(client);
  ASSERT_TRUE(first);
  std::shared_ptr<MediaSocket> second;
  auto e = open(client, "conn-1", second);
  EXPECT_TRUE(is<astmrf::ari::Conflict>(e));
  EXPECT_FALSE(second);
}

TEST_F(MediaSocketTest, InvalidIdsAreRefusedWithoutARequest) {
  Client client(ioc_.get_executor(), options());
  for (const std::string id : {"", "a/b", "a b", "..", "x?y=1", "%41"}) {
    std::shared_ptr<MediaSocket> socket;
    auto e = open(client, id, socket);
    EXPECT_TRUE(is<std::invalid_argument>(e)) << id;
    EXPECT_FALSE(socket);
  }
  EXPECT_TRUE(server_.targets().empty());
}

TEST_F(MediaSocketTest, ServerCloseReportsClosedOnce) {
  Client client(ioc_.get_executor(), options());
  auto socket = open_started(client);
  ASSERT_TRUE(socket);
  server_.close_all();
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return !closed_.empty(); }));
  EXPECT_EQ(closed_[0], boost::beast::websocket::error::closed);
  EXPECT_FALSE(socket->send_binary(std::vector<std::uint8_t>{1}));  // nothing more is sent
  socket->close();                                                  // after the end: nothing
  fake::run_until(
      ioc_, [] { return false; }, 100ms);
  EXPECT_EQ(closed_.size(), 1U);
}

TEST_F(MediaSocketTest, OurCloseSendsCloseFrameAndReportsAbortedOnce) {
  Client client(ioc_.get_executor(), options());
  auto socket = open_started(client);
  ASSERT_TRUE(socket);
  ASSERT_TRUE(server_.wait_connections(1));
  socket->close();
  EXPECT_TRUE(closed_.empty());  // never inside close()
  socket->close();               // idempotent
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return !closed_.empty(); }));
  EXPECT_EQ(closed_[0], boost::asio::error::operation_aborted);
  EXPECT_FALSE(socket->send_text("x"));
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return server_.close_codes().size() == 1; }));
  EXPECT_EQ(server_.close_codes()[0], 1000);
  fake::run_until(
      ioc_, [] { return false; }, 100ms);
  EXPECT_EQ(closed_.size(), 1U);
}

TEST_F(MediaSocketTest, DroppingTheLastHandleCloses) {
  Client client(ioc_.get_executor(), options());
  auto socket = open_started(client);
  ASSERT_TRUE(socket);
  ASSERT_TRUE(server_.wait_connections(1));
  EXPECT_TRUE(socket->send_binary(std::vector<std::uint8_t>(160, 1)));  // in flight as it goes
  socket.reset();
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return server_.close_codes().size() == 1; }));
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return closed_.size() == 1; }));
  EXPECT_EQ(closed_[0], boost::asio::error::operation_aborted);
}

TEST_F(MediaSocketTest, QueueRefusesBeyondFifty) {
  Client client(ioc_.get_executor(), options());
  auto socket = open_started(client);
  ASSERT_TRUE(socket);
  // Nothing runs between the sends: one write is in flight, the rest queue.
  const std::vector<std::uint8_t> frame(640, 3);
  int accepted = 0;
  for (int i = 0; i < 60; ++i) accepted += socket->send_binary(frame) ? 1 : 0;
  EXPECT_EQ(accepted, 50);
  EXPECT_EQ(socket->queued_messages(), 50U);
  EXPECT_FALSE(socket->send_text("{}"));
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return server_.messages().size() == 50; }));
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return socket->queued_messages() == 0; }));
  EXPECT_TRUE(socket->send_binary(frame));  // drained: accepted again
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return server_.messages().size() == 51; }));
}

TEST_F(MediaSocketTest, CancellingTheOpenAbortsIt) {
  server_.set_hold_upgrades(true);
  Client client(ioc_.get_executor(), options());
  boost::asio::cancellation_signal cancel;
  bool done = false;
  std::exception_ptr error;
  std::shared_ptr<MediaSocket> socket;
  client.async_open_media_socket(
      "conn-1",
      boost::asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, std::shared_ptr<MediaSocket> s) {
        done = true;
        error = e;
        socket = std::move(s);
      }));
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return server_.targets().size() == 1; }));
  EXPECT_FALSE(done);
  cancel.emit(boost::asio::cancellation_type::terminal);
  ASSERT_TRUE(fake::run_until(ioc_, [&] { return done; }));
  EXPECT_TRUE(astmrf::detail::is_operation_aborted(error));
  EXPECT_FALSE(socket);
  fake::run_until(
      ioc_, [] { return false; }, 100ms);  // the failing handshake completes nothing twice
}

TEST_F(MediaSocketTest, UnansweredUpgradeTimesOut) {
  server_.set_hold_upgrades(true);
  auto o = options();
  o.connect_timeout = 200ms;
  Client client(ioc_.get_executor(), o);
  std::shared_ptr<MediaSocket> socket;
  const auto start = std::chrono::steady_clock::now();
  auto e = open(client, "conn-1", socket);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  ASSERT_TRUE(is<astmrf::ari::TransportError>(e));
  try {
    std::rethrow_exception(e);
  } catch (const astmrf::ari::TransportError& x) {
    EXPECT_EQ(x.code(), astmrf::ari::errc::timed_out);
  }
}

TEST_F(MediaSocketTest, NothingListeningIsATransportError) {
  auto o = options();
  {
    fake::MediaServer gone;
    o.url = gone.url();
  }
  Client client(ioc_.get_executor(), o);
  std::shared_ptr<MediaSocket> socket;
  auto e = open(client, "conn-1", socket);
  EXPECT_TRUE(is<astmrf::ari::TransportError>(e));
}

}  // namespace
