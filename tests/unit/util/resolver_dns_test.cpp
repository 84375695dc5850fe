// util::Resolver against a real DNS server: a dnsmasq of each test's own, bound to 127.0.0.1
// on ASTMRF_TEST_DNS_PORT, that knows a few names of astmrf.test and nothing else (no
// upstream, no /etc/hosts). The names are asked fully qualified ("name.") so that the search
// domains of the host's resolv.conf never come into play.
#include "resolver_test_support.hpp"

#include <gtest/gtest.h>

#include <astmrf_test/process.hpp>
#include <filesystem>
#include <memory>
#include <thread>

#include <unistd.h>

namespace {

using namespace astmrf_test::resolver;
using std::chrono::milliseconds;

const std::string kServer = "127.0.0.1:" + std::to_string(ASTMRF_TEST_DNS_PORT);

class UtilResolverDns : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(ASTMRF_TEST_DNSMASQ))
        << ASTMRF_TEST_DNSMASQ << " is missing: scripts/setup-deps installs it (Debian package dnsmasq-base)";
    pid_file_ = "/tmp/astmrf-dns-test-" + std::to_string(::getpid()) + ".pid";
    dnsmasq_ = std::make_unique<astmrf_test::Process>(
        std::vector<std::string>{ASTMRF_TEST_DNSMASQ, "--no-daemon", "--conf-file=/dev/null", "--pid-file=" + pid_file_,
                                 "--port=" + std::to_string(ASTMRF_TEST_DNS_PORT), "--listen-address=127.0.0.1",
                                 "--bind-interfaces", "--no-resolv", "--no-hosts",
                                 // Every other name of astmrf.test is NXDOMAIN (local-only domain).
                                 "--local=/astmrf.test/", "--address=/ms1.astmrf.test/127.0.0.1",
                                 "--address=/dual.astmrf.test/::1", "--address=/dual.astmrf.test/127.0.0.2",
                                 // RFC 3263's records, kept 30 s
                                 "--local-ttl=30", "--srv-host=_sip._udp.astmrf.test,ms1.astmrf.test,5070,10,5",
                                 "--srv-host=_sip._udp.astmrf.test,ms2.astmrf.test,5080,20,0",
                                 "--naptr-record=astmrf.test,10,20,S,SIP+D2U,,_sip._udp.astmrf.test"});
    const auto deadline = Clock::now() + milliseconds(5000);
    while (dnsmasq_->output().find("started") == std::string::npos) {
      ASSERT_TRUE(dnsmasq_->running()) << "dnsmasq ended at once:\n" << dnsmasq_->output();
      ASSERT_LT(Clock::now(), deadline) << "dnsmasq did not start:\n" << dnsmasq_->output();
      std::this_thread::sleep_for(milliseconds(20));
    }
  }

  void TearDown() override {
    dnsmasq_.reset();  // SIGKILL
    std::filesystem::remove(pid_file_);
  }

  [[nodiscard]] util::ResolverOptions options() const {
    return {.servers = {kServer}, .timeout = milliseconds(500), .tries = 2};
  }

  std::string pid_file_;
  std::unique_ptr<astmrf_test::Process> dnsmasq_;
};

TEST_F(UtilResolverDns, ANameResolves) {
  asio::io_context ioc;
  util::Resolver resolver(ioc.get_executor(), options());
  auto outcome = resolve(ioc, resolver, "ms1.astmrf.test.");
  ASSERT_TRUE(outcome.done);
  ASSERT_FALSE(outcome.error) << what(outcome.error) << "\n" << dnsmasq_->output();
  ASSERT_EQ(outcome.addresses.size(), 1u);
  EXPECT_EQ(outcome.addresses.front().to_string(), "127.0.0.1");
  // Every lookup asks again (no cache): the second one gives the same answer.
  auto again = resolve(ioc, resolver, "ms1.astmrf.test.");
  ASSERT_FALSE(again.error) << what(again.error);
  EXPECT_EQ(again.addresses, outcome.addresses);
}

TEST_F(UtilResolverDns, IPv4AddressesComeFirst) {
  asio::io_context ioc;
  util::Resolver resolver(ioc.get_executor(), options());
  auto outcome = resolve(ioc, resolver, "dual.astmrf.test.");
  ASSERT_FALSE(outcome.error) << what(outcome.error) << "\n" << dnsmasq_->output();
  ASSERT_EQ(outcome.addresses.size(), 2u);
  EXPECT_EQ(outcome.addresses[0].to_string(), "127.0.0.2");
  EXPECT_EQ(outcome.addresses[1].to_string(), "::1");
}

TEST_F(UtilResolverDns, AnUnknownNameFailsFast) {
  asio::io_context ioc;
  util::Resolver resolver(ioc.get_executor(), options());
  const auto start = Clock::now();
  auto outcome = resolve(ioc, resolver, "nope.astmrf.test.");
  ASSERT_TRUE(outcome.done);
  EXPECT_LT(Clock::now() - start, milliseconds(400));  // an answer, not a timeout
  try {
    std::rethrow_exception(outcome.error);
  } catch (const util::ResolveError& e) {
    EXPECT_EQ(e.host(), "nope.astmrf.test.");
    EXPECT_EQ(e.reason(), "Domain name not found");
    EXPECT_EQ(std::string(e.what()), "cannot resolve 'nope.astmrf.test.': Domain name not found");
  } catch (...) {
    FAIL() << "not a ResolveError: " << what(outcome.error);
  }
}

