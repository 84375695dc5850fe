// SIP over WebSocket (RFC 7118) end to end: a scripted browser-like client (ws_sip_client.py,
// Debian's python3-websockets) calls through the embedded engine's ws and wss listening points,
// Mrf's connect_caller, to the real Asterisk sandbox. Bad frames, an oversized message and an
// abrupt close do not disturb a call in progress. Every test ends with the leak check.
#include "../../mrf/mrf_support.hpp"
#include "../engine_harness.hpp"
#include "astmrf_test/process.hpp"
#include "astmrf_test/sandbox.hpp"

#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

using namespace std::chrono_literals;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
using astmrf::sip::Transport;
using astmrf_test::describe;
using astmrf_test::sandbox_options;

constexpr std::size_t kMaxMessage = 8192;  // the ws points' limit: the oversized case stays small

// A self-signed certificate for 127.0.0.1 made with the openssl CLI in a temporary directory.
struct TestCertificate {
  TestCertificate() {
    dir = std::filesystem::temp_directory_path() / ("astmrf-ws-" + astmrf_test::random_uuid());
    std::filesystem::create_directories(dir);
    auto result = astmrf_test::run(
        {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", (dir / "key.pem").string(), "-out",
         (dir / "cert.pem").string(), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
        30s);
    ok = result.exit_code == 0;
    output = result.output;
  }
  ~TestCertificate() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  std::filesystem::path dir;
  bool ok{false};
  std::string output;
};

const TestCertificate& certificate() {
  static const TestCertificate cert;
  return cert;
}

astmrf::sip::EngineConfig ws_config() {
  auto config = astmrf_test::EngineHarness::test_config();
  astmrf::sip::ListenPoint ws{Transport::ws, "127.0.0.1", 0};
  ws.websocket.max_message_size = kMaxMessage;
  ws.websocket.handshake_timeout = 2s;
  auto wss = ws;
  wss.transport = Transport::wss;
  wss.tls.certificate_file = (certificate().dir / "cert.pem").string();
  wss.tls.key_file = (certificate().dir / "key.pem").string();
  config.listen.push_back(ws);
  config.listen.push_back(wss);
  return config;
}

class WsTest : public testing::Test {
 protected:
  WsTest() {
    harness.run([&] {
      app = std::make_unique<srf::Srf>(srf::make_engine_backend(harness.engine()));
      media = std::make_unique<mrf::Mrf>(*app, mrf::MrfOptions{});
      return 0;
    });
    auto options = sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port);
    server = harness.run([&] { return media->async_connect(options, boost::asio::use_future); }).get();
    harness.run([&] {
      app->invite([&](srf::Request req, srf::Response res) {
        server->async_connect_caller(req, res, {}, [&](std::exception_ptr error, mrf::ConnectedCaller call) {
          log.add("connect_caller " + describe(error));
          if (!call.endpoint) return;
          held.push_back(call.endpoint);
          held.push_back(call.dialog);
        });
      });
      return 0;
    });
  }

  ~WsTest() override {
    expect_nothing_left();
    harness.run([&] {
      held.clear();
      for (auto& s : media->media_servers()) s->disconnect();
      server.reset();
      media.reset();
      app.reset();
      return 0;
    });
  }

  // The leak check of the Mrf tests: nothing in the Mrf, the engine or on Asterisk.
  void expect_nothing_left() {
    if (!server) return;
    bool clean = false;
    std::string state;
    for (int i = 0; i < 400 && !clean; ++i) {
      state = harness.run([&] {
        return std::to_string(server->endpoints().size()) + " endpoints, " + std::to_string(server->pending_setups()) +
               " pending, " + std::to_string(harness.engine().stats().dialogs) + " dialogs, " +
               std::to_string(harness.engine().stats().server_transactions) + " server transactions";
      });
      clean = state == "0 endpoints, 0 pending, 0 dialogs, 0 server transactions" &&
              astmrf_test::channels_of(probe, server->app()) == 0 && astmrf_test::bridges_on_asterisk(probe) == 0;
      if (!clean) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(clean) << "left behind: " << state << ", " << astmrf_test::channels_of(probe, server->app())
                       << " channels on Asterisk\n"
                       << log.joined();
  }

  astmrf_test::ProcessResult run_client(Transport transport, const std::string& mode) {
    const auto port = harness.port(transport);
    const std::string scheme = transport == Transport::wss ? "wss" : "ws";
    std::vector<std::string> argv{"/usr/bin/python3",
                                  std::string(WS_CLIENT_SCRIPT),
                                  "--url",
                                  scheme + "://127.0.0.1:" + std::to_string(port),
                                  "--target",
                                  "sip:" + server->app() + "@127.0.0.1",
                                  "--mode",
                                  mode,
                                  "--max-message",
                                  std::to_string(kMaxMessage)};
    if (transport == Transport::wss) {
      argv.push_back("--ca");
      argv.push_back((certificate().dir / "cert.pem").string());
    }
    return astmrf_test::run(argv, 90s);
  }

  astmrf_test::EventLog log;
  astmrf_test::EngineHarness harness{ws_config()};
  std::unique_ptr<srf::Srf> app;
  std::unique_ptr<mrf::Mrf> media;
  std::shared_ptr<mrf::MediaServer> server;
  std::vector<std::shared_ptr<void>> held;  // engine thread only
  astmrf_test::AriProbe probe = astmrf_test::AriProbe::for_sandbox();
};

TEST_F(WsTest, ABrowserCallsAsteriskOverWs) {
  ASSERT_TRUE(certificate().ok) << certificate().output;
  auto result = run_client(Transport::ws, "call");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("connect_caller ok")) << log.joined();
}

TEST_F(WsTest, ABrowserCallsAsteriskOverWss) {
  ASSERT_TRUE(certificate().ok) << certificate().output;
  auto result = run_client(Transport::wss, "call");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("connect_caller ok")) << log.joined();
}

TEST_F(WsTest, BadFramesAnOversizedMessageAndAnAbruptCloseLeaveOtherCallsAloneOverWs) {
  ASSERT_TRUE(certificate().ok) << certificate().output;
  auto result = run_client(Transport::ws, "disturb");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("oversized: closed by the engine (code 1009)"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("no sip subprotocol: refused with HTTP 400"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("plain HTTP: HTTP/1.1 400"), std::string::npos) << result.output;
}

TEST_F(WsTest, BadFramesAnOversizedMessageAndAnAbruptCloseLeaveOtherCallsAloneOverWss) {
  ASSERT_TRUE(certificate().ok) << certificate().output;
  auto result = run_client(Transport::wss, "disturb");
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

}  // namespace
