// TLS: Asterisk's HTTPS/WSS with a self-signed certificate. The client verifies the chain with a
// custom CA file and the host name, refuses an unknown certificate and a wrong name, and stays on
// TLS across a reconnect. Runs its own Asterisk instance (SIP 25260, ARI 28288, TLS 28289).
#include "ari_it.hpp"

namespace {

using namespace ari_it;
using ari::EventType;
using ari::ResourceKind;

constexpr const char* kName = "ctest-ari-tls";
constexpr std::uint16_t kSipPort = 25260;
constexpr std::uint16_t kAriPort = 28288;
constexpr std::uint16_t kTlsPort = 28289;
const std::string kDir = "/tmp/astmrf-ari-tls-test";

std::vector<std::string> up_args() {
  const auto& box = astmrf_test::sandbox();
  return {"up",
          "--name",
          kName,
          "--sip-port",
          std::to_string(kSipPort),
          "--ari-port",
          std::to_string(kAriPort),
          "--rtp-ports",
          "31500-31999",
          "--ari-user",
          box.ari_user,
          "--ari-password",
          box.ari_password,
          "--tls-port",
          std::to_string(kTlsPort),
          "--tls-cert",
          kDir + "/cert.pem",
          "--tls-key",
          kDir + "/key.pem"};
}

std::string tls_url() { return "https://127.0.0.1:" + std::to_string(kTlsPort); }

class AriTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    astmrf_test::run({"mkdir", "-p", kDir}, 10s);
    auto cert = astmrf_test::run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                                  kDir + "/key.pem", "-out", kDir + "/cert.pem", "-days", "2", "-subj", "/CN=localhost",
                                  "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"},
                                 60s);
    if (cert.exit_code != 0) {
      setup_error = "openssl: " + cert.output;
      return;
    }
    auto r = sandbox_tool(up_args());
    if (r.exit_code != 0) setup_error = "sandbox up: " + r.output;
  }
  // A failure in SetUpTestSuite would mark the tests skipped, which ctest counts as no
  // failure: each test fails on its own instead.
  void SetUp() override {
    if (!setup_error.empty()) FAIL() << setup_error;
  }
  static inline std::string setup_error;
  static void TearDownTestSuite() { sandbox_tool({"down", "--name", kName}); }

  static ari::ClientOptions tls_options(std::vector<std::string> apps) {
    auto o = options(tls_url(), std::move(apps));
    o.tls.ca_file = kDir + "/cert.pem";
    o.tls.use_default_verify_paths = false;
    return o;
  }
};

TEST_F(AriTls, TrustedSelfSignedCertificateCarriesRestEventsAndReconnects) {
  asio::io_context ioc;
  const auto app = astmrf_test::unique_app_name();
  ari::Client client(ioc.get_executor(), tls_options({app}));
  std::optional<ari::ReconcileReport> report;
  auto on_reconcile = client.on_reconcile([&](const ari::ReconcileReport& r) { report = r; });
  int starts = 0;
  auto on_start = client.on_event(EventType::stasis_start, [&](const ari::Event& e) {
    ++starts;
    client.channels().async_hangup(ari::channels::Hangup{.channel_id = std::string(e.id(ResourceKind::channel))},
                                   [](std::exception_ptr ex) {
                                     try {
                                       if (ex) std::rethrow_exception(ex);
                                     } catch (const std::exception& x) {
                                       ADD_FAILURE() << "hangup failed: " << x.what();
                                     }
                                   });
  });
  run(ioc, [&]() -> asio::awaitable<void> {
    co_await client.async_connect(asio::use_awaitable);
    const ari::asterisk::GetInfo all;
    auto info = co_await client.asterisk().async_get_info(all, asio::use_awaitable);
    EXPECT_TRUE(info.system.has_value());
  });
  auto place_call = [&] {
    auto sipp = start_sipp({.scenario = scenario_dir() + "/reject.xml",
                            .service = app,
                            .from_user = astmrf_test::random_uuid(),
                            .sip_port = kSipPort});
    const int before = starts;
    EXPECT_TRUE(run_until(
        ioc, [&] { return starts > before; }, 15s));
    EXPECT_TRUE(run_until(
        ioc, [&] { return !sipp->running(); }, 15s));  // the app's hangup runs here
    auto result = sipp->wait(1s);
    EXPECT_EQ(result.exit_code, 0) << result.output;
  };
  place_call();  // events over wss://

  // Restart Asterisk: the client comes back over TLS (the URL is https only; nothing else exists).
  ASSERT_EQ(sandbox_tool({"down", "--name", kName}).exit_code, 0);
  ASSERT_TRUE(run_until(
      ioc, [&] { return client.state() != ari::ConnectionState::connected; }, 15s));
  ASSERT_EQ(sandbox_tool(up_args()).exit_code, 0);
  ASSERT_TRUE(run_until(
      ioc, [&] { return report.has_value(); }, 30s));
  EXPECT_EQ(client.state(), ari::ConnectionState::connected);
  EXPECT_GE(client.stats().connects, 2u);
  place_call();
}

TEST_F(AriTls, UnknownCertificateIsRefused) {
  asio::io_context ioc;
  auto opts = options(tls_url(), {});
  ari::Client client(ioc.get_executor(), opts);  // system CAs only: the self-signed cert is unknown
  EXPECT_THROW(run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); }),
               ari::TransportError);
}

TEST_F(AriTls, WrongHostNameIsRefused) {
  asio::io_context ioc;
  auto opts = tls_options({});
  opts.tls.server_name = "not-this-host.example";
  ari::Client client(ioc.get_executor(), opts);
  EXPECT_THROW(run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); }),
               ari::TransportError);
}

}  // namespace
