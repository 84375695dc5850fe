// MediaServerPool and MediaServer without an Asterisk: bad input, a pool whose members are not
// reachable (yet), drains of an idle server. Members point at a 127.0.0.1 port nobody listens
// on, so they stay `connecting`. The fault suite (tests/integration/mrf/fault_test.cpp) runs
// the pool against real Asterisks.
#include <astmrf/mrf/pool.hpp>
#include <astmrf/sip/engine/engine.hpp>
#include <astmrf/srf/engine_backend.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace mrf = astmrf::mrf;

// A loopback TCP port that was free a moment ago: nothing answers there.
std::uint16_t closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

class PoolUnit : public testing::Test {
 protected:
  PoolUnit() {
    astmrf::sip::EngineConfig config;
    config.listen = {{astmrf::sip::Transport::udp, "127.0.0.1", 0}};
    engine = std::make_unique<astmrf::sip::Engine>(io.get_executor(), config);
    engine->start();
    srf = std::make_unique<astmrf::srf::Srf>(astmrf::srf::make_engine_backend(*engine));
    media = std::make_unique<mrf::Mrf>(*srf);
  }
  ~PoolUnit() override {
    media.reset();
    srf.reset();
    engine->stop();
    io.run_for(100ms);
  }

  static mrf::ConnectOptions unreachable() {
    mrf::ConnectOptions options;
    options.ari = {.address = "127.0.0.1", .port = closed_port(), .username = "asterisk", .password = "asterisk"};
    options.sip.port = 5060;
    return options;
  }

  asio::io_context io;
  std::unique_ptr<astmrf::sip::Engine> engine;
  std::unique_ptr<astmrf::srf::Srf> srf;
  std::unique_ptr<mrf::Mrf> media;
};

TEST_F(PoolUnit, BadMembersAreRefusedBeforeAnyIo) {
  mrf::MediaServerPool pool(*media);
  EXPECT_THROW(pool.add(unreachable(), {.weight = 0}), std::invalid_argument);
  auto url = unreachable();
  url.ari.address = "http://127.0.0.1:8088";
  EXPECT_THROW(pool.add(url), std::invalid_argument);
  auto port = unreachable();
  port.sip.address = "127.0.0.1:5060";
  EXPECT_THROW(pool.add(port), std::invalid_argument);
  auto age = unreachable();
  age.max_queue_age = -1;
  EXPECT_THROW(pool.add(age), std::invalid_argument);
  EXPECT_TRUE(pool.servers().empty());
}

TEST_F(PoolUnit, InstanceIdIsValidatedAndGivesAStableAppName) {
  mrf::MediaServerPool pool(*media);
  // The rule front ends check before connecting is the one the pool applies.
  EXPECT_EQ(mrf::instance_id_error("ivr-1"), "");
  EXPECT_EQ(mrf::instance_id_error(std::string(128, 'a')), "");
  EXPECT_NE(mrf::instance_id_error("ivr 1"), "");
  EXPECT_NE(mrf::instance_id_error(std::string(129, 'a')), "");
  auto spaced = unreachable();
  spaced.instance_id = "ivr 1";
  EXPECT_THROW(pool.add(spaced), std::invalid_argument);
  auto control = unreachable();
  control.instance_id = "ivr-\n1";
  EXPECT_THROW(pool.add(control), std::invalid_argument);
  auto utf8 = unreachable();
  utf8.instance_id = "ivr-\xc3\xa9";
  EXPECT_THROW(pool.add(utf8), std::invalid_argument);
  auto long_id = unreachable();
  long_id.instance_id = std::string(129, 'a');
  EXPECT_THROW(pool.add(long_id), std::invalid_argument);
  EXPECT_TRUE(pool.servers().empty());

  auto first = unreachable();
  first.instance_id = std::string(128, 'a');
  pool.add(first);
  auto other = unreachable();
  other.instance_id = "ivr-1";
  pool.add(other);
  auto again = other;  // the same instance on the same Asterisk would sweep the first one's calls
  EXPECT_THROW(pool.add(again), std::invalid_argument);
  auto random = unreachable();
  pool.add(random);
  const auto servers = pool.servers();
  ASSERT_EQ(servers.size(), 3u);
  // The name-based UUID (v5) of the id: the same in every process, never the random (v4) one.
  EXPECT_EQ(servers[1]->app().size(), std::string("drachtio-").size() + 36);
  EXPECT_EQ(servers[1]->app()[9 + 14], '5') << servers[1]->app();
  EXPECT_EQ(servers[2]->app()[9 + 14], '4') << servers[2]->app();
  mrf::Mrf another(*srf);
  mrf::MediaServerPool other_pool(another);
  other_pool.add(other);
  EXPECT_EQ(other_pool.servers().at(0)->app(), servers[1]->app());
  EXPECT_NE(servers[0]->app(), servers[1]->app());
}

TEST_F(PoolUnit, MembersNotUpYetRefuseSetupsAtOnce) {
  mrf::MediaServerPool pool(*media);
  auto a = pool.add(unreachable());
  auto b = pool.add(unreachable());
  EXPECT_EQ(a->state(), mrf::ServerState::connecting);
  EXPECT_FALSE(a->accepting());
  std::exception_ptr error;
  bool done = false;
  pool.async_create_endpoint({}, [&](std::exception_ptr e, std::shared_ptr<mrf::Endpoint> endpoint) {
    error = e;
    done = true;
    EXPECT_FALSE(endpoint);
  });
  io.run_for(50ms);  // completes through the executor, without waiting for anything
  ASSERT_TRUE(done);
  EXPECT_THROW(std::rethrow_exception(error), mrf::MediaServerUnavailable);
  EXPECT_EQ(pool.stats().setups, 1U);
  EXPECT_EQ(pool.stats().refused, 1U);
  EXPECT_EQ(pool.stats().failovers, 0U);
  // Still trying after several reconnect delays, never given up.
  io.run_for(700ms);
  EXPECT_EQ(b->state(), mrf::ServerState::connecting);
  EXPECT_EQ(media->media_servers().size(), 2U);
}

TEST_F(PoolUnit, RemoveDisconnectsAndReportsTheStateChange) {
  mrf::MediaServerPool pool(*media);
  auto a = pool.add(unreachable());
  std::vector<mrf::ServerState> seen;
  auto subscription = a->on_state([&](mrf::ServerState s) { seen.push_back(s); });
  EXPECT_TRUE(pool.remove(a));
  EXPECT_FALSE(pool.remove(a));
  EXPECT_EQ(a->state(), mrf::ServerState::closed);
  EXPECT_EQ(seen, std::vector<mrf::ServerState>{mrf::ServerState::closed});
  EXPECT_FALSE(subscription.active());  // a closed server drops its handlers
  EXPECT_TRUE(pool.servers().empty());
  EXPECT_TRUE(media->media_servers().empty());
}

TEST_F(PoolUnit, DrainOfAnIdleServerCompletesAtOnce) {
  mrf::MediaServerPool pool(*media);
  auto a = pool.add(unreachable());
  std::optional<std::exception_ptr> first;
  a->async_drain(std::nullopt, [&](std::exception_ptr e) { first = e; });
  io.run_for(20ms);
  ASSERT_TRUE(first);
  EXPECT_FALSE(*first);
  EXPECT_TRUE(a->draining());
  a->undrain();
  EXPECT_FALSE(a->draining());
  EXPECT_EQ(mrf::to_string(mrf::ServerState::down), "down");
  EXPECT_EQ(mrf::to_string(mrf::SelectionPolicy::least_calls), "least_calls");
}

}  // namespace