TEST_F(UtilResolverDns, ConcurrentLookupsEachGetTheirAnswer) {
  asio::io_context ioc;
  util::Resolver resolver(ioc.get_executor(), options());
  std::vector<Outcome> outcomes(3);
  const std::vector<std::string> hosts = {"ms1.astmrf.test.", "nope.astmrf.test.", "dual.astmrf.test."};
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    resolver.async_resolve(hosts[i], [&outcomes, i](std::exception_ptr e, Addresses a) {
      outcomes[i] = {true, e, std::move(a)};
    });
  }
  run_until(
      ioc, [&] { return std::all_of(outcomes.begin(), outcomes.end(), [](auto& o) { return o.done; }); },
      milliseconds(5000));
  ASSERT_TRUE(outcomes[0].done && outcomes[1].done && outcomes[2].done);
  ASSERT_FALSE(outcomes[0].error) << what(outcomes[0].error);
  EXPECT_EQ(outcomes[0].addresses.front().to_string(), "127.0.0.1");
  EXPECT_TRUE(outcomes[1].error);
  ASSERT_FALSE(outcomes[2].error) << what(outcomes[2].error);
  EXPECT_EQ(outcomes[2].addresses.size(), 2u);
}

TEST_F(UtilResolverDns, SrvAndNaptrRecordsComeWithTheirTtl) {
  asio::io_context ioc;
  util::Resolver resolver(ioc.get_executor(), options());
  bool done = false;
  std::exception_ptr error;
  std::vector<util::SrvRecord> srv;
  std::chrono::seconds srv_ttl{};
  resolver.async_query_srv("_sip._udp.astmrf.test", [&](std::exception_ptr e, auto records, auto ttl) {
    done = true;
    error = e;
    srv = std::move(records);
    srv_ttl = ttl;
  });
  run_until(
      ioc, [&] { return done; }, milliseconds(5000));
  ASSERT_TRUE(done);
  ASSERT_FALSE(error) << what(error) << "\n" << dnsmasq_->output();
  ASSERT_EQ(srv.size(), 2u);
  std::sort(srv.begin(), srv.end(), [](auto& a, auto& b) { return a.priority < b.priority; });
  EXPECT_EQ(srv[0].target, "ms1.astmrf.test");
  EXPECT_EQ(srv[0].port, 5070);
  EXPECT_EQ(srv[0].weight, 5);
  EXPECT_EQ(srv[1].target, "ms2.astmrf.test");
  EXPECT_EQ(srv_ttl, std::chrono::seconds(30));

  done = false;
  std::vector<util::NaptrRecord> naptr;
  std::chrono::seconds naptr_ttl{};
  resolver.async_query_naptr("astmrf.test", [&](std::exception_ptr e, auto records, auto ttl) {
    done = true;
    error = e;
    naptr = std::move(records);
    naptr_ttl = ttl;
  });
  run_until(
      ioc, [&] { return done; }, milliseconds(5000));
  ASSERT_FALSE(error) << what(error);
  ASSERT_EQ(naptr.size(), 1u);
  EXPECT_EQ(naptr[0].order, 10);
  EXPECT_EQ(naptr[0].preference, 20);
  EXPECT_EQ(naptr[0].flags, "S");
  EXPECT_EQ(naptr[0].service, "SIP+D2U");
  EXPECT_EQ(naptr[0].replacement, "_sip._udp.astmrf.test");
  EXPECT_EQ(naptr_ttl, std::chrono::seconds(30));

  // No such record: a ResolveError that says so.
  done = false;
  resolver.async_query_srv("_sip._tcp.nope.astmrf.test", [&](std::exception_ptr e, auto, auto) {
    done = true;
    error = e;
  });
  run_until(
      ioc, [&] { return done; }, milliseconds(5000));
  ASSERT_TRUE(error);
  try {
    std::rethrow_exception(error);
  } catch (const util::ResolveError& e) {
    EXPECT_TRUE(e.not_found()) << e.what();
  }

  // Addresses with their TTL.
  done = false;
  std::vector<util::AddressRecord> addresses;
  resolver.async_resolve_records("ms1.astmrf.test.", [&](std::exception_ptr e, auto records) {
    done = true;
    error = e;
    addresses = std::move(records);
  });
  run_until(
      ioc, [&] { return done; }, milliseconds(5000));
  ASSERT_FALSE(error) << what(error);
  ASSERT_EQ(addresses.size(), 1u);
  EXPECT_EQ(addresses[0].address.to_string(), "127.0.0.1");
  EXPECT_EQ(addresses[0].ttl, std::chrono::seconds(30));
}

}  // namespace
