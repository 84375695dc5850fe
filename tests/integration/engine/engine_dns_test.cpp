// RFC 3263 in the embedded engine against a real DNS server and real peers: a dnsmasq of the
// test's own on 127.0.0.1 (ASTMRF_TEST_DNS_PORT + 1; the util.dns tests use the port itself)
// serves NAPTR, SRV and A records of dns.astmrf.test, and sipp UASs are the targets.
#include "astmrf_test/process.hpp"
#include "astmrf_test/sipp.hpp"
#include "engine_harness.hpp"

#include <astmrf/sip/engine/engine.hpp>
#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/errors.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using astmrf::sip::ClientRequest;
using astmrf::sip::Dialog;
using astmrf::sip::DialogEndReason;
using astmrf::sip::Message;
using astmrf::sip::RequestSpec;
using astmrf::sip::Transport;
using astmrf_test::EngineHarness;
using astmrf_test::EventLog;
using astmrf_test::SippCall;
using Clock = std::chrono::steady_clock;

const std::uint16_t kDnsPort = ASTMRF_TEST_DNS_PORT + 1;

const std::string kSdp =
    "v=0\r\no=astmrf 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

// A dnsmasq that knows `records` (dnsmasq options) under dns.astmrf.test and nothing else.
class Dnsmasq {
 public:
  explicit Dnsmasq(const std::vector<std::string>& records) {
    pid_file_ = "/tmp/astmrf-engine-dns-" + std::to_string(::getpid()) + ".pid";
    std::vector<std::string> argv{ASTMRF_TEST_DNSMASQ,
                                  "--no-daemon",
                                  "--conf-file=/dev/null",
                                  "--pid-file=" + pid_file_,
                                  "--port=" + std::to_string(kDnsPort),
                                  "--listen-address=127.0.0.1",
                                  "--bind-interfaces",
                                  "--no-resolv",
                                  "--no-hosts",
                                  "--local=/dns.astmrf.test/"};
    argv.insert(argv.end(), records.begin(), records.end());
    process_ = std::make_unique<astmrf_test::Process>(argv);
    const auto deadline = Clock::now() + 5s;
    while (process_->output().find("started") == std::string::npos && process_->running() && Clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    started_ = process_->output().find("started") != std::string::npos;
  }
  ~Dnsmasq() {
    process_.reset();  // SIGKILL
    std::filesystem::remove(pid_file_);
  }
  Dnsmasq(const Dnsmasq&) = delete;
  Dnsmasq& operator=(const Dnsmasq&) = delete;

  [[nodiscard]] bool started() const { return started_; }
  [[nodiscard]] std::string output() const { return process_->output(); }

 private:
  std::string pid_file_;
  std::unique_ptr<astmrf_test::Process> process_;
  bool started_{false};
};

std::string srv(const std::string& name, const std::string& target, std::uint16_t port, int priority) {
  return "--srv-host=" + name + "," + target + "," + std::to_string(port) + "," + std::to_string(priority) + ",0";
}

astmrf::sip::EngineConfig dns_config() {
  auto config = EngineHarness::test_config();
  config.dns.servers = {"127.0.0.1:" + std::to_string(kDnsPort)};
  config.dns.timeout = 500ms;
  config.dns.tries = 2;
  return config;
}

class EngineDns : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(ASTMRF_TEST_DNSMASQ))
        << ASTMRF_TEST_DNSMASQ << " is missing: scripts/setup-deps installs it (Debian package dnsmasq-base)";
  }

  // sipp answering on a port of its own, over `transport`; started and ready.
  std::unique_ptr<astmrf_test::SippProcess> uas(const std::string& scenario, Transport transport, std::uint16_t& port) {
    port = astmrf_test::free_port(transport);
    SippCall call;
    call.scenario = std::string(ENGINE_SIPP_DIR) + "/" + scenario;
    call.remote = harness.address(transport);
    call.transport = transport == Transport::udp ? "u1" : "t1";
    call.extra_args = {"-p", std::to_string(port)};
    auto sipp = std::make_unique<astmrf_test::SippProcess>(call);
    EXPECT_TRUE(astmrf_test::wait_until_bound(transport, port)) << "sipp did not bind port " << port;
    return sipp;
  }

  std::shared_ptr<ClientRequest> send(const std::string& uri, const std::string& method = "INVITE") {
    return harness.run([&] {
      RequestSpec spec;
      spec.method = method;
      spec.uri = uri;
      if (method == "INVITE") {
        spec.content_type = "application/sdp";
        spec.body = kSdp;
      }
      return harness.engine().send_request(spec, [this](const Message& response, const std::shared_ptr<Dialog>& d) {
        log.add("status " + std::to_string(response.status()));
        log.add("reason " + std::string(response.reason()));
        if (d) {
          dialog = d;
          d->on_end([this](DialogEndReason reason) { log.add("end " + std::string(astmrf::sip::to_string(reason))); });
        }
      });
    });
  }

  // The target a request went to, once located (0: still resolving).
  std::uint16_t target_port(const std::shared_ptr<ClientRequest>& request) {
    for (int i = 0; i < 250; ++i) {
      auto port = harness.run([&] { return request->destination().port; });
      if (port != 0) return port;
      std::this_thread::sleep_for(20ms);
    }
    return 0;
  }

  void hang_up() {
    harness.run([this] {
      if (dialog) dialog->bye();
      dialog.reset();
      return 0;
    });
  }

  EventLog log;  // declared first: outlives the engine and its handlers
  EngineHarness harness{dns_config()};
  std::shared_ptr<Dialog> dialog;
};

