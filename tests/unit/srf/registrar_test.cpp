// srf::Registrar: the RFC 3261 10.3 rules, on an io_context with the memory store and custom stores.
#include <astmrf/sip/parser.hpp>
#include <astmrf/srf/registrar.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace srf = astmrf::srf;
namespace sip = astmrf::sip;

namespace {

struct Fixture : ::testing::Test {
  boost::asio::io_context io;
  std::shared_ptr<srf::MemoryRegistrationStore> store =
      std::make_shared<srf::MemoryRegistrationStore>(io.get_executor());
  srf::RegistrarOptions options = [] {
    srf::RegistrarOptions o;
    o.min_expires = std::chrono::seconds(1);
    o.max_expires = std::chrono::seconds(3600);
    o.default_expires = std::chrono::seconds(600);
    return o;
  }();
  std::unique_ptr<srf::Registrar> registrar;
  std::vector<srf::BindingChange> changes;
  astmrf::detail::SignalConnection connection;

  void make(std::shared_ptr<srf::RegistrationStore> s = nullptr) {
    registrar = std::make_unique<srf::Registrar>(io.get_executor(), options, s ? s : store);
    connection = registrar->on_change([this](const srf::BindingChange& c) { changes.push_back(c); });
  }
  void SetUp() override { make(); }

  static std::string reg(const std::string& headers, const std::string& call_id = "c1", int cseq = 1,
                         const std::string& to = "<sip:alice@Example.COM;transport=udp>") {
    return "REGISTER sip:example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK" +
           call_id + std::to_string(cseq) +
           "\r\n"
           "From: <sip:alice@example.com>;tag=1\r\n"
           "To: " +
           to +
           "\r\n"
           "Call-ID: " +
           call_id +
           "\r\n"
           "CSeq: " +
           std::to_string(cseq) +
           " REGISTER\r\n"
           "Max-Forwards: 70\r\n" +
           headers + "Content-Length: 0\r\n\r\n";
  }

  srf::RegisterReply send(const std::string& text, std::string_view authenticated_user = {}) {
    auto msg = sip::parse_message(text);
    EXPECT_TRUE(msg.has_value()) << text;
    std::optional<srf::RegisterReply> reply;
    registrar->process(
        *msg, "udp:127.0.0.1:5070", [&](srf::RegisterReply r) { reply = std::move(r); }, authenticated_user);
    EXPECT_FALSE(reply) << "completed inside the call";
    io.restart();
    // Until the reply (bounded): the expiry timers keep the io_context busy.
    for (int i = 0; i < 1000 && !reply; ++i) io.run_one_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(reply);
    return reply.value_or(srf::RegisterReply{0, "none", {}});
  }

  std::vector<srf::Binding> lookup(const std::string& aor) {
    std::vector<srf::Binding> out;
    bool done = false;
    registrar->async_lookup(aor, [&](std::exception_ptr e, std::vector<srf::Binding> b) {
      EXPECT_FALSE(e);
      out = std::move(b);
      done = true;
    });
    io.restart();
    for (int i = 0; i < 1000 && !done; ++i) io.run_one_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(done);
    return out;
  }

