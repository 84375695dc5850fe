// srf::DigestAuth (UAS digest, RFC 7616 / RFC 8760) and the asynchronous middleware chain of
// Srf, driven through a scripted backend (no network): challenges, the RFC 7616 vectors,
// success with MD5 and SHA-256, wrong password, stale nonces, nonce-count replays, missing
// fields, proxy mode, credentials that complete later or never.
#include "digest.hpp"
#include "digest_auth_detail.hpp"
#include "scripted_transaction.hpp"

#include <astmrf/sip/parser.hpp>
#include <astmrf/srf/digest_auth.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

namespace srf = astmrf::srf;
namespace sip = astmrf::sip;
using namespace std::chrono_literals;

const std::string kUri = "sip:service@127.0.0.1";

sip::Message request(const std::string& method, const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string text = method + " " + kUri +
                     " SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1\r\n"
                     "From: <sip:alice@127.0.0.1>;tag=a\r\n"
                     "To: <sip:service@127.0.0.1>\r\n"
                     "Call-ID: digest-auth-test\r\n"
                     "CSeq: 1 " +
                     method + "\r\n";
  for (const auto& [name, value] : headers) text += name + ": " + value + "\r\n";
  text += "Content-Length: 0\r\n\r\n";
  auto parsed = sip::parse_message(text);
  if (!parsed) throw std::runtime_error("test message: " + parsed.error().message());
  return std::move(*parsed);
}

using astmrf_test::ScriptedTransaction;

class ScriptedBackend : public srf::SignalingBackend {
 public:
  explicit ScriptedBackend(boost::asio::any_io_executor ex) : executor_(std::move(ex)) {}
  [[nodiscard]] boost::asio::any_io_executor get_executor() const override { return executor_; }
  void on_request(srf::BackendRequestHandler handler) override { handler_ = std::move(handler); }
  std::shared_ptr<srf::BackendClientTransaction> send_request(srf::RequestSpec, srf::BackendResponseHandler,
                                                              bool) override {
    return nullptr;
  }
  std::shared_ptr<ScriptedTransaction> receive(const std::string& method,
                                               const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    auto t = std::make_shared<ScriptedTransaction>(request(method, headers));
    handler_(t);
    return t;
  }

 private:
  boost::asio::any_io_executor executor_;
  srf::BackendRequestHandler handler_;
};

// The challenge of `algorithm` in a 401/407, parsed (the string keeps the views alive).
struct Challenge {
  std::string text;
  sip::AuthParams params;
};
std::optional<Challenge> challenge_of(const ScriptedTransaction& t, const std::string& algorithm,
                                      const std::string& header = "WWW-Authenticate") {
  for (const auto& value : t.headers(header)) {
    auto c = std::make_optional<Challenge>();
    c->text = value;
    auto parsed = sip::parse_auth_params(c->text);
    if (!parsed) continue;
    c->params = std::move(*parsed);
    if (c->params.param("algorithm").value_or("") == algorithm) return c;
  }
  return std::nullopt;
}

// What the UA side (the UAC digest of Srf) answers to `c`.
std::string answer(const Challenge& c, const std::string& method, const std::string& password,
                   const std::string& nc = "00000001", const std::string& username = "alice") {
  srf::detail::DigestInput input{method, kUri, username, password, "0a4f113b", nc};
  return srf::detail::digest_credentials(c.params, input).value();
}

class DigestAuthTest : public testing::Test {
 protected:
  // Unless a test chooses its algorithms, both are offered (SHA-256 first, as RFC 8760 lists them).
  void make(srf::DigestAuthOptions options = {}, bool both_algorithms = true) {
    if (both_algorithms) options.algorithms = {srf::DigestAlgorithm::sha256, srf::DigestAlgorithm::md5};
    if (options.realm.empty()) options.realm = "astmrf.test";
    if (!options.credentials) {
      options.credentials = [this](const std::string& user, const std::string& realm, auto done) {
        lookups.push_back(user + "@" + realm);
        if (async) {
          later.push_back(std::move(done));
          return;
        }
        if (user == "alice")
          done(srf::Credential{"secret", {}, {}});
        else
          done(std::nullopt);
      };
    }
    options.clock = [this] { return now; };
    auth = std::make_unique<srf::DigestAuth>(std::move(options));
    app = std::make_unique<srf::Srf>(backend);
    app->use(auth->middleware());
    app->on("INVITE", [this](srf::Request req, srf::Response res) {
      handled.push_back(std::string(req.authenticated_user()));
      res.send(200);
    });
    app->on("MESSAGE", [this](srf::Request req, srf::Response res) {
      handled.push_back(std::string(req.authenticated_user()));
      res.send(202);
    });
  }
  // Challenged, then answers with `password`.
  std::shared_ptr<ScriptedTransaction> authenticate(const std::string& algorithm, const std::string& password) {
    auto first = backend->receive("INVITE");
    EXPECT_EQ(first->status(), 401);
    auto c = challenge_of(*first, algorithm);
    EXPECT_TRUE(c);
    return backend->receive("INVITE", {{"Authorization", answer(*c, "INVITE", password)}});
  }

