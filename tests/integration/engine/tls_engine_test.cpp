// SIP over TLS between two embedded engines, and the refusals: a certificate from a CA not
// trusted, a host name or IP address the certificate does not carry, a peer that never
// completes its handshake, plaintext on a TLS port; RFC 5923 alias. A test-made PKI
// (openssl CLI, temporary directory); nothing from the network.
#include "engine_harness.hpp"
#include "tls_pki.hpp"

#include <astmrf/sip/engine/engine.hpp>
#include <astmrf/sip/engine/tls_error.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>

#include <sys/socket.h>
#include <sys/time.h>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace sip = astmrf::sip;
using astmrf_test::EngineHarness;
using astmrf_test::EventLog;
using astmrf_test::TestPki;
using sip::Transport;

struct Outcome {
  int status{0};
  std::string reason;
  bool local{false};
  boost::system::error_code transport_error;
};

class TlsEngineTest : public testing::Test {
 protected:
  TlsEngineTest() { server_leaf = pki.issue("sip.test", {"IP:127.0.0.1", "DNS:sip.test"}); }

  // UDP and TLS on loopback, presenting `leaf`; trusting the test CA (and nothing else).
  sip::EngineConfig config(const TestPki::Leaf& leaf) {
    auto c = EngineHarness::test_config();
    sip::ListenPoint tls{Transport::tls, "127.0.0.1", 0};
    tls.tls.certificate_file = leaf.certificate;
    tls.tls.key_file = leaf.key;
    c.listen = {{Transport::udp, "127.0.0.1", 0}, tls};
    c.tls_client.ca_file = pki.ca_file();
    c.tls_client.use_default_verify_paths = false;
    return c;
  }

  // The UAS: answers every INVITE 200 and every other request 200; logs what it got.
  static void answer_everything(EngineHarness& h, EventLog& log) {
    h.run([&] {
      h.engine().on_request([&](const std::shared_ptr<sip::IncomingRequest>& req) {
        log.add("uas " + std::string(req->message().method()) + " over " +
                std::string(sip::uri_param(req->source().transport)));
        auto dialog = req->respond({200, "OK", {}, {}, {}});
        if (dialog) {
          dialog->on_request([&](const std::shared_ptr<sip::IncomingRequest>& in_dialog) {
            log.add("uas in-dialog " + std::string(in_dialog->message().method()));
            in_dialog->respond({200, "OK", {}, {}, {}});
          });
          dialog->on_end([&](sip::DialogEndReason reason) {
            log.add(reason == sip::DialogEndReason::remote_bye ? "uas got BYE" : "uas dialog ended otherwise");
          });
        }
      });
      return 0;
    });
  }

  // Sends `spec` from `h` and waits for its final response (local ones included).
  static Outcome request(EngineHarness& h, const std::string& method, const std::string& uri) {
    sip::RequestSpec spec;
    spec.method = method;
    spec.uri = uri;
    auto done = std::make_shared<std::promise<Outcome>>();
    auto future = done->get_future();
    h.run([&] {
      auto holder = std::make_shared<std::shared_ptr<sip::ClientRequest>>();
      *holder = h.engine().send_request(
          spec, [done, holder](const sip::Message& response, const std::shared_ptr<sip::Dialog>& dialog) {
            if (response.status() < 200) return;
            Outcome o{response.status(), std::string(response.reason()), (*holder)->local_failure(),
                      (*holder)->transport_error()};
            if (dialog) dialog->bye();
            holder->reset();
            done->set_value(o);
          });
      return 0;
    });
    EXPECT_EQ(future.wait_for(20s), std::future_status::ready);
    return future.get();
  }

  std::string tls_uri(EngineHarness& h, const std::string& user = "b") {
    return "sip:" + user + "@127.0.0.1:" + std::to_string(h.port(Transport::tls)) + ";transport=tls";
  }

  TestPki pki;
  TestPki::Leaf server_leaf;
  EventLog log;
};

TEST_F(TlsEngineTest, ACallOverTlsReusesOneConnectionEachWay) {
  EngineHarness b(config(server_leaf));
  EngineHarness a(config(pki.issue("a.test", {"IP:127.0.0.1"})));
  answer_everything(b, log);
  auto invite = request(a, "INVITE", tls_uri(b));
  EXPECT_EQ(invite.status, 200) << invite.reason;
  EXPECT_TRUE(log.wait_for("uas INVITE over tls")) << log.joined();
  EXPECT_TRUE(log.wait_for("uas got BYE")) << log.joined();  // the ACK and BYE came the same way
  // sips: means TLS (RFC 3261 26.2).
  auto options = request(a, "OPTIONS", "sips:b@127.0.0.1:" + std::to_string(b.port(Transport::tls)));
  EXPECT_EQ(options.status, 200) << options.reason;
  EXPECT_EQ(a.run([&] { return a.engine().stats().tcp_connections; }), 1U);
  EXPECT_EQ(b.run([&] { return b.engine().stats().tcp_connections; }), 1U);
}