  static std::vector<std::string> headers(const srf::RegisterReply& r, const std::string& name) {
    std::vector<std::string> out;
    for (const auto& [n, v] : r.headers) {
      if (n == name) out.push_back(v);
    }
    return out;
  }
};

using Registrar = Fixture;

TEST(RegistrarAor, Normalises) {
  EXPECT_EQ(srf::Registrar::normalise_aor("sip:Alice@Example.COM;transport=tcp?x=y"), "sip:Alice@example.com");
  EXPECT_EQ(srf::Registrar::normalise_aor("sips:%61lice@example.com:5061"), "sip:alice@example.com:5061");
  EXPECT_EQ(srf::Registrar::normalise_aor("tel:+1234;phone-context=x"), "tel:+1234");
  EXPECT_EQ(srf::Registrar::normalise_aor("http://x"), std::nullopt);
  EXPECT_EQ(srf::Registrar::normalise_aor("not a uri"), std::nullopt);
}

TEST_F(Registrar, AddRefreshRemove) {
  auto r = send(reg("Contact: <sip:alice@127.0.0.1:5070>;expires=120\r\n"));
  ASSERT_EQ(r.status, 200) << r.reason;
  ASSERT_EQ(headers(r, "Contact").size(), 1U);
  EXPECT_EQ(headers(r, "Contact")[0], "<sip:alice@127.0.0.1:5070>;expires=120");
  EXPECT_EQ(headers(r, "Date").size(), 1U);
  ASSERT_EQ(changes.size(), 1U);
  EXPECT_EQ(changes[0].kind, srf::BindingChangeKind::added);
  EXPECT_EQ(changes[0].aor, "sip:alice@example.com");

  r = send(reg("Contact: <sip:alice@127.0.0.1:5070>\r\nExpires: 300\r\n", "c1", 2));
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(changes.size(), 2U);
  EXPECT_EQ(changes[1].kind, srf::BindingChangeKind::refreshed);
  auto b = lookup("sip:alice@EXAMPLE.com;user=phone");
  ASSERT_EQ(b.size(), 1U);
  EXPECT_EQ(b[0].cseq, 2U);
  EXPECT_EQ(b[0].source, "udp:127.0.0.1:5070");

  // A query (no Contact) lists the bindings and changes nothing.
  r = send(reg("", "q", 1));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(headers(r, "Contact").size(), 1U);
  EXPECT_EQ(changes.size(), 2U);

  r = send(reg("Contact: <sip:alice@127.0.0.1:5070>;expires=0\r\n", "c1", 3));
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(headers(r, "Contact").empty());
  ASSERT_EQ(changes.size(), 3U);
  EXPECT_EQ(changes[2].kind, srf::BindingChangeKind::removed);
  EXPECT_TRUE(lookup("sip:alice@example.com").empty());
  EXPECT_EQ(store->size(), 0U);
}

// RFC 3261 10.3 step 1: a REGISTER for a domain it does not serve gets 404 and changes nothing.
TEST_F(Registrar, OnlyItsDomainsAreServed) {
  options.domains = {"example.com", "example.org"};
  make();
  EXPECT_EQ(send(reg("Contact: <sip:alice@127.0.0.1:5070>\r\n")).status, 200);
  auto other = reg("Contact: <sip:alice@127.0.0.1:5070>\r\n", "c2");
  other.replace(other.find("sip:example.com"), 15, "sip:EXAMPLE.ORG");  // the Request-URI, any case
  EXPECT_EQ(send(other).status, 200);
  auto foreign = reg("Contact: <sip:alice@127.0.0.1:5070>\r\n", "c3");
  foreign.replace(foreign.find("sip:example.com"), 15, "sip:example.net");
  const auto before = changes.size();
  const auto r = send(foreign);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.reason, "Domain Not Served");
  EXPECT_EQ(changes.size(), before);
}

// Step 3: behind an authenticating middleware, a user changes only the bindings of its own AOR.
TEST_F(Registrar, AnAuthenticatedUserChangesOnlyItsOwnAor) {
  EXPECT_EQ(send(reg("Contact: <sip:alice@127.0.0.1:5070>\r\n"), "alice").status, 200);
  const auto bob = reg("Contact: <sip:alice@127.0.0.1:5070>\r\n", "c2", 1, "<sip:bob@example.com>");
  const auto r = send(bob, "alice");
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(lookup("sip:bob@example.com").empty());
  EXPECT_EQ(send(bob, "bob").status, 200);
  // No authenticated user: nothing in front asked for one, nothing is checked.
  EXPECT_EQ(send(reg("Contact: <sip:carol@127.0.0.1:5070>\r\n", "c3", 1, "<sip:carol@example.com>")).status, 200);
  EXPECT_EQ(lookup("sip:bob@example.com").size(), 1U);
}

TEST_F(Registrar, AuthorizeDecidesWhoMayChangeWhichAor) {
  std::vector<std::string> asked;
  options.authorize = [&](std::string_view user, std::string_view aor) {
    asked.push_back(std::string(user) + " " + std::string(aor));
    return user == "admin";
  };
  make();
  const auto bob = reg("Contact: <sip:bob@127.0.0.1:5070>\r\n", "c1", 1, "<sip:Bob@Example.COM>");
  EXPECT_EQ(send(bob, "admin").status, 200);
  EXPECT_EQ(send(reg("Contact: <sip:bob@127.0.0.1:5070>\r\n", "c2", 1, "<sip:bob@example.com>"), "bob").status, 403);
  EXPECT_EQ(asked, (std::vector<std::string>{"admin sip:Bob@example.com", "bob sip:bob@example.com"}));
}