  boost::asio::io_context io;
  std::shared_ptr<ScriptedBackend> backend = std::make_shared<ScriptedBackend>(io.get_executor());
  std::unique_ptr<srf::DigestAuth> auth;
  std::unique_ptr<srf::Srf> app;
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  bool async{false};
  std::vector<std::function<void(std::optional<srf::Credential>)>> later;
  std::vector<std::string> lookups;
  std::vector<std::string> handled;
};

// RFC 7616 3.9.1: Mufasa / "Circle of Life", GET /dir/index.html.
TEST(DigestVectors, Rfc7616Md5AndSha256) {
  const std::string nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
  const std::string cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
  const std::string a1 = "Mufasa:http-auth@example.org:Circle of Life";
  auto md5 = srf::detail::digest_response("MD5", srf::detail::hash_hex("MD5", a1).value(), nonce, "00000001", cnonce,
                                          "GET", "/dir/index.html");
  EXPECT_EQ(md5.value(), "8ca523f5e9506fed4657c9700eebdbec");
  auto sha = srf::detail::digest_response("SHA-256", srf::detail::hash_hex("SHA-256", a1).value(), nonce, "00000001",
                                          cnonce, "GET", "/dir/index.html");
  EXPECT_EQ(sha.value(), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  EXPECT_TRUE(srf::detail::hex_equal("8CA523F5e9506fed4657c9700eebdbec", *md5));
  EXPECT_FALSE(srf::detail::hex_equal("8ca523f5e9506fed4657c9700eebdbed", *md5));
  EXPECT_FALSE(srf::detail::hex_equal("8ca5", *md5));
}

TEST_F(DigestAuthTest, ByDefaultOnlyMd5IsOffered) {
  make({}, false);
  auto values = backend->receive("INVITE")->headers("WWW-Authenticate");
  ASSERT_EQ(values.size(), 1u);
  EXPECT_NE(values[0].find("algorithm=MD5"), std::string::npos);
}

TEST_F(DigestAuthTest, ChallengesInTheOrderOfTheOptions) {
  make();
  auto t = backend->receive("INVITE");
  ASSERT_EQ(t->status(), 401);
  auto values = t->headers("WWW-Authenticate");
  ASSERT_EQ(values.size(), 2u);
  EXPECT_NE(values[0].find("algorithm=SHA-256"), std::string::npos);
  EXPECT_NE(values[1].find("algorithm=MD5"), std::string::npos);
  EXPECT_NE(values[0].find("qop=\"auth\""), std::string::npos);
  EXPECT_NE(values[0].find("realm=\"astmrf.test\""), std::string::npos);
  EXPECT_EQ(values[0].find("stale"), std::string::npos);
  EXPECT_TRUE(handled.empty());
}

TEST_F(DigestAuthTest, AcceptsSha256AndMd5AndTellsTheHandlerWho) {
  make();
  EXPECT_EQ(authenticate("SHA-256", "secret")->status(), 200);
  EXPECT_EQ(authenticate("MD5", "secret")->status(), 200);
  EXPECT_EQ(handled, (std::vector<std::string>{"alice", "alice"}));
  EXPECT_EQ(lookups, (std::vector<std::string>{"alice@astmrf.test", "alice@astmrf.test"}));
}

TEST_F(DigestAuthTest, AcceptsAnHa1InsteadOfAPassword) {
  srf::DigestAuthOptions options;
  options.credentials = [](const std::string& user, const std::string& realm, auto done) {
    auto a1 = user + ":" + realm + ":secret";
    done(srf::Credential{{}, srf::detail::hash_hex("MD5", a1).value(), srf::detail::hash_hex("SHA-256", a1).value()});
  };
  make(std::move(options));
  EXPECT_EQ(authenticate("SHA-256", "secret")->status(), 200);
  EXPECT_EQ(authenticate("MD5", "secret")->status(), 200);
  EXPECT_EQ(authenticate("MD5", "wrong")->status(), 403);
}

TEST_F(DigestAuthTest, WrongPasswordOrUnknownUserIsForbidden) {
  make();
  EXPECT_EQ(authenticate("SHA-256", "wrong")->status(), 403);
  auto first = backend->receive("INVITE");
  auto c = challenge_of(*first, "MD5");
  ASSERT_TRUE(c);
  auto t = backend->receive("INVITE", {{"Authorization", answer(*c, "INVITE", "secret", "00000001", "mallory")}});
  EXPECT_EQ(t->status(), 403);
  EXPECT_TRUE(handled.empty());
}

TEST_F(DigestAuthTest, AnExpiredNonceIsStaleOnlyWithTheRightPassword) {
  srf::DigestAuthOptions options;
  options.nonce_lifetime = 30s;
  make(std::move(options));
  auto first = backend->receive("INVITE");
  auto c = challenge_of(*first, "SHA-256");
  ASSERT_TRUE(c);
  now += 31s;
  auto stale = backend->receive("INVITE", {{"Authorization", answer(*c, "INVITE", "secret")}});
  ASSERT_EQ(stale->status(), 401);
  auto renewed = challenge_of(*stale, "SHA-256");
  ASSERT_TRUE(renewed);
  EXPECT_EQ(renewed->params.param("stale").value_or(""), "true");
  auto wrong = backend->receive("INVITE", {{"Authorization", answer(*c, "INVITE", "wrong")}});
  ASSERT_EQ(wrong->status(), 401);
  EXPECT_FALSE(challenge_of(*wrong, "SHA-256")->params.param("stale"));
  // The fresh nonce works.
  EXPECT_EQ(backend->receive("INVITE", {{"Authorization", answer(*renewed, "INVITE", "secret")}})->status(), 200);
}

TEST_F(DigestAuthTest, AReplayedNonceCountIsRefused) {
  make();
  auto first = backend->receive("INVITE");
  auto c = challenge_of(*first, "MD5");
  ASSERT_TRUE(c);
  const auto credentials = answer(*c, "INVITE", "secret");
  EXPECT_EQ(backend->receive("INVITE", {{"Authorization", credentials}})->status(), 200);
  auto replay = backend->receive("INVITE", {{"Authorization", credentials}});
  ASSERT_EQ(replay->status(), 401);
  EXPECT_EQ(challenge_of(*replay, "MD5")->params.param("stale").value_or(""), "true");
  EXPECT_EQ(backend->receive("INVITE", {{"Authorization", answer(*c, "INVITE", "secret", "00000002")}})->status(), 200);
  EXPECT_EQ(backend->receive("INVITE", {{"Authorization", answer(*c, "INVITE", "secret", "00000002")}})->status(), 401);
  EXPECT_EQ(handled.size(), 2u);
}

TEST_F(DigestAuthTest, AForgottenNonceGetsANewOne) {
  srf::DigestAuthOptions options;
  options.max_tracked_nonces = 1;
  make(std::move(options));
  auto a = challenge_of(*backend->receive("INVITE"), "MD5");
  now += 1s;
  auto b = challenge_of(*backend->receive("INVITE"), "MD5");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(backend->receive("INVITE", {{"Authorization", answer(*a, "INVITE", "secret")}})->status(), 200);
  EXPECT_EQ(backend->receive("INVITE", {{"Authorization", answer(*b, "INVITE", "secret")}})->status(), 200);
  // a was forgotten to make room for b: its counts cannot be checked any more.
  EXPECT_EQ(backend->receive("INVITE", {{"Authorization", answer(*a, "INVITE", "secret", "00000005")}})->status(), 401);
  EXPECT_EQ(backend->receive("INVITE", {{"Authorization", answer(*b, "INVITE", "secret", "00000002")}})->status(), 200);
}

TEST_F(DigestAuthTest, MissingFieldsAreABadRequest) {
  make();
  auto c = challenge_of(*backend->receive("INVITE"), "MD5");
  ASSERT_TRUE(c);
  const std::string nonce(*c->params.param("nonce"));
  auto t = backend->receive(
      "INVITE", {{"Authorization", "Digest username=\"alice\", realm=\"astmrf.test\", nonce=\"" + nonce + "\", uri=\"" +
                                       kUri + "\", qop=auth, nc=00000001, cnonce=\"x\""}});
  ASSERT_EQ(t->status(), 400);
  EXPECT_EQ(t->responses.back().reason, "Missing response in Authorization");
  t = backend->receive("INVITE", {{"Authorization", "Digest username=\"alice\", realm=\"astmrf.test\", nonce=\"" +
                                                        nonce + "\", uri=\"" + kUri + "\", response=\"00\""}});
  ASSERT_EQ(t->status(), 400);
  EXPECT_EQ(t->responses.back().reason, "Missing qop in Authorization");
  t = backend->receive("INVITE", {{"Authorization", "Digest ,,,=\""}});
  EXPECT_TRUE(t->status() == 400 || t->status() == 401);
  // A nonce not made here: a new challenge, no lookup.
  t = backend->receive(
      "INVITE", {{"Authorization", "Digest username=\"alice\", realm=\"astmrf.test\", nonce=\"abc\", uri=\"" + kUri +
                                       "\", response=\"00\", qop=auth, nc=00000001, cnonce=\"x\""}});
  EXPECT_EQ(t->status(), 401);
  EXPECT_TRUE(lookups.empty());
  EXPECT_TRUE(handled.empty());
}

TEST_F(DigestAuthTest, ProxyModeUses407) {
  srf::DigestAuthOptions options;
  options.proxy = true;
  options.algorithms = {srf::DigestAlgorithm::md5};
  make(std::move(options), false);
  auto first = backend->receive("MESSAGE");
  ASSERT_EQ(first->status(), 407);
  auto c = challenge_of(*first, "MD5", "Proxy-Authenticate");
  ASSERT_TRUE(c);
  EXPECT_FALSE(challenge_of(*first, "SHA-256", "Proxy-Authenticate"));
  EXPECT_EQ(backend->receive("MESSAGE", {{"Authorization", answer(*c, "MESSAGE", "secret")}})->status(), 407);
  EXPECT_EQ(backend->receive("MESSAGE", {{"Proxy-Authorization", answer(*c, "MESSAGE", "secret")}})->status(), 202);
}

TEST_F(DigestAuthTest, OnlyTheChosenMethodsAreChallenged) {
  srf::DigestAuthOptions options;
  options.methods = {"INVITE"};
  make(std::move(options));
  EXPECT_EQ(backend->receive("MESSAGE")->status(), 202);
  EXPECT_EQ(backend->receive("INVITE")->status(), 401);
  EXPECT_EQ(handled, std::vector<std::string>{""});
}

TEST_F(DigestAuthTest, CredentialsCompletingLaterOrNever) {
  make();
  async = true;
  auto c = challenge_of(*backend->receive("INVITE"), "SHA-256");
  ASSERT_TRUE(c);
  auto t = backend->receive("INVITE", {{"Authorization", answer(*c, "INVITE", "secret")}});
  EXPECT_TRUE(t->responses.empty());
  ASSERT_EQ(later.size(), 1u);
  later[0](srf::Credential{"secret", {}, {}});
  later[0](srf::Credential{"other", {}, {}});  // only the first answer counts
  EXPECT_EQ(t->status(), 200);
  EXPECT_EQ(handled, std::vector<std::string>{"alice"});
  // Never: the lookup drops its completion.
  auto u = backend->receive("INVITE", {{"Authorization", answer(*c, "INVITE", "secret", "00000002")}});
  EXPECT_TRUE(u->responses.empty());
  later.clear();
  EXPECT_EQ(u->status(), 500);
}

TEST(SrfMiddleware, NextCalledLaterContinuesTheChainOnce) {
  boost::asio::io_context io;
  auto backend = std::make_shared<ScriptedBackend>(io.get_executor());
  srf::Srf app(backend);
  std::vector<std::string> events;
  std::function<void()> kept;
  app.use([&](srf::Request&, srf::Response&, const std::function<void()>& next) {
    events.push_back("first");
    kept = next;
  });
  app.use([&](srf::Request&, srf::Response&, const std::function<void()>& next) {
    events.push_back("second");
    next();
    next();  // a second call changes nothing
  });
  app.on("MESSAGE", [&](srf::Request, srf::Response res) {
    events.push_back("handler");
    res.send(200);
  });
  auto t = backend->receive("MESSAGE");
  EXPECT_EQ(events, std::vector<std::string>{"first"});
  EXPECT_TRUE(t->responses.empty());
  auto copy = kept;
  kept = nullptr;
  copy();
  copy();
  EXPECT_EQ(events, (std::vector<std::string>{"first", "second", "handler"}));
  EXPECT_EQ(t->status(), 200);
}

}  // namespace
