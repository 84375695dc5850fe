// The engine under hostile or lossy input: TCP segmentation, UDP loss, malformed
// and oversized datagrams, and more new transactions than it may hold.
#include "astmrf_test/sipp.hpp"
#include "engine_harness.hpp"

#include <astmrf/sip/engine/engine.hpp>
#include <astmrf/sip/parser.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using astmrf::sip::IncomingRequest;
using astmrf::sip::ResponseSpec;
using astmrf::sip::Transport;
using astmrf_test::EngineHarness;

std::string options(const std::string& branch, const std::string& transport, std::uint16_t port) {
  return "OPTIONS sip:engine@127.0.0.1 SIP/2.0\r\n"
         "Via: SIP/2.0/" +
         transport + " 127.0.0.1:" + std::to_string(port) + ";branch=z9hG4bK" + branch +
         ";rport\r\n"
         "From: <sip:raw@127.0.0.1>;tag=raw" +
         branch +
         "\r\n"
         "To: <sip:engine@127.0.0.1>\r\n"
         "Call-ID: raw-" +
         branch +
         "\r\n"
         "CSeq: 1 OPTIONS\r\n"
         "Max-Forwards: 70\r\n"
         "Content-Length: 0\r\n\r\n";
}

void answer_everything(EngineHarness& harness) {
  harness.run([&] {
    harness.engine().on_request([](const std::shared_ptr<IncomingRequest>& request) {
      request->respond(ResponseSpec{200, {}, {}, {}, {}});
    });
    return 0;
  });
}

// Reads one SIP response (header section + Content-Length body) from a stream.
std::string read_response(asio::ip::tcp::socket& socket, asio::streambuf& buffer) {
  asio::read_until(socket, buffer, "\r\n\r\n");
  std::string data(asio::buffers_begin(buffer.data()), asio::buffers_end(buffer.data()));
  auto end = data.find("\r\n\r\n") + 4;
  buffer.consume(end);  // our responses have no body
  return data.substr(0, end);
}

TEST(EngineRobustness, TcpTwoMessagesInOneSegmentAndOneMessageInPieces) {
  EngineHarness harness;
  answer_everything(harness);
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), harness.port(Transport::tcp)});
  auto local_port = socket.local_endpoint().port();

  std::string both = options("seg1", "TCP", local_port) + options("seg2", "TCP", local_port);
  asio::write(socket, asio::buffer(both));
  asio::streambuf buffer;
  auto first = read_response(socket, buffer);
  auto second = read_response(socket, buffer);
  EXPECT_NE(first.find("SIP/2.0 200"), std::string::npos) << first;
  EXPECT_NE(first.find("z9hG4bKseg1"), std::string::npos) << first;
  EXPECT_NE(second.find("z9hG4bKseg2"), std::string::npos) << second;

  std::string pieces = "\r\n\r\n" + options("seg3", "TCP", local_port);  // keep-alive first
  for (std::size_t at = 0; at < pieces.size(); at += 37) {
    asio::write(socket, asio::buffer(pieces.substr(at, 37)));
    std::this_thread::sleep_for(2ms);
  }
  asio::read_until(socket, buffer, "\r\n");  // the keep-alive pong
  std::string pong(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + 2);
  EXPECT_EQ(pong, "\r\n");
  buffer.consume(2);
  auto third = read_response(socket, buffer);
  EXPECT_NE(third.find("z9hG4bKseg3"), std::string::npos) << third;
}

// The descriptors of this process that are sockets bound to local port `port`: (fd, close-on-exec).
std::vector<std::pair<int, bool>> sockets_on_port(std::uint16_t port) {
  std::vector<std::pair<int, bool>> found;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return found;
  while (const dirent* entry = ::readdir(dir)) {
    const int fd = std::atoi(entry->d_name);
    struct stat info {};
    if (entry->d_name[0] == '.' || fd == ::dirfd(dir) || ::fstat(fd, &info) != 0 || !S_ISSOCK(info.st_mode)) continue;
    sockaddr_storage local{};
    socklen_t size = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size) != 0 || local.ss_family != AF_INET) continue;
    if (ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port) != port) continue;
    found.emplace_back(fd, (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  }
  ::closedir(dir);
  return found;
}

// A process the application spawns must not inherit the engine's sockets (and hold its ports):
// the UDP socket, the TCP listener and an accepted connection are all close-on-exec.
TEST(EngineRobustness, SocketsAreCloseOnExec) {
  EngineHarness harness;
  answer_everything(harness);
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), harness.port(Transport::tcp)});
  asio::write(socket, asio::buffer(options("cloexec", "TCP", socket.local_endpoint().port())));
  asio::streambuf buffer;
  EXPECT_NE(read_response(socket, buffer).find("SIP/2.0 200"), std::string::npos);  // accepted by now

  auto sockets = sockets_on_port(harness.port(Transport::udp));
  if (harness.port(Transport::tcp) != harness.port(Transport::udp)) {
    const auto tcp = sockets_on_port(harness.port(Transport::tcp));
    sockets.insert(sockets.end(), tcp.begin(), tcp.end());
  }
  EXPECT_GE(sockets.size(), 3u) << "the UDP socket, the TCP listener and the accepted connection";
  for (const auto& [fd, cloexec] : sockets) EXPECT_TRUE(cloexec) << "descriptor " << fd;
}