TEST_F(Registrar, DefaultAndMaxExpires) {
  auto r = send(reg("Contact: <sip:a@127.0.0.1:1>\r\n"));
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(headers(r, "Contact")[0].find(";expires=600"), std::string::npos) << headers(r, "Contact")[0];
  r = send(reg("Contact: <sip:a@127.0.0.1:1>;expires=99999\r\n", "c1", 2));
  EXPECT_NE(headers(r, "Contact")[0].find(";expires=3600"), std::string::npos) << headers(r, "Contact")[0];
}

TEST_F(Registrar, WildcardNeedsExpiresZero) {
  ASSERT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>\r\n", "x", 1)).status, 200);
  ASSERT_EQ(send(reg("Contact: <sip:b@127.0.0.1:2>\r\n", "y", 1)).status, 200);
  EXPECT_EQ(send(reg("Contact: *\r\n", "z", 1)).status, 400);
  EXPECT_EQ(send(reg("Contact: *\r\nExpires: 5\r\n", "z", 2)).status, 400);
  EXPECT_EQ(send(reg("Contact: *, <sip:c@127.0.0.1>\r\nExpires: 0\r\n", "z", 3)).status, 400);
  EXPECT_EQ(lookup("sip:alice@example.com").size(), 2U);
  auto r = send(reg("Contact: *\r\nExpires: 0\r\n", "z", 4));
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(headers(r, "Contact").empty());
  EXPECT_TRUE(lookup("sip:alice@example.com").empty());
  EXPECT_EQ(changes.back().kind, srf::BindingChangeKind::removed);
}

TEST_F(Registrar, OutOfOrderCSeqIs500) {
  ASSERT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>\r\n", "c1", 5)).status, 200);
  EXPECT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>;expires=0\r\n", "c1", 5)).status, 500);
  EXPECT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>;expires=0\r\n", "c1", 4)).status, 500);
  EXPECT_EQ(send(reg("Contact: *\r\nExpires: 0\r\n", "c1", 3)).status, 500);
  EXPECT_EQ(lookup("sip:alice@example.com").size(), 1U);
  // Another Call-ID may do it with any CSeq.
  EXPECT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>;expires=0\r\n", "other", 1)).status, 200);
  EXPECT_TRUE(lookup("sip:alice@example.com").empty());
}

TEST_F(Registrar, AContactListedTwiceIsNotOutOfOrder) {
  auto r = send(reg("Contact: <sip:a@127.0.0.1:1>;expires=60, <sip:a@127.0.0.1:1>;expires=120\r\n"));
  ASSERT_EQ(r.status, 200) << r.reason;
  ASSERT_EQ(headers(r, "Contact").size(), 1U);
  EXPECT_NE(headers(r, "Contact")[0].find("expires=120"), std::string::npos);
}

TEST_F(Registrar, TooBriefGets423WithMinExpires) {
  options.min_expires = std::chrono::seconds(60);
  make();
  auto r = send(reg("Contact: <sip:a@127.0.0.1:1>;expires=30\r\n"));
  EXPECT_EQ(r.status, 423);
  EXPECT_EQ(headers(r, "Min-Expires"), std::vector<std::string>{"60"});
  EXPECT_EQ(store->size(), 0U);
  EXPECT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>;expires=60\r\n", "c1", 2)).status, 200);
  // Expires 0 is never too brief.
  EXPECT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>;expires=0\r\n", "c1", 3)).status, 200);
}

TEST_F(Registrar, LookupSortedByQ) {
  ASSERT_EQ(send(reg("Contact: <sip:low@127.0.0.1:1>;q=0.1, <sip:high@127.0.0.1:2>;q=1.0\r\n"
                     "Contact: <sip:mid@127.0.0.1:3>;q=0.5\r\n"))
                .status,
            200);
  auto b = lookup("sip:alice@example.com");
  ASSERT_EQ(b.size(), 3U);
  EXPECT_EQ(b[0].contact, "sip:high@127.0.0.1:2");
  EXPECT_EQ(b[1].contact, "sip:mid@127.0.0.1:3");
  EXPECT_EQ(b[1].q, 500);
  EXPECT_EQ(b[2].contact, "sip:low@127.0.0.1:1");
  EXPECT_EQ(send(reg("Contact: <sip:x@127.0.0.1:1>;q=1.5\r\n", "c1", 2)).status, 400);
  EXPECT_EQ(send(reg("Contact: <sip:x@127.0.0.1:1>;q=abc\r\n", "c1", 3)).status, 400);
}

