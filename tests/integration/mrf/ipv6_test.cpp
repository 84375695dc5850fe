// IPv6 end to end (issue 20): sipp callers on [::1] over UDP and TCP, through the embedded
// engine listening on both families, connect_caller'd to the IPv4 Asterisk sandbox. Each
// leg gets Via and Contact of its own family. With no listening point of a destination's
// family, a request fails with a local 503 that names it. Leak check after every test.
#include "../engine/engine_harness.hpp"
#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/observe.hpp"
#include "astmrf_test/sandbox.hpp"
#include "astmrf_test/sipp.hpp"
#include "mrf_support.hpp"

#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/engine_backend.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <map>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
using astmrf::sip::Transport;
using astmrf_test::describe;
using astmrf_test::EngineHarness;
using astmrf_test::EventLog;
using astmrf_test::sandbox_options;
using astmrf_test::SippCall;

bool ipv6_loopback() {
  asio::io_context ioc;
  boost::system::error_code ec;
  asio::ip::udp::socket s(ioc);
  s.open(asio::ip::udp::v6(), ec);
  if (!ec) s.bind({asio::ip::make_address("::1"), 0}, ec);
  return !ec;
}

// A port free on ::1 for both UDP and TCP now (the engine listens on both).
std::uint16_t free_ipv6_port() {
  asio::io_context ioc;
  for (int i = 0; i < 50; ++i) {
    asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("::1"), 0});
    const auto port = a.local_endpoint().port();
    boost::system::error_code ec;
    asio::ip::udp::socket u(ioc);
    u.open(asio::ip::udp::v6(), ec);
    if (!ec) u.bind({asio::ip::make_address("::1"), port}, ec);
    if (!ec) return port;
  }
  throw std::runtime_error("no port free on ::1 for both UDP and TCP");
}

astmrf::sip::EngineConfig dual_config(std::uint16_t v6_port, std::shared_ptr<spdlog::logger> log) {
  auto config = EngineHarness::test_config();  // udp + tcp on 127.0.0.1
  config.logger = std::move(log);              // trace: every message sent
  config.listen.push_back({Transport::udp, "::1", v6_port});
  config.listen.push_back({Transport::tcp, "::1", v6_port});
  return config;
}

