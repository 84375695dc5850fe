// srf::Registrar behind Srf on the embedded engine, with real peers: sipp REGISTER scenarios
// (add, 423 then retry with Min-Expires, refresh, Path, malformed Contact; remove, wildcard)
// and baresip registering (looked up, then unregistering on quit).
#include "../engine/baresip_peer.hpp"
#include "astmrf_test/sipp.hpp"
#include "srf_fixture.hpp"

#include <astmrf/srf/digest_auth.hpp>
#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/registrar.hpp>
#include <astmrf/srf/srf.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <future>

namespace {

using namespace std::chrono_literals;
namespace srf = astmrf::srf;
using astmrf::sip::Transport;
using astmrf_test::EventLog;
using astmrf_test::SippCall;

const char* kind_name(srf::BindingChangeKind kind) {
  switch (kind) {
    case srf::BindingChangeKind::added: return "added";
    case srf::BindingChangeKind::refreshed: return "refreshed";
    case srf::BindingChangeKind::removed: return "removed";
    case srf::BindingChangeKind::expired: return "expired";
  }
  return "?";
}

class RegistrarTest : public astmrf_test::SrfFixture {
 protected:
  RegistrarTest() {
    harness.run([&] {
      srf::RegistrarOptions options;
      options.min_expires = 30s;
      registrar = std::make_unique<srf::Registrar>(app->get_executor(), options,
                                                   std::make_shared<srf::MemoryRegistrationStore>(app->get_executor()));
      app->register_(registrar->handler());
      connection = registrar->on_change([this](const srf::BindingChange& change) {
        log.add(std::string(kind_name(change.kind)) + " " + change.aor + " " + change.binding.contact);
        log.add(std::string(kind_name(change.kind)) + " " + change.aor);
      });
      return 0;
    });
  }
  ~RegistrarTest() override {
    harness.run([&] {
      connection.reset();
      registrar.reset();
      return 0;
    });
  }

  SippCall uac(const std::string& scenario, const std::string& user) {
    SippCall call = sipp(SRF_SIPP_DIR, scenario);
    call.service = user;
    return call;
  }

  // The live contacts of `aor`, looked up on the engine thread.
  std::vector<std::string> lookup(const std::string& aor) {
    std::promise<std::vector<std::string>> promise;
    auto future = promise.get_future();
    harness.run([&] {
      registrar->async_lookup(aor, [&promise](std::exception_ptr error, std::vector<srf::Binding> bindings) {
        std::vector<std::string> contacts;
        if (error) contacts.emplace_back("error");
        for (const auto& b : bindings) contacts.push_back(b.contact);
        promise.set_value(std::move(contacts));
      });
      return 0;
    });
    if (future.wait_for(10s) != std::future_status::ready) return {"timeout"};
    return future.get();
  }

  // The events that name the contact ("kind aor contact").
  std::vector<std::string> with_contact() {
    std::vector<std::string> out;
    for (auto& e : log.events()) {
      if (std::count(e.begin(), e.end(), ' ') == 2) out.push_back(e);
    }
    return out;
  }