TEST(EngineRobustness, UdpLossIsRecoveredByRetransmissions) {
  // RFC 3261 timers here, not the harness's fast ones: sipp retransmits its BYE after 0.5, 1.5
  // and 3.5 s, and with T1 = 50 ms the engine would forget the answered BYE after 64·T1 = 3.2 s
  // and answer a late retransmission with 481 (a test artefact, about one run in four).
  auto config = EngineHarness::test_config();
  config.timers.t1 = std::chrono::milliseconds(500);
  config.timers.t2 = std::chrono::milliseconds(4000);
  config.timers.t4 = std::chrono::milliseconds(5000);
  EngineHarness harness(config);
  harness.run([&] {
    harness.engine().on_request([](const std::shared_ptr<IncomingRequest>& request) {
      request->respond(ResponseSpec{200, {}, {}, {}, {}});
    });
    return 0;
  });
  astmrf_test::SippCall call;
  call.scenario = std::string(ENGINE_SIPP_DIR) + "/uac-invite-bye.xml";
  call.remote = harness.address(Transport::udp);
  call.calls = 20;
  call.timeout = std::chrono::seconds(90);
  // sipp drops 10% of what it sends and receives; the seed fixes which ones.
  call.extra_args = {"-lost", "10", "-r", "10", "-l", "5"};
  auto result = astmrf_test::SippProcess(call).wait(100s);
  EXPECT_EQ(result.exit_code, 0) << result.output.substr(0, 4000);
  auto stats = harness.run([&] { return harness.engine().stats(); });
  EXPECT_GT(stats.retransmissions_sent + stats.retransmissions_absorbed, 0u);
}

TEST(EngineRobustness, MalformedAndOversizedDatagramsDoNotStopTheEngine) {
  auto config = EngineHarness::test_config();
  config.max_message_size = 4096;
  EngineHarness harness(config);
  answer_everything(harness);
  asio::io_context ioc;
  asio::ip::udp::socket socket(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::udp::endpoint engine{asio::ip::make_address("127.0.0.1"), harness.port(Transport::udp)};
  auto local_port = socket.local_endpoint().port();

  socket.send_to(asio::buffer(std::string("\x01\x02garbage\r\n\r\n")), engine);
  socket.send_to(asio::buffer(std::string(10000, 'A')), engine);
  std::string bad_cseq = options("bad", "UDP", local_port);
  bad_cseq.replace(bad_cseq.find("CSeq: 1 OPTIONS"), 15, "CSeq: x OPTIONS");
  socket.send_to(asio::buffer(bad_cseq), engine);

  // The one with readable Via/From/To/Call-ID gets a 400 with the reason.
  std::array<char, 8192> reply{};
  socket.non_blocking(false);
  asio::ip::udp::endpoint from;
  std::size_t size = socket.receive_from(asio::buffer(reply), from);
  std::string response(reply.data(), size);
  EXPECT_NE(response.find("SIP/2.0 400"), std::string::npos) << response;
  EXPECT_NE(response.find("Warning: 399"), std::string::npos) << response;

  // And the engine still answers the next valid request.
  socket.send_to(asio::buffer(options("good", "UDP", local_port)), engine);
  size = socket.receive_from(asio::buffer(reply), from);
  response.assign(reply.data(), size);
  EXPECT_NE(response.find("SIP/2.0 200"), std::string::npos) << response;
  auto stats = harness.run([&] { return harness.engine().stats(); });
  EXPECT_GE(stats.parse_errors, 2u);
}

TEST(EngineRobustness, TooManyTransactionsGet503WithRetryAfter) {
  auto config = EngineHarness::test_config();
  config.max_pending_server_transactions = 1;
  auto registry = std::make_shared<astmrf::util::metrics::Registry>();
  config.metrics = registry;
  EngineHarness harness(config);
  std::vector<std::shared_ptr<IncomingRequest>> held;
  harness.run([&] {
    harness.engine().on_request([&](const std::shared_ptr<IncomingRequest>& request) { held.push_back(request); });
    return 0;
  });
  asio::io_context ioc;
  asio::ip::udp::socket socket(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::udp::endpoint engine{asio::ip::make_address("127.0.0.1"), harness.port(Transport::udp)};
  auto local_port = socket.local_endpoint().port();
  socket.send_to(asio::buffer(options("held", "UDP", local_port)), engine);
  std::this_thread::sleep_for(100ms);
  socket.send_to(asio::buffer(options("over", "UDP", local_port)), engine);
  std::array<char, 8192> reply{};
  asio::ip::udp::endpoint from;
  auto size = socket.receive_from(asio::buffer(reply), from);
  std::string response(reply.data(), size);
  EXPECT_NE(response.find("SIP/2.0 503"), std::string::npos) << response;
  EXPECT_NE(response.find("Retry-After: 5"), std::string::npos) << response;
  EXPECT_NE(response.find("z9hG4bKover"), std::string::npos) << response;
  EXPECT_EQ(registry->counter("astmrf_sip_overload_rejections_total", "").with({})->value(), 1u);
  EXPECT_EQ(
      registry->counter("astmrf_sip_responses_sent_total", "", {"method", "class"}).with({"OPTIONS", "5xx"})->value(),
      1u);
  EXPECT_EQ(registry->gauge("astmrf_sip_transactions", "", {"kind"}).with({"server"})->value(), 1);
  harness.run([&] {
    for (auto& r : held) r->respond(ResponseSpec{486, {}, {}, {}, {}});
    held.clear();
    return 0;
  });
}

}  // namespace