class Ipv6Test : public testing::Test {
 protected:
  Ipv6Test() : v6_port(free_ipv6_port()), harness(dual_config(v6_port, engine_log.logger())) {
    harness.run([&] {
      app = std::make_unique<srf::Srf>(srf::make_engine_backend(harness.engine()));
      media = std::make_unique<mrf::Mrf>(*app);
      return 0;
    });
    auto options = sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port);
    server = harness.run([&] { return media->async_connect(options, asio::use_future); }).get();
  }

  ~Ipv6Test() override {
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

  // No endpoint, no pending setup, no engine dialog, no channel of the app on Asterisk.
  void expect_nothing_left() {
    if (!server) return;
    bool clean = false;
    std::string state;
    for (int i = 0; i < 250 && !clean; ++i) {
      state = harness.run([&] {
        return std::to_string(server->endpoints().size()) + " endpoints, " + std::to_string(server->pending_setups()) +
               " pending, " + std::to_string(harness.engine().stats().dialogs) + " dialogs";
      });
      clean = state == "0 endpoints, 0 pending, 0 dialogs" && astmrf_test::channels_of(probe, server->app()) == 0 &&
              astmrf_test::bridges_on_asterisk(probe) == 0;
      if (!clean) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(clean) << "left behind: " << state << ", " << astmrf_test::channels_of(probe, server->app())
                       << " channels on Asterisk";
  }

  void connect_callers() {
    harness.run([&] {
      app->invite([&](srf::Request req, srf::Response res) {
        server->async_connect_caller(req, res, {}, [&](std::exception_ptr error, mrf::ConnectedCaller call) {
          log.add("connect_caller " + describe(error));
          if (!call.endpoint) return;
          held.push_back(call.endpoint);
          held.push_back(call.dialog);
          call.endpoint->on_destroy([&](mrf::EndpointEnd end) { log.add("endpoint " + std::string(to_string(end))); });
        });
      });
      return 0;
    });
  }

  SippCall ipv6_caller(const std::string& transport) {
    SippCall call;
    call.scenario = std::string(MRF_SIPP_DIR) + "/uac-ipv6-invite-bye.xml";
    call.local_ip = "::1";
    call.remote = "[::1]:" + std::to_string(v6_port);
    call.transport = transport;
    return call;
  }

  void expect_ipv6_call(const std::string& transport) {
    ASSERT_TRUE(ipv6_loopback()) << "::1 is not usable on this machine (ip -6 addr show lo)";
    connect_callers();
    auto result = astmrf_test::run_sipp(ipv6_caller(transport));
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_TRUE(log.wait_for("connect_caller ok")) << log.joined();
    EXPECT_TRUE(log.wait_for("endpoint destroyed")) << log.joined();
    // The caller's leg is IPv6: our 200's Contact names our [::1] point, not 127.0.0.1.
    const std::string contact = "Contact: <sip:[::1]:" + std::to_string(v6_port);
    EXPECT_NE(result.output.find(contact), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find("Contact: <sip:127.0.0.1"), std::string::npos) << result.output;
    // The leg to Asterisk is IPv4: the INVITE we sent it names our 127.0.0.1 point.
    const std::string asterisk = "127.0.0.1:" + std::to_string(astmrf_test::sandbox().sip_port);
    std::string invite;
    for (const auto& line : engine_log.fields()) {
      std::map<std::string, std::string> f(line.begin(), line.end());
      if (f["event"] == "sip_out" && f["peer"] == asterisk && f["message"].rfind("INVITE ", 0) == 0)
        invite = f["message"];
    }
    ASSERT_FALSE(invite.empty()) << "no INVITE to Asterisk in the engine's trace";
    EXPECT_NE(invite.find("Via: SIP/2.0/UDP 127.0.0.1:"), std::string::npos) << invite;
    EXPECT_NE(invite.find("Contact: <sip:127.0.0.1:"), std::string::npos) << invite;
    EXPECT_EQ(invite.find("::1"), std::string::npos) << invite;
  }

  astmrf_test::LogCapture engine_log{spdlog::level::trace};  // before the harness: it logs there
  std::uint16_t v6_port;
  EngineHarness harness;
  astmrf_test::AriProbe probe = astmrf_test::AriProbe::for_sandbox();
  std::unique_ptr<srf::Srf> app;
  std::unique_ptr<mrf::Mrf> media;
  std::shared_ptr<mrf::MediaServer> server;
  std::vector<std::shared_ptr<void>> held;  // engine thread only
  EventLog log;
};

TEST_F(Ipv6Test, Ipv6CallerOverUdpReachesIpv4Asterisk) { expect_ipv6_call("u1"); }

TEST_F(Ipv6Test, Ipv6CallerOverTcpReachesIpv4Asterisk) { expect_ipv6_call("t1"); }

// The issue's report: an engine on IPv6 only, Asterisk on IPv4. The INVITE fails at once with
// a local 503 that says why (it used to be "503 (transport error)").
TEST(Ipv6FamilyError, ARequestToAFamilyWithoutListeningPointSaysSo) {
  ASSERT_TRUE(ipv6_loopback());
  astmrf::sip::EngineConfig config = EngineHarness::test_config();
  config.listen = {{Transport::udp, "::1", 0}};
  EngineHarness harness(config);
  std::unique_ptr<srf::Srf> app;
  harness.run([&] {
    app = std::make_unique<srf::Srf>(srf::make_engine_backend(harness.engine()));
    return 0;
  });
  const std::string asterisk =
      "sip:s@" + astmrf_test::sandbox().sip_host + ":" + std::to_string(astmrf_test::sandbox().sip_port);
  auto outcome = harness.run([&] {
    srf::UacOptions options;
    options.local_sdp = "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    return app->async_create_uac(asterisk, options, asio::use_future);
  });
  try {
    outcome.get();
    ADD_FAILURE() << "the INVITE to an IPv4 address was sent from an IPv6-only engine";
  } catch (const srf::SipFailure& failure) {
    EXPECT_EQ(failure.status(), 503);
    EXPECT_TRUE(failure.local());
    EXPECT_EQ(failure.reason(), "Service Unavailable (no IPv4 listening point for udp)");
  }
  // And the other way: an IPv6 destination from an IPv4-only engine, over tcp.
  astmrf_test::EventLog log;
  EngineHarness v4_only;
  harness.run([&] {
    app.reset();
    return 0;
  });
  v4_only.run([&] {
    astmrf::sip::RequestSpec spec;
    spec.method = "OPTIONS";
    spec.uri = "sip:s@[::1]:5060;transport=tcp";
    v4_only.engine().send_request(std::move(spec), [&](const astmrf::sip::Message& response, const auto&) {
      log.add(std::to_string(response.status()) + " " + std::string(response.reason()));
    });
    return 0;
  });
  EXPECT_TRUE(log.wait_for("503 Service Unavailable (no IPv6 listening point for tcp)")) << log.joined();
  EXPECT_EQ(v4_only.run([&] { return v4_only.engine().stats().client_transactions; }), 0u);
}

}  // namespace