TEST_F(Registrar, PathStoredAndEchoedWithSupportedPath) {
  auto r =
      send(reg("Path: <sip:p1.example.com;lr>\r\nPath: <sip:p2.example.com;lr>\r\n"
               "Contact: <sip:a@127.0.0.1:1>\r\n"));
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(headers(r, "Path").empty());
  r =
      send(reg("Supported: path\r\nPath: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
               "Contact: <sip:a@127.0.0.1:1>\r\n",
               "c1", 2));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(headers(r, "Path"), (std::vector<std::string>{"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"}));
  auto b = lookup("sip:alice@example.com");
  ASSERT_EQ(b.size(), 1U);
  EXPECT_EQ(b[0].path.size(), 2U);
}

TEST_F(Registrar, InstanceIdReplacesTheOldBinding) {
  const std::string inst = R"(;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1)";
  ASSERT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>" + inst + "\r\n", "c1", 1)).status, 200);
  // After a reboot: a new Call-ID, a new contact, the same instance.
  auto r = send(reg("Contact: <sip:a@127.0.0.1:2>" + inst + "\r\n", "c2", 1));
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(headers(r, "Contact").size(), 1U);
  EXPECT_NE(headers(r, "Contact")[0].find("+sip.instance="), std::string::npos);
  auto b = lookup("sip:alice@example.com");
  ASSERT_EQ(b.size(), 1U);
  EXPECT_EQ(b[0].contact, "sip:a@127.0.0.1:2");
  EXPECT_EQ(b[0].instance_id, "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
  EXPECT_EQ(b[0].reg_id, 1U);
  ASSERT_GE(changes.size(), 3U);
  EXPECT_EQ(changes[1].kind, srf::BindingChangeKind::removed);
  EXPECT_EQ(changes[2].kind, srf::BindingChangeKind::added);
}

TEST_F(Registrar, MalformedContactIs400AndNothingStored) {
  for (const std::string contact :
       {"Contact: <sip:a@127.0.0.1:1\r\n", "Contact: <sip:a@127.0.0.1:1>;expires=abc\r\n", "Contact: <http://x>\r\n",
        "Contact: <sip:a@127.0.0.1:1>, <sip:\r\n", "Contact: <sip:a@127.0.0.1:1>;reg-id=x\r\n"}) {
    auto r = send(reg(contact));
    EXPECT_EQ(r.status, 400) << contact;
    EXPECT_FALSE(r.reason.empty());
  }
  EXPECT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>\r\nExpires: soon\r\n")).status, 400);
  EXPECT_EQ(send(reg("Path: <sip:p1;lr\r\nContact: <sip:a@127.0.0.1:1>\r\n")).status, 400);
  EXPECT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>\r\n", "c1", 1, "<http://example.com>")).status, 416);
  EXPECT_EQ(send(reg("Require: foo\r\nContact: <sip:a@127.0.0.1:1>\r\n")).status, 420);
  EXPECT_EQ(store->size(), 0U);
  EXPECT_TRUE(changes.empty());
}

TEST_F(Registrar, BindingsExpire) {
  ASSERT_EQ(send(reg("Contact: <sip:short@127.0.0.1:1>;expires=1, <sip:long@127.0.0.1:2>;expires=600\r\n")).status,
            200);
  ASSERT_EQ(changes.size(), 2U);
  io.restart();
  // Runs until the expiry timer fired (bounded: the test fails rather than hangs).
  for (int i = 0; i < 100 && changes.size() < 3; ++i) io.run_for(std::chrono::milliseconds(50));
  ASSERT_EQ(changes.size(), 3U);
  EXPECT_EQ(changes[2].kind, srf::BindingChangeKind::expired);
  EXPECT_EQ(changes[2].binding.contact, "sip:short@127.0.0.1:1");
  auto b = lookup("sip:alice@example.com");
  ASSERT_EQ(b.size(), 1U);
  EXPECT_EQ(b[0].contact, "sip:long@127.0.0.1:2");
}

TEST_F(Registrar, LookupOfBadUriFails) {
  bool failed = false;
  registrar->async_lookup("http://nope", [&](std::exception_ptr e, std::vector<srf::Binding>) { failed = !!e; });
  for (int i = 0; i < 100 && !failed; ++i) io.run_one_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(failed);
}

TEST_F(Registrar, LookupWithUseAwaitable) {
  ASSERT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>\r\n")).status, 200);
  std::size_t found = 0;
  bool done = false;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        auto bindings = co_await registrar->async_lookup("sip:alice@example.com", boost::asio::use_awaitable);
        found = bindings.size();
        done = true;
      },
      boost::asio::detached);
  io.restart();
  for (int i = 0; i < 1000 && !done; ++i) io.run_one_for(std::chrono::milliseconds(10));
  EXPECT_EQ(found, 1U);
}

