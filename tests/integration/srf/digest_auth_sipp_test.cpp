// srf::DigestAuth against real UAs through the embedded engine: sipp (answering challenges) and baresip (registering).
// Debian's sipp (3.6) computes MD5 only ("authentication must use MD5 or AKAv1-MD5"), so the
// DigestAuth here offers MD5; SHA-256 is covered by the unit tests (RFC 7616 vectors).
#include "../engine/baresip_peer.hpp"
#include "astmrf_test/process.hpp"
#include "astmrf_test/sipp.hpp"
#include "srf_fixture.hpp"

#include <astmrf/srf/digest_auth.hpp>
#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

using namespace std::chrono_literals;
namespace srf = astmrf::srf;
using astmrf::sip::Transport;
using astmrf_test::EventLog;
using astmrf_test::SippCall;

const std::string& kSdp = astmrf_test::kSrfTestSdp;

class DigestAuthSippTest : public astmrf_test::SrfFixture {
 protected:
  DigestAuthSippTest() {
    harness.run([&] {
      srf::DigestAuthOptions options;
      options.realm = "astmrf.test";
      // The default algorithm (MD5 alone): sipp and baresip fail on any SHA-256 challenge.
      options.clock = [this] { return std::chrono::steady_clock::now() + skew; };
      options.credentials = [this](const std::string& user, const std::string& realm, auto done) {
        log.add("lookup " + user + "@" + realm);
        if (expire_during_lookup) {
          expire_during_lookup = false;
          skew += std::chrono::hours(1);
        }
        // Answered later, as a database would.
        boost::asio::post(app->get_executor(), [user, done = std::move(done)] {
          done(user == "alice" ? std::optional<srf::Credential>(srf::Credential{"secret", {}, {}}) : std::nullopt);
        });
      };
      auth = std::make_unique<srf::DigestAuth>(std::move(options));
      app->use(auth->middleware());
      app->invite([this](srf::Request req, srf::Response res) {
        log.add("invite from " + std::string(req.authenticated_user()));
        app->async_create_uas(req, res, srf::UasOptions{kSdp, {}},
                              [this](std::exception_ptr, std::shared_ptr<srf::Dialog> dialog) {
                                if (dialog) dialogs.push_back(dialog);
                              });
      });
      app->register_([this](srf::Request req, srf::Response res) {
        log.add("register from " + std::string(req.authenticated_user()));
        res.send(200,
                 srf::ResponseOptions{{}, {{"Contact", std::string(req.header("Contact")) + ";expires=60"}}, {}, {}});
      });
      app->message([this](srf::Request req, srf::Response res) {
        log.add("message from " + std::string(req.authenticated_user()));
        last_authorization = std::string(req.header("Authorization"));
        res.send(202);
      });
      return 0;
    });
  }
  ~DigestAuthSippTest() override {
    harness.run([&] {
      auth.reset();  // the middleware keeps the state it needs
      return 0;
    });
  }

  SippCall caller(const std::string& scenario, const std::string& password) {
    SippCall call = sipp(SRF_SIPP_DIR, scenario);
    call.extra_args = {"-au", "alice", "-ap", password};
    return call;
  }
  std::size_t count(const std::string& prefix) {
    std::size_t n = 0;
    for (const auto& e : log.events()) n += e.starts_with(prefix) ? 1 : 0;
    return n;
  }

  std::unique_ptr<srf::DigestAuth> auth;
  std::chrono::steady_clock::duration skew{};  // engine thread only
  bool expire_during_lookup{false};
  std::string last_authorization;  // engine thread only
};

TEST_F(DigestAuthSippTest, ChallengedInviteSucceedsWithMd5) {
  auto result = astmrf_test::run_sipp(caller("uac-auth-invite.xml", "secret"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("invite from alice")) << log.joined();
  EXPECT_NE(result.output.find("SIP/2.0 200"), std::string::npos) << result.output;
}

TEST_F(DigestAuthSippTest, WrongPasswordIsForbiddenAfterTheRetry) {
  auto result = astmrf_test::run_sipp(caller("uac-auth-invite.xml", "wrong"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("SIP/2.0 403"), std::string::npos) << result.output;
  EXPECT_EQ(count("invite from"), 0u) << log.joined();
  EXPECT_EQ(count("lookup alice@astmrf.test"), 1u) << log.joined();
}

TEST_F(DigestAuthSippTest, StaleNonceThenSuccess) {
  harness.run([&] {
    expire_during_lookup = true;
    return 0;
  });
  auto result = astmrf_test::run_sipp(caller("uac-auth-stale.xml", "secret"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("message from alice")) << log.joined();
  EXPECT_EQ(count("message from"), 1u) << log.joined();
}

TEST_F(DigestAuthSippTest, ReplayedNonceCountIsRefused) {
  auto result = astmrf_test::run_sipp(caller("uac-auth-message.xml", "secret"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  ASSERT_TRUE(log.wait_for("message from alice")) << log.joined();
  auto used = harness.run([&] { return last_authorization; });
  ASSERT_FALSE(used.empty());
  // The same credentials again, from another sipp: a replay.
  auto replay = caller("uac-auth-replay.xml", "secret");
  replay.keys["authorization"] = used;
  result = astmrf_test::run_sipp(replay);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(count("message from"), 1u) << log.joined();
}

// baresip (Debian's baresip-core, libre 1.1: MD5 digest only) registers over UDP with
// auth_user/auth_pass: challenged, it answers, and the REGISTER handler sees the user.
TEST_F(DigestAuthSippTest, BaresipRegistersWithDigest) {
  astmrf_test::BaresipPeer::Options options;
  options.account =
      "<sip:alice@" + harness.address(Transport::udp) + ";transport=udp>;auth_user=alice;auth_pass=secret;regint=60";
  astmrf_test::BaresipPeer baresip(options);
  EXPECT_TRUE(log.wait_for("register from alice", 15s)) << log.joined() << baresip.output();
}

}  // namespace