TEST_F(TlsEngineTest, ACertificateFromAnUntrustedCaIsRefusedWithTheReason) {
  EngineHarness b(config(server_leaf));
  auto c = config(server_leaf);
  c.tls_client.ca_file = pki.other_ca_file();
  EngineHarness a(c);
  answer_everything(b, log);
  auto o = request(a, "INVITE", tls_uri(b));
  EXPECT_EQ(o.status, 503);
  EXPECT_TRUE(o.local);
  EXPECT_EQ(o.reason, "TLS handshake failed: certificate verify failed (unable to get local issuer certificate)");
  EXPECT_TRUE(sip::is_tls_handshake_error(o.transport_error)) << o.transport_error.message();
  EXPECT_EQ(o.transport_error.category(), sip::tls_certificate_category());
  EXPECT_EQ(log.events().size(), 0U) << log.joined();  // nothing reached the server's application
}

TEST_F(TlsEngineTest, AHostNameTheCertificateDoesNotCarryIsRefused) {
  EngineHarness b(config(server_leaf));
  auto c = config(server_leaf);
  c.tls_client.server_name = "other.test";
  EngineHarness a(c);
  answer_everything(b, log);
  auto o = request(a, "OPTIONS", tls_uri(b));
  EXPECT_EQ(o.status, 503);
  EXPECT_EQ(o.reason, "TLS handshake failed: certificate verify failed (hostname mismatch)");
  EXPECT_TRUE(sip::is_tls_handshake_error(o.transport_error));
}

TEST_F(TlsEngineTest, AnAddressIsCheckedAgainstTheIpNamesAndANameAgainstTheDnsNames) {
  // The server's certificate names sip.test only: reached by address, it is refused...
  EngineHarness b(config(pki.issue("named", {"DNS:sip.test"})));
  answer_everything(b, log);
  {
    EngineHarness a(config(server_leaf));
    auto o = request(a, "OPTIONS", tls_uri(b));
    EXPECT_EQ(o.reason, "TLS handshake failed: certificate verify failed (IP address mismatch)");
  }
  // ...reached by its name (SNI sip.test), it is accepted.
  auto c = config(server_leaf);
  c.tls_client.server_name = "sip.test";
  EngineHarness a(c);
  auto o = request(a, "OPTIONS", tls_uri(b));
  EXPECT_EQ(o.status, 200) << o.reason;
}