  std::unique_ptr<srf::Registrar> registrar;
  astmrf::detail::SignalConnection connection;
};

TEST_F(RegistrarTest, SippAddsRetriesAfter423RefreshesAndGets400ForAMalformedContact) {
  auto result = astmrf_test::run_sipp(uac("uac-register-add.xml", "alice"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto contacts = lookup("sip:alice@astmrf.test");
  ASSERT_EQ(contacts.size(), 1U) << log.joined();
  EXPECT_EQ(contacts[0].rfind("sip:alice@127.0.0.1:", 0), 0U) << contacts[0];
  const auto events = with_contact();
  ASSERT_EQ(events.size(), 2U) << log.joined();
  EXPECT_EQ(events[0].rfind("added sip:alice@astmrf.test", 0), 0U) << log.joined();
  EXPECT_EQ(events[1].rfind("refreshed sip:alice@astmrf.test", 0), 0U) << log.joined();
}

TEST_F(RegistrarTest, SippRemovesOneAndThenAllWithTheWildcard) {
  auto result = astmrf_test::run_sipp(uac("uac-register-remove.xml", "bob"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(lookup("sip:bob@astmrf.test").empty());
  const auto events = with_contact();
  ASSERT_EQ(events.size(), 5U) << log.joined();
  EXPECT_EQ(events[0].rfind("added", 0), 0U);
  EXPECT_EQ(events[1].rfind("added", 0), 0U);
  EXPECT_EQ(events[2].rfind("removed sip:bob@astmrf.test sip:bob-2@", 0), 0U) << log.joined();
  EXPECT_EQ(events[3].rfind("refreshed", 0), 0U) << log.joined();
  EXPECT_EQ(events[4].rfind("removed sip:bob@astmrf.test sip:bob@", 0), 0U) << log.joined();
}

TEST_F(RegistrarTest, SippBindingIsGoneAfterItsExpires) {
  harness.run([&] {  // a registrar that grants one second
    srf::RegistrarOptions options;
    options.min_expires = 1s;
    connection.reset();
    registrar = std::make_unique<srf::Registrar>(app->get_executor(), options,
                                                 std::make_shared<srf::MemoryRegistrationStore>(app->get_executor()));
    app->register_(registrar->handler());
    connection = registrar->on_change(
        [this](const srf::BindingChange& change) { log.add(std::string(kind_name(change.kind)) + " " + change.aor); });
    return 0;
  });
  auto result = astmrf_test::run_sipp(uac("uac-register-short.xml", "erin"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("added sip:erin@astmrf.test", 5s)) << log.joined();
  EXPECT_TRUE(log.wait_for("expired sip:erin@astmrf.test", 10s)) << log.joined();
  EXPECT_TRUE(lookup("sip:erin@astmrf.test").empty());
}

// With a middleware in front (as caller authentication would be): REGISTERs it lets through
// reach the registrar, those it answers itself change nothing.
TEST_F(RegistrarTest, SippBehindAMiddleware) {
  harness.run([&] {
    app->use([&](srf::Request& req, srf::Response& res, const std::function<void()>& next) {
      if (req.method() != "REGISTER") return next();
      if (req.header("To").find("mallory") != std::string_view::npos) return res.send(403);
      log.add("middleware");
      next();
    });
    return 0;
  });
  auto result = astmrf_test::run_sipp(uac("uac-register-remove.xml", "dave"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(with_contact().size(), 5U) << log.joined();
  EXPECT_TRUE(log.wait_for("middleware", 1s));
  auto refused = astmrf_test::run_sipp(uac("uac-register-remove.xml", "mallory"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(lookup("sip:mallory@astmrf.test").empty());
}

TEST_F(RegistrarTest, BaresipRegistersIsLookedUpAndUnregistersOnQuit) {
  const std::string aor = "sip:carol@" + harness.address(Transport::udp);
  {
    astmrf_test::BaresipPeer::Options options;
    options.account = "<" + aor + ";transport=udp>;regint=60;answermode=auto;audio_codecs=PCMU";
    astmrf_test::BaresipPeer baresip(options);
    // baresip 1.0's ctrl_tcp sends no registration events: the registrar's own event says it.
    ASSERT_TRUE(log.wait_for("added " + aor, 10s)) << log.joined() << baresip.output();
    auto contacts = lookup(aor);
    ASSERT_EQ(contacts.size(), 1U) << log.joined();
    EXPECT_NE(contacts[0].find("127.0.0.1:" + std::to_string(baresip.sip_port())), std::string::npos) << contacts[0];
  }  // quit: baresip unregisters
  EXPECT_TRUE(log.wait_for("removed " + aor, 10s)) << log.joined();
  EXPECT_TRUE(lookup(aor).empty());
}

// The issue's "REGISTER with auth": DigestAuth in front of the registrar. baresip is challenged,
// answers, and only then is its binding stored; a wrong password stores nothing.
TEST_F(RegistrarTest, BaresipRegistersThroughDigestAuth) {
  std::unique_ptr<srf::DigestAuth> auth;
  harness.run([&] {
    srf::DigestAuthOptions options;
    options.realm = "astmrf.test";
    options.credentials = [this](const std::string& user, const std::string&, auto done) {
      log.add("credentials of " + user);
      done(user == "dave" ? std::optional<srf::Credential>(srf::Credential{"secret", {}, {}}) : std::nullopt);
    };
    auth = std::make_unique<srf::DigestAuth>(std::move(options));
    app->use(auth->middleware());
    return 0;
  });
  const std::string wrong = "sip:erin@" + harness.address(Transport::udp);
  {
    astmrf_test::BaresipPeer::Options options;
    options.account = "<" + wrong + ";transport=udp>;auth_user=erin;auth_pass=bad;regint=60";
    astmrf_test::BaresipPeer baresip(options);
    ASSERT_TRUE(log.wait_for("credentials of erin", 10s)) << log.joined() << baresip.output();
  }
  EXPECT_TRUE(lookup(wrong).empty());
  const std::string aor = "sip:dave@" + harness.address(Transport::udp);
  {
    astmrf_test::BaresipPeer::Options options;
    options.account = "<" + aor + ";transport=udp>;auth_user=dave;auth_pass=secret;regint=60";
    astmrf_test::BaresipPeer baresip(options);
    ASSERT_TRUE(log.wait_for("added " + aor, 10s)) << log.joined() << baresip.output();
    EXPECT_EQ(lookup(aor).size(), 1U) << log.joined();
  }  // quit: its un-REGISTER is challenged too, and removes the binding
  EXPECT_TRUE(log.wait_for("removed " + aor, 10s)) << log.joined();
  EXPECT_TRUE(lookup(aor).empty());
  const auto events = log.events();
  EXPECT_EQ(std::count(events.begin(), events.end(), "added " + wrong), 0) << log.joined();
  harness.run([&] {
    auth.reset();  // the middleware keeps its own state: the Srf may outlive this
    return 0;
  });
}

}  // namespace