// SRV over TCP: the first target (priority 10) refuses the connection, the call goes to the
// second (priority 20) at once.
TEST_F(EngineDns, FirstSrvTargetDownTheCallGoesToTheSecondOverTcp) {
  const auto dead = astmrf_test::free_port(Transport::tcp);
  std::uint16_t port = 0;
  auto sipp = uas("uas-answer.xml", Transport::tcp, port);
  Dnsmasq dns({srv("_sip._tcp.fo.dns.astmrf.test", "t1.dns.astmrf.test", dead, 10),
               srv("_sip._tcp.fo.dns.astmrf.test", "t2.dns.astmrf.test", port, 20),
               "--host-record=t1.dns.astmrf.test,127.0.0.1", "--host-record=t2.dns.astmrf.test,127.0.0.1"});
  ASSERT_TRUE(dns.started()) << dns.output();
  auto request = send("sip:svc@fo.dns.astmrf.test;transport=tcp");
  ASSERT_TRUE(log.wait_for("status 200")) << log.joined() << "\n" << dns.output();
  EXPECT_EQ(target_port(request), port);
  EXPECT_EQ(harness.run([&] { return request->destination().transport; }), Transport::tcp);
  std::this_thread::sleep_for(100ms);  // let sipp see the ACK
  hang_up();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

// NAPTR → SRV over UDP: the first target never answers (timer B), the second does; with no
// transport in the URI the NAPTR record chooses UDP.
TEST_F(EngineDns, NaptrThenSrvAndATimeoutMovesToTheNextTarget) {
  const auto dead = astmrf_test::free_port(Transport::udp);
  std::uint16_t port = 0;
  auto sipp = uas("uas-answer.xml", Transport::udp, port);
  Dnsmasq dns({"--naptr-record=nap.dns.astmrf.test,10,10,S,SIP+D2U,,_sip._udp.nap.dns.astmrf.test",
               srv("_sip._udp.nap.dns.astmrf.test", "t1.dns.astmrf.test", dead, 10),
               srv("_sip._udp.nap.dns.astmrf.test", "t2.dns.astmrf.test", port, 20),
               "--host-record=t1.dns.astmrf.test,127.0.0.1", "--host-record=t2.dns.astmrf.test,127.0.0.1"});
  ASSERT_TRUE(dns.started()) << dns.output();
  auto request = send("sip:svc@nap.dns.astmrf.test");
  ASSERT_TRUE(log.wait_for("status 200", 20s)) << log.joined() << "\n" << dns.output();
  EXPECT_EQ(target_port(request), port);
  EXPECT_EQ(log.events().front(), "status 100") << log.joined();  // no 408 reached the application
  std::this_thread::sleep_for(100ms);
  hang_up();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

// A 503 from the first target: ACKed, and the call goes to the second.
TEST_F(EngineDns, A503MovesToTheNextTarget) {
  std::uint16_t busy_port = 0;
  std::uint16_t port = 0;
  auto busy = uas("uas-reject-503.xml", Transport::udp, busy_port);
  auto sipp = uas("uas-answer.xml", Transport::udp, port);
  Dnsmasq dns({srv("_sip._udp.busy.dns.astmrf.test", "t1.dns.astmrf.test", busy_port, 10),
               srv("_sip._udp.busy.dns.astmrf.test", "t2.dns.astmrf.test", port, 20),
               "--host-record=t1.dns.astmrf.test,127.0.0.1", "--host-record=t2.dns.astmrf.test,127.0.0.1"});
  ASSERT_TRUE(dns.started()) << dns.output();
  auto request = send("sip:svc@busy.dns.astmrf.test;transport=udp");
  ASSERT_TRUE(log.wait_for("status 200")) << log.joined();
  EXPECT_EQ(log.joined().find("503"), std::string::npos) << log.joined();
  auto busy_result = busy->wait(20s);
  EXPECT_EQ(busy_result.exit_code, 0) << busy_result.output;  // it got its ACK
  std::this_thread::sleep_for(100ms);
  hang_up();
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

// NXDOMAIN: a local 503 naming the DNS failure, and the typed error on the request.
TEST_F(EngineDns, NxdomainGivesTheTypedError) {
  Dnsmasq dns({"--host-record=t1.dns.astmrf.test,127.0.0.1"});
  ASSERT_TRUE(dns.started()) << dns.output();
  auto request = send("sip:svc@nope.dns.astmrf.test;transport=udp", "OPTIONS");
  ASSERT_TRUE(log.wait_for("status 503", 10s)) << log.joined();
  const auto [error, not_found, local, reason] = harness.run([&] {
    return std::make_tuple(request->dns_error(), request->dns_not_found(), request->local_failure(),
                           std::string(log.events().at(1)));
  });
  EXPECT_TRUE(local);
  EXPECT_TRUE(not_found);
  EXPECT_NE(error.find("nope.dns.astmrf.test"), std::string::npos) << error;
  EXPECT_NE(error.find("Domain name not found"), std::string::npos) << error;
  EXPECT_NE(reason.find("DNS: "), std::string::npos) << reason;
}

// The answers are kept for their TTL (2 s here), then asked for again: a moved SRV target is
// found once the TTL has passed, not before.
TEST_F(EngineDns, TtlExpiryResolvesAgain) {
  const auto first = astmrf_test::free_port(Transport::udp);
  auto second = astmrf_test::free_port(Transport::udp);
  if (second == first) second = static_cast<std::uint16_t>(first + 1);
  auto dns = std::make_unique<Dnsmasq>(
      std::vector<std::string>{"--local-ttl=2", srv("_sip._udp.ttl.dns.astmrf.test", "t1.dns.astmrf.test", first, 10),
                               "--host-record=t1.dns.astmrf.test,127.0.0.1"});
  ASSERT_TRUE(dns->started()) << dns->output();
  EXPECT_EQ(target_port(send("sip:svc@ttl.dns.astmrf.test;transport=udp", "OPTIONS")), first);
  const auto learnt = Clock::now();
  dns.reset();  // the port is free again before the next one binds it
  dns = std::make_unique<Dnsmasq>(
      std::vector<std::string>{"--local-ttl=2", srv("_sip._udp.ttl.dns.astmrf.test", "t1.dns.astmrf.test", second, 10),
                               "--host-record=t1.dns.astmrf.test,127.0.0.1"});
  ASSERT_TRUE(dns->started()) << dns->output();
  const auto cached = target_port(send("sip:svc@ttl.dns.astmrf.test;transport=udp", "OPTIONS"));
  if (Clock::now() - learnt < 1500ms) {
    EXPECT_EQ(cached, first) << "the SRV answer was not kept for its TTL";
  }
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(target_port(send("sip:svc@ttl.dns.astmrf.test;transport=udp", "OPTIONS")), second);
}

// Hosts ending in .invalid (browsers' Contacts) are never resolved.
TEST_F(EngineDns, InvalidHostsAreNeverResolved) {
  EXPECT_THROW(send("sip:abc@df7jal23ls0d.invalid;transport=ws", "OPTIONS"), std::invalid_argument);
}

// srf on the engine: create_uac (and the B2BUA and outbound proxy paths, which end in the
// same send_request) take host names; NXDOMAIN is the typed srf::DnsFailure.
TEST_F(EngineDns, SrfCreateUacByNameAndItsTypedDnsError) {
  std::uint16_t port = 0;
  auto sipp = uas("uas-answer.xml", Transport::udp, port);
  Dnsmasq dns({srv("_sip._udp.proxy.dns.astmrf.test", "t1.dns.astmrf.test", port, 10),
               "--host-record=t1.dns.astmrf.test,127.0.0.1"});
  ASSERT_TRUE(dns.started()) << dns.output();
  namespace srf = astmrf::srf;
  std::unique_ptr<srf::Srf> app;
  harness.run([&] {
    app = std::make_unique<srf::Srf>(srf::make_engine_backend(harness.engine()));
    return 0;
  });
  // NXDOMAIN: the request is never sent.
  auto failed = harness.run([&] {
    srf::UacOptions options;
    options.local_sdp = kSdp;
    return app->async_create_uac("sip:svc@nope.dns.astmrf.test", options, boost::asio::use_future);
  });
  try {
    failed.get();
    ADD_FAILURE() << "a call to an unknown domain succeeded";
  } catch (const srf::DnsFailure& e) {
    EXPECT_EQ(e.status(), 503);
    EXPECT_TRUE(e.local());
    EXPECT_TRUE(e.not_found());
    EXPECT_NE(e.dns_error().find("Domain name not found"), std::string::npos) << e.dns_error();
  }
  // An outbound proxy by name (SRV): the call goes there.
  auto answered = harness.run([&] {
    srf::UacOptions options;
    options.local_sdp = kSdp;
    options.proxy = "udp:proxy.dns.astmrf.test";
    return app->async_create_uac("sip:svc@elsewhere.example", options, boost::asio::use_future);
  });
  auto call = answered.get();
  ASSERT_TRUE(call);
  std::this_thread::sleep_for(100ms);
  harness.run([&] {
    call->destroy();
    call.reset();
    app.reset();
    return 0;
  });
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

}  // namespace