TEST_F(Registrar, LookupCancelled) {
  boost::asio::cancellation_signal cancel;
  std::string outcome;
  registrar->async_lookup(
      "sip:alice@example.com",
      boost::asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, const std::vector<srf::Binding>&) {
        outcome = astmrf::detail::is_operation_aborted(e) ? "aborted" : "completed";
      }));
  cancel.emit(boost::asio::cancellation_type::terminal);
  io.restart();
  for (int i = 0; i < 1000 && outcome.empty(); ++i) io.run_one_for(std::chrono::milliseconds(10));
  EXPECT_EQ(outcome, "aborted");
}

// A store that answers later (as a shared store would) or fails.
struct SlowStore : srf::RegistrationStore {
  explicit SlowStore(boost::asio::io_context& context) : io(context), inner(context.get_executor()) {}
  boost::asio::io_context& io;
  srf::MemoryRegistrationStore inner;
  bool fail{false};
  int gets{0};
  int puts{0};
  void get(const std::string& aor, GetHandler done) override {
    ++gets;
    // Two hops, so that concurrent REGISTERs would interleave without the registrar's queue.
    boost::asio::post(io, [this, failing = fail, aor, done = std::move(done)]() mutable {
      if (failing) {
        done(std::make_exception_ptr(std::runtime_error("down")), {});
        return;
      }
      inner.get(aor, std::move(done));
    });
  }
  void put(const std::string& aor, std::vector<srf::Binding> bindings, PutHandler done) override {
    ++puts;
    boost::asio::post(io, [this, aor, b = std::move(bindings), done = std::move(done)]() mutable {
      inner.put(aor, std::move(b), std::move(done));
    });
  }
};

TEST_F(Registrar, CustomStoreSerialisedPerAor) {
  auto slow = std::make_shared<SlowStore>(io);
  make(slow);
  // Two REGISTERs at once for the same AOR: neither loses the other's binding.
  auto m1 = sip::parse_message(reg("Contact: <sip:one@127.0.0.1:1>\r\n", "a", 1));
  auto m2 = sip::parse_message(reg("Contact: <sip:two@127.0.0.1:2>\r\n", "b", 1));
  int replies = 0;
  registrar->process(*m1, "", [&](const srf::RegisterReply& r) { replies += r.status == 200; });
  registrar->process(*m2, "", [&](const srf::RegisterReply& r) { replies += r.status == 200; });
  for (int i = 0; i < 1000 && replies < 2; ++i) io.run_one_for(std::chrono::milliseconds(10));
  EXPECT_EQ(replies, 2);
  EXPECT_EQ(lookup("sip:alice@example.com").size(), 2U);
  EXPECT_GE(slow->puts, 2);
  slow->fail = true;
  EXPECT_EQ(send(reg("Contact: <sip:three@127.0.0.1:3>\r\n", "c", 1)).status, 500);
}

TEST_F(Registrar, ExpiryRetriedWhenTheStoreFails) {
  auto slow = std::make_shared<SlowStore>(io);
  make(slow);
  ASSERT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>;expires=1\r\n")).status, 200);
  slow->fail = true;
  const int gets = slow->gets;
  io.restart();
  for (int i = 0; i < 200 && slow->gets == gets; ++i) io.run_one_for(std::chrono::milliseconds(50));
  ASSERT_GT(slow->gets, gets);  // the expiry tried, and failed
  EXPECT_EQ(changes.size(), 1U);
  slow->fail = false;
  for (int i = 0; i < 100 && changes.size() < 2; ++i) io.run_for(std::chrono::milliseconds(50));
  ASSERT_EQ(changes.size(), 2U);
  EXPECT_EQ(changes[1].kind, srf::BindingChangeKind::expired);
}

TEST_F(Registrar, TooManyBindings) {
  options.max_bindings = 2;
  make();
  EXPECT_EQ(send(reg("Contact: <sip:a@127.0.0.1:1>, <sip:b@127.0.0.1:1>, <sip:c@127.0.0.1:1>\r\n")).status, 403);
  EXPECT_EQ(store->size(), 0U);
}

}  // namespace