TEST_F(TlsEngineTest, APeerThatNeverHandshakesTimesOut) {
  // A TCP listener that accepts and says nothing.
  asio::io_context ioc;
  asio::ip::tcp::acceptor silent(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  auto c = config(server_leaf);
  c.tls_handshake_timeout = 300ms;
  EngineHarness a(c);
  auto o =
      request(a, "OPTIONS", "sip:x@127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + ";transport=tls");
  EXPECT_EQ(o.status, 503);
  EXPECT_EQ(o.reason, "TLS handshake failed: timed out");
  EXPECT_EQ(a.run([&] { return a.engine().stats().tcp_connections; }), 0U);
}

TEST_F(TlsEngineTest, PlaintextOnATlsPortIsDroppedAndTheServerGoesOn) {
  auto c = config(server_leaf);
  c.tls_handshake_timeout = 500ms;
  EngineHarness b(c);
  answer_everything(b, log);
  {
    asio::io_context ioc;
    asio::ip::tcp::socket plain(ioc);
    plain.connect({asio::ip::make_address("127.0.0.1"), b.port(Transport::tls)});
    const std::string options =
        "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKplain\r\n"
        "From: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: plain\r\nCSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n";
    asio::write(plain, asio::buffer(options));
    std::array<char, 512> reply{};
    boost::system::error_code ec;
    std::size_t got = 0;
    for (;;) {  // whatever comes back (a TLS alert at most), then the close
      got += plain.read_some(asio::buffer(reply), ec);
      if (ec) break;
    }
    EXPECT_EQ(std::string(reply.data(), std::min<std::size_t>(got, 7)).find("SIP/2.0"), std::string::npos);
  }
  EngineHarness a(config(server_leaf));
  auto o = request(a, "OPTIONS", tls_uri(b));
  EXPECT_EQ(o.status, 200) << o.reason;
  EXPECT_EQ(log.events(), std::vector<std::string>{"uas OPTIONS over tls"});
}

// RFC 5923: a client whose verified certificate names its Via sent-by, with `alias`, gets the
// requests for that address over the connection it opened; without a certificate it does not.
class TlsAliasTest : public TlsEngineTest {
 protected:
  // Opens a TLS connection to `port` (with the client certificate when `leaf`), sends an
  // OPTIONS whose Via asks for an alias of 127.0.0.1:<alias_port>, reads the 200.
  void open_aliased(std::uint16_t port, std::uint16_t alias_port, const TestPki::Leaf* leaf) {
    tls_ctx.set_verify_mode(asio::ssl::verify_peer);
    tls_ctx.load_verify_file(pki.ca_file());
    if (leaf != nullptr) {
      tls_ctx.use_certificate_chain_file(leaf->certificate);
      tls_ctx.use_private_key_file(leaf->key, asio::ssl::context::pem);
    }
    stream = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(ioc, tls_ctx);
    stream->lowest_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    timeval five{5, 0};  // a read that waits for nothing ends the test instead of hanging it
    ::setsockopt(stream->lowest_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
    stream->handshake(asio::ssl::stream_base::client);
    const std::string options =
        "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:" + std::to_string(alias_port) +
        ";branch=z9hG4bKalias1;alias\r\nMax-Forwards: 70\r\n"
        "From: <sip:c@127.0.0.1>;tag=c1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: alias-1\r\n"
        "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    asio::write(*stream, asio::buffer(options));
    EXPECT_EQ(read_message().substr(0, 14), "SIP/2.0 200 OK");
  }

  std::string read_message() {
    boost::system::error_code ec;
    auto n = asio::read_until(*stream, buffer, "\r\n\r\n", ec);
    if (ec) return "error: " + ec.message();
    std::string head(static_cast<const char*>(buffer.data().data()), n);
    buffer.consume(n);
    return head;
  }

  asio::io_context ioc;
  asio::ssl::context tls_ctx{asio::ssl::context::tls_client};
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> stream;
  asio::streambuf buffer;
};

TEST_F(TlsAliasTest, AVerifiedClientGetsRequestsForItsSentByOverItsConnection) {
  auto c = config(server_leaf);
  c.listen[1].tls.verify_client = true;
  c.listen[1].tls.ca_file = pki.ca_file();
  EngineHarness b(c);
  answer_everything(b, log);
  const auto client = pki.issue("client", {"IP:127.0.0.1"});
  const auto nobody = astmrf_test::free_port(Transport::tcp);  // nothing listens there
  open_aliased(b.port(Transport::tls), nobody, &client);
  auto pending = std::async(std::launch::async, [&] {
    return request(b, "OPTIONS", "sip:c@127.0.0.1:" + std::to_string(nobody) + ";transport=tls");
  });
  const auto got = read_message();
  EXPECT_EQ(got.substr(0, 8), "OPTIONS ") << got;
  // Answer it on the same connection.
  std::string via, call_id, from, to, cseq;
  for (std::size_t pos = 0; pos < got.size();) {
    auto end = got.find("\r\n", pos);
    auto line = got.substr(pos, end - pos);
    auto take = [&](const char* name, std::string& into) {
      if (line.rfind(name, 0) == 0) into = line;
    };
    take("Via:", via);
    take("Call-ID:", call_id);
    take("From:", from);
    take("To:", to);
    take("CSeq:", cseq);
    pos = end + 2;
  }
  const std::string ok = "SIP/2.0 200 OK\r\n" + via + "\r\n" + from + "\r\n" + to + ";tag=c2\r\n" + call_id + "\r\n" +
                         cseq + "\r\nContent-Length: 0\r\n\r\n";
  asio::write(*stream, asio::buffer(ok));
  auto o = pending.get();
  EXPECT_EQ(o.status, 200) << o.reason;
}

TEST_F(TlsAliasTest, AClientWithoutACertificateGetsNoAlias) {
  EngineHarness b(config(server_leaf));
  answer_everything(b, log);
  const auto nobody = astmrf_test::free_port(Transport::tcp);
  open_aliased(b.port(Transport::tls), nobody, nullptr);
  // Not aliased: the engine connects to the sent-by, where nothing listens.
  auto o = request(b, "OPTIONS", "sip:c@127.0.0.1:" + std::to_string(nobody) + ";transport=tls");
  EXPECT_EQ(o.status, 503);
  EXPECT_TRUE(o.local);
}

}  // namespace
