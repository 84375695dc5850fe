// The client against a loopback fake Asterisk: REST, pool, errors, timeouts, the events WebSocket,
// liveness, reconnect, re-registration and reconcile.
#include "client_run.hpp"
#include "fake_asterisk.hpp"

#include <astmrf/ari/ari.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <sstream>

namespace ari = astmrf::ari;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

const char* kPassword = "s3cret-pw";

ari::ClientOptions options_for(const fake::Asterisk& server, std::vector<std::string> apps = {}) {
  return fake::client_options(server, kPassword, std::move(apps));
}
using fake::run;
using fake::run_until;

std::shared_ptr<spdlog::logger> capture_logger(std::ostringstream& out) {
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = std::make_shared<spdlog::logger>("ari-test", sink);
  logger->set_level(spdlog::level::trace);
  return logger;
}

}  // namespace

TEST(AriClient, ConnectsAndMakesTypedCalls) {
  fake::Asterisk server("astmrf", kPassword);
  server.route("GET /ari/channels/1795697569.29", 200, fake::fixture("channel-get-answered.json"));
  server.route("POST /ari/channels/1795697569.29/answer", 204, "");
  server.route(
      "POST /ari/channels/1795697569.29/play/pb-1", 201,
      R"({"id":"pb-1","media_uri":"sound:hello-world","target_uri":"channel:1795697569.29","language":"en","state":"queued"})");
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), options_for(server));
  run(ioc, [&]() -> asio::awaitable<void> {
    co_await client.async_connect(asio::use_awaitable);
    // Parameter structs are named variables in coroutines (docs/ari.md, "GCC 12 pitfall").
    const ari::channels::Answer answer{.channel_id = "1795697569.29"};
    co_await client.channels().async_answer(answer, asio::use_awaitable);
    const ari::channels::Get get{.channel_id = "1795697569.29"};
    auto ch = co_await client.channels().async_get(get, asio::use_awaitable);
    EXPECT_EQ(ch.state, std::string("Up"));
    ari::channels::PlayWithId play{
        .channel_id = "1795697569.29", .playback_id = "pb-1", .media = {"sound:hello-world"}};
    auto pb = co_await client.channels().async_play_with_id(play, asio::use_awaitable);
    EXPECT_EQ(pb.state, std::string("queued"));
    EXPECT_EQ(pb.target_uri, std::string("channel:1795697569.29"));
    const ari::asterisk::GetInfo all;
    auto info = co_await client.asterisk().async_get_info(all, asio::use_awaitable);
    EXPECT_TRUE(info.system.has_value());
    if (info.system) {
      EXPECT_FALSE(info.system->version.empty());
    }
  });
  auto reqs = server.requests();
  ASSERT_GE(reqs.size(), 5u);
  EXPECT_EQ(reqs[3].target, std::string("/ari/channels/1795697569.29/play/pb-1?media=sound%3Ahello-world"));
  // Sequential calls reuse one keep-alive connection.
  EXPECT_EQ(server.tcp_accepts(), 1u);
}

TEST(AriClient, RequestsAreHttp11WithHostAuthorizationAndContentLength) {
  fake::Asterisk server("astmrf", kPassword);
  server.route("POST /ari/channels/c1/variable", 204, "");
  server.route("PUT /ari/applications/app1/eventFilter", 200, R"({"name":"app1"})");
  server.route("GET /ari/channels", 200, "[]");
  server.route("DELETE /ari/channels/c1", 204, "");
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), options_for(server));
  run(ioc, [&]() -> asio::awaitable<void> {
    ari::Request post{boost::beast::http::verb::post, "/channels/c1/variable?variable=X&value=1", "", {}};
    co_await client.async_request(post, asio::use_awaitable);
    ari::Request put{boost::beast::http::verb::put, "/applications/app1/eventFilter", R"({"allowed":[]})", {}};
    co_await client.async_request(put, asio::use_awaitable);
    ari::Request get{boost::beast::http::verb::get, "/channels", "", {}};
    co_await client.async_request(get, asio::use_awaitable);
    ari::Request del{boost::beast::http::verb::delete_, "/channels/c1", "", {}};
    co_await client.async_request(del, asio::use_awaitable);
  });
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 4u);
  for (const auto& r : reqs) {
    EXPECT_EQ(r.version, 11u);
    EXPECT_EQ(r.host, "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_EQ(r.authorization.rfind("Basic ", 0), 0u);
  }
  EXPECT_EQ(reqs[0].target, "/ari/channels/c1/variable?variable=X&value=1");
  EXPECT_EQ(reqs[0].content_length, "0");
  EXPECT_EQ(reqs[1].content_type, "application/json");
  EXPECT_EQ(reqs[1].content_length, "14");
  EXPECT_EQ(reqs[1].body, R"({"allowed":[]})");
  EXPECT_EQ(reqs[2].content_length, "");
  EXPECT_EQ(reqs[3].method, "DELETE");
  EXPECT_EQ(server.tcp_accepts(), 1u);
}

TEST(AriClient, ATargetWithSpacesOrLineBreaksIsRefusedBeforeAnyIo) {
  fake::Asterisk server("astmrf", kPassword);
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), options_for(server));
  for (const char* target : {"/channels HTTP/1.1\r\nX-Injected: 1", "/chan nels", "/a\tb"}) {
    ari::Request bad{boost::beast::http::verb::get, target, "", {}};
    auto fut = client.async_request(bad, asio::use_future);
    ASSERT_TRUE(run_until(ioc, [&] { return fut.wait_for(0s) == std::future_status::ready; }));
    EXPECT_THROW(fut.get(), std::invalid_argument) << target;
  }
  EXPECT_TRUE(server.requests().empty());
  EXPECT_EQ(server.tcp_accepts(), 0u);
}

TEST(AriClient, CallbacksAndFuturesWorkToo) {
  fake::Asterisk server("astmrf", kPassword);
  server.route("GET /ari/channels", 200, "[]");
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), options_for(server));
  std::optional<std::size_t> n;
  client.channels().async_list([&](std::exception_ptr e, std::vector<ari::Channel> v) {
    EXPECT_FALSE(e);
    n = v.size();
  });
  auto fut = client.channels().async_get({.channel_id = "nope"}, asio::use_future);
  ASSERT_TRUE(run_until(ioc, [&] { return n.has_value() && fut.wait_for(0s) == std::future_status::ready; }));
  EXPECT_EQ(*n, 0u);
  EXPECT_THROW(fut.get(), ari::NotFound);
}

TEST(AriClient, WrongPasswordFailsFastWithAuthenticationError) {
  fake::Asterisk server("astmrf", "the-right-one");
  asio::io_context ioc;
  std::ostringstream log;
  auto opts = options_for(server, {"app1"});
  opts.logger = capture_logger(log);
  ari::Client client(ioc.get_executor(), opts);
  const auto start = std::chrono::steady_clock::now();
  try {
    run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); });
    FAIL() << "connected with a wrong password";
  } catch (const ari::AuthenticationError& e) {
    EXPECT_EQ(e.status(), 401u);
    EXPECT_EQ(e.message(), std::string("Authentication required"));
    EXPECT_EQ(std::string(e.what()).find(kPassword), std::string::npos);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(server.ws_targets().empty());  // no WebSocket attempt after a 401
  EXPECT_EQ(log.str().find(kPassword), std::string::npos);
}

TEST(AriClient, ErrorsCarryStatusAndAsterisksMessage) {
  fake::Asterisk server("astmrf", kPassword);
  server.route("DELETE /ari/channels/gone", 404, R"({"message":"Channel not found"})");
  server.route("POST /ari/bridges/b1/addChannel", 422, R"({"message":"Channel not in Stasis application"})");
  server.route("POST /ari/channels/c/record", 409, R"({"message":"Recording with the same name already exists"})");
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), options_for(server));
  run(ioc, [&]() -> asio::awaitable<void> {
    try {
      const ari::channels::Hangup hangup{.channel_id = "gone"};
      co_await client.channels().async_hangup(hangup, asio::use_awaitable);
      ADD_FAILURE();
    } catch (const ari::NotFound& e) {
      EXPECT_EQ(e.message(), std::string("Channel not found"));
      EXPECT_EQ(e.method(), std::string("DELETE"));
      EXPECT_EQ(e.path(), std::string("/channels/gone"));
    }
    try {
      ari::bridges::AddChannel add{.bridge_id = "b1", .channel = {"c"}};
      co_await client.bridges().async_add_channel(add, asio::use_awaitable);
      ADD_FAILURE();
    } catch (const ari::UnprocessableEntity& e) {
      EXPECT_EQ(e.status(), 422u);
    }
    try {
      const ari::channels::Record record{.channel_id = "c", .name = "r", .format = "wav"};
      co_await client.channels().async_record(record, asio::use_awaitable);
      ADD_FAILURE();
    } catch (const ari::Conflict& e) {
      EXPECT_EQ(e.status(), 409u);
    }
    // The generic call maps errors the same way.
    try {
      co_await client.async_request(ari::RequestBuilder(boost::beast::http::verb::get).literal("/nosuch").finish(),
                                    asio::use_awaitable);
      ADD_FAILURE();
    } catch (const ari::NotFound& e) {
      EXPECT_EQ(e.message(), std::string("Resource not found"));
    }
  });
}

TEST(AriClient, PerRequestTimeout) {
  fake::Asterisk server("astmrf", kPassword);
  server.route("GET /ari/channels", [](const fake::HttpRequest&) { return fake::HttpReply{200, "[]", 1500ms}; });
  asio::io_context ioc;
  auto opts = options_for(server);
  opts.request_timeout = 200ms;
  ari::Client client(ioc.get_executor(), opts);
  const auto start = std::chrono::steady_clock::now();
  run(ioc, [&]() -> asio::awaitable<void> {
    try {
      co_await client.channels().async_list(asio::use_awaitable);
      ADD_FAILURE();
    } catch (const ari::TransportError& e) {
      EXPECT_EQ(e.code(), ari::errc::timed_out);
    }
  });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1200ms);
}

// The URL names the server: it is resolved (here from /etc/hosts) for the REST pool and for every
// events WebSocket, reconnects included; the Host header keeps the name.
TEST(AriClient, HostNameInTheUrlIsResolvedAtEveryConnect) {
  fake::Asterisk server("astmrf", kPassword);
  server.route("GET /ari/channels", 200, "[]");
  server.route("GET /ari/applications/app1", 200, R"({"name":"app1","channel_ids":[]})");
  asio::io_context ioc;
  auto opts = options_for(server, {"app1"});
  opts.url = "http://localhost:" + std::to_string(server.port());
  opts.resolver.servers = {"127.0.0.1:9"};  // never needed (/etc/hosts); loopback if it were
  ari::Client client(ioc.get_executor(), opts);
  run(ioc, [&]() -> asio::awaitable<void> {
    co_await client.async_connect(asio::use_awaitable);
    auto channels = co_await client.channels().async_list(asio::use_awaitable);
    EXPECT_TRUE(channels.empty());
  });
  EXPECT_EQ(client.state(), ari::ConnectionState::connected);
  auto reqs = server.requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs.back().host, "localhost:" + std::to_string(server.port()));
  ASSERT_TRUE(server.wait_websockets(1, 2s));
  server.drop_websockets();
  ASSERT_TRUE(run_until(
      ioc, [&] { return client.stats().connects >= 2; }, 5s));
  EXPECT_EQ(server.ws_targets().size(), 2u);
}

TEST(AriClient, AnUnresolvableHostIsATransportError) {
  asio::io_context ioc;
  // A DNS server that never answers: the lookup times out after timeout × tries.
  asio::ip::udp::socket silent(ioc, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ari::ClientOptions opts;
  opts.url = "http://ms1.astmrf.test.:8088";
  opts.user = "astmrf";
  opts.password = kPassword;
  opts.apps = {"app1"};
  opts.resolver.servers = {"127.0.0.1:" + std::to_string(silent.local_endpoint().port())};
  opts.resolver.timeout = 100ms;
  opts.resolver.tries = 1;
  ari::Client client(ioc.get_executor(), opts);
  const auto start = std::chrono::steady_clock::now();
  run(ioc, [&]() -> asio::awaitable<void> {
    try {
      co_await client.channels().async_list(asio::use_awaitable);
      ADD_FAILURE() << "resolved";
    } catch (const ari::TransportError& e) {
      EXPECT_EQ(e.code(), asio::error::host_not_found);
      EXPECT_NE(std::string(e.what()).find("cannot resolve ms1.astmrf.test.: Timeout while contacting DNS servers"),
                std::string::npos)
          << e.what();
    }
    try {
      co_await client.async_connect(asio::use_awaitable);
      ADD_FAILURE() << "connected";
    } catch (const ari::TransportError& e) {
      EXPECT_EQ(e.code(), asio::error::host_not_found);
      EXPECT_NE(std::string(e.what()).find("cannot resolve ms1.astmrf.test."), std::string::npos) << e.what();
    }
  });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(AriClient, ConcurrentCallsUseConcurrentConnections) {
  fake::Asterisk server("astmrf", kPassword);
  server.route("GET /ari/asterisk/ping", [](const fake::HttpRequest&) {
    return fake::HttpReply{200, R"({"ping":"pong"})", 200ms};
  });
  asio::io_context ioc;
  auto opts = options_for(server);
  opts.pool_size = 8;
  ari::Client client(ioc.get_executor(), opts);
  int done = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 16; ++i) {
    client.asterisk().async_ping([&](std::exception_ptr e, ari::AsteriskPing p) {
      EXPECT_FALSE(e);
      EXPECT_EQ(p.ping, std::string("pong"));
      ++done;
    });
  }
  ASSERT_TRUE(run_until(ioc, [&] { return done == 16; }));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(server.max_in_flight(), 8u);
  EXPECT_EQ(server.tcp_accepts(), 8u);
  EXPECT_LT(elapsed, 1200ms);  // two waves of 200 ms, not 16 x 200 ms
}

TEST(AriClient, ServerClosingKeepAliveIsRetriedOnAFreshConnection) {
  fake::Asterisk server("astmrf", kPassword);
  server.route("GET /ari/channels", [](const fake::HttpRequest&) { return fake::HttpReply{200, "[]", 0ms, true}; });
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), options_for(server));
  run(ioc, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) co_await client.channels().async_list(asio::use_awaitable);
  });
  EXPECT_EQ(server.tcp_accepts(), 3u);
}

TEST(AriEvents, WebSocketUsesBasicAuthAndDispatches) {
  fake::Asterisk server("astmrf", kPassword);
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), options_for(server, {"app-a", "app b"}));
  std::vector<ari::ConnectionState> states;
  auto st = client.on_state([&](ari::ConnectionState s, boost::system::error_code) { states.push_back(s); });
  run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); });
  EXPECT_EQ(client.state(), ari::ConnectionState::connected);
  ASSERT_EQ(server.ws_targets().size(), 1u);
  EXPECT_EQ(server.ws_targets()[0], std::string("/ari/events?app=app-a,app%20b"));  // no api_key, no subscribeAll
  EXPECT_EQ(server.ws_authorizations()[0].rfind("Basic ", 0), 0u);

  auto events = fake::fixture_events("scenario-caller-hangup.events.jsonl");
  std::size_t got = 0;
  auto sub = client.on_event([&](const ari::Event&) { ++got; });
  ASSERT_TRUE(server.wait_websockets(1, 2s));
  for (const auto& e : events) server.push(e);
  server.push("this is not json");
  ASSERT_TRUE(run_until(ioc, [&] { return got == events.size() && client.stats().malformed_events == 1; }));
  EXPECT_EQ(client.state(), ari::ConnectionState::connected);  // bad input does not kill the socket
  ASSERT_GE(states.size(), 2u);
  EXPECT_EQ(states[0], ari::ConnectionState::connecting);
  EXPECT_EQ(states[1], ari::ConnectionState::connected);
}

TEST(AriEvents, WaitRegisteredBeforeTheCallSeesAnEventThatPrecedesTheResponse) {
  fake::Asterisk server("astmrf", kPassword);
  fake::Asterisk* srv = &server;
  server.route("POST /ari/channels/c1/play/pb-9", [srv](const fake::HttpRequest&) {
    // Like Asterisk: PlaybackStarted goes out before the 201.
    srv->push(
        R"({"type":"PlaybackStarted","application":"a","timestamp":"t","playback":{"id":"pb-9","state":"playing"}})");
    std::this_thread::sleep_for(50ms);
    return fake::HttpReply{201, R"({"id":"pb-9","state":"queued"})"};
  });
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), options_for(server, {"a"}));
  run(ioc, [&]() -> asio::awaitable<void> {
    co_await client.async_connect(asio::use_awaitable);
    EXPECT_TRUE(server.wait_websockets(1, 2s));  // the fake registers its socket after the 101
    auto started = client.expect(ari::ResourceKind::playback, "pb-9", {ari::EventType::playback_started});
    ari::channels::PlayWithId play{.channel_id = "c1", .playback_id = "pb-9", .media = {"sound:x"}};
    co_await client.channels().async_play_with_id(play, asio::use_awaitable);
    auto ev = co_await started.async_wait(2s, asio::use_awaitable);
    EXPECT_EQ(ev.as<ari::PlaybackStarted>().playback.state, std::string("playing"));
  });
}

TEST(AriEvents, ReconnectsForeverReRegistersAndReconciles) {
  fake::Asterisk server("astmrf", kPassword);
  server.route("POST /ari/applications/app1/subscription", 200, R"({"name":"app1"})");
  server.route("PUT /ari/applications/app1/eventFilter", 200, R"({"name":"app1"})");
  // After the gap only "alive" is still in the app; "lost" vanished.
  server.route("GET /ari/applications/app1", 200,
               R"({"name":"app1","channel_ids":["alive"],"bridge_ids":[],"endpoint_ids":[],"device_names":[]})");
  server.route("GET /ari/bridges", 200, "[]");
  asio::io_context ioc;
  auto opts = options_for(server, {"app1"});
  opts.event_filter.disallowed = {"ChannelVarset"};
  ari::Client client(ioc.get_executor(), opts);
  std::vector<ari::ConnectionState> states;
  auto st = client.on_state([&](ari::ConnectionState s, boost::system::error_code) { states.push_back(s); });
  std::optional<ari::ReconcileReport> report;
  auto rc = client.on_reconcile([&](const ari::ReconcileReport& r) { report = r; });
  std::optional<ari::EndReason> lost_end;
  auto alive = client.subscribe(ari::ResourceKind::channel, "alive", {});
  auto lost = client.subscribe(ari::ResourceKind::channel, "lost", {}, [&](ari::EndReason r) { lost_end = r; });
  auto bridge = client.subscribe(ari::ResourceKind::bridge, "br-1", {});
  run(ioc, [&]() -> asio::awaitable<void> {
    co_await client.async_connect(asio::use_awaitable);
    co_await client.async_subscribe_source("app1", "endpoint:PJSIP/drachtio", asio::use_awaitable);
  });
  ASSERT_TRUE(server.wait_websockets(1, 2s));

  // Asterisk goes away for a while: refused upgrades are retried with backoff, without end.
  server.refuse_websockets(true);
  server.drop_websockets();
  ASSERT_TRUE(run_until(ioc, [&] { return server.ws_targets().size() >= 4; }));
  EXPECT_NE(client.state(), ari::ConnectionState::connected);
  server.refuse_websockets(false);
  ASSERT_TRUE(run_until(ioc, [&] { return report.has_value(); }));
  EXPECT_EQ(client.state(), ari::ConnectionState::connected);
  EXPECT_EQ(report->lost_channels, std::vector<std::string>{"lost"});
  EXPECT_EQ(report->lost_bridges, std::vector<std::string>{"br-1"});
  EXPECT_EQ(lost_end, ari::EndReason::vanished);
  EXPECT_TRUE(alive.active());
  EXPECT_FALSE(lost.active());
  EXPECT_EQ(client.stats().connects, 2u);
  // Filter and subscription were applied again on the new connection.
  int filters = 0;
  int subscriptions = 0;
  for (const auto& r : server.requests()) {
    if (r.target.find("/eventFilter") != std::string::npos) {
      ++filters;
      EXPECT_EQ(boost::json::parse(r.body), boost::json::parse(R"({"disallowed":[{"type":"ChannelVarset"}]})"));
    }
    if (r.target == "/ari/applications/app1/subscription?eventSource=endpoint%3APJSIP%2Fdrachtio") ++subscriptions;
  }
  EXPECT_EQ(filters, 2);
  EXPECT_EQ(subscriptions, 2);
  // Events flow again.
  bool got = false;
  auto sub = client.on_event([&](const ari::Event&) { got = true; });
  server.push(R"({"type":"ChannelVarset","application":"app1","timestamp":"t","variable":"x","value":"y"})");
  ASSERT_TRUE(run_until(ioc, [&] { return got; }));
  const auto connected = std::count(states.begin(), states.end(), ari::ConnectionState::connected);
  EXPECT_EQ(connected, 2);
}

TEST(AriEvents, ReconnectBackoffGrowsExponentiallyUpToItsCapWithJitter) {
  fake::Asterisk server("astmrf", kPassword);
  asio::io_context ioc;
  auto opts = options_for(server, {"app1"});
  opts.reconnect.initial = 40ms;
  opts.reconnect.max = 200ms;
  opts.reconnect.multiplier = 2.0;
  opts.reconnect.jitter = 0.2;
  ari::Client client(ioc.get_executor(), opts);
  run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); });
  ASSERT_TRUE(server.wait_websockets(1, 2s));
  server.refuse_websockets(true);
  server.drop_websockets();
  // 40, 80, 160, then 200 (capped) for ever: 9 refused attempts take about 1.5 s.
  ASSERT_TRUE(run_until(
      ioc, [&] { return server.ws_attempt_times().size() >= 10; }, 5s));
  const auto times = server.ws_attempt_times();
  std::vector<double> gaps;
  for (std::size_t i = 2; i < times.size(); ++i) {
    gaps.push_back(std::chrono::duration<double, std::milli>(times[i] - times[i - 1]).count());
  }
  // gaps[0] follows the 2nd failure (80 ms nominal); each gap = delay * [0.8, 1.2] + connect time.
  const double nominal[] = {80, 160, 200, 200, 200, 200, 200, 200};
  bool all_equal = true;
  for (std::size_t i = 0; i < gaps.size() && i < 8; ++i) {
    EXPECT_GE(gaps[i], nominal[i] * 0.8 - 5) << "gap " << i;
    EXPECT_LE(gaps[i], nominal[i] * 1.2 + 60) << "gap " << i;  // scheduling slack on a busy machine
    if (i > 2 && std::abs(gaps[i] - gaps[2]) > 1.0) all_equal = false;
  }
  EXPECT_FALSE(all_equal) << "no jitter";
  EXPECT_NE(client.state(), ari::ConnectionState::connected);
  server.refuse_websockets(false);
  ASSERT_TRUE(run_until(
      ioc, [&] { return client.state() == ari::ConnectionState::connected; }, 2s));
}

TEST(AriEvents, SilentPeerIsDetectedByPingDeadline) {
  // The fake never answers pings: with a short idle timeout the client must give up the socket
  // and reconnect on its own.
  fake::Asterisk server("astmrf", kPassword);
  server.route("GET /ari/applications/app1", 200, R"({"name":"app1","channel_ids":[]})");
  asio::io_context ioc;
  auto opts = options_for(server, {"app1"});
  opts.ws_idle_timeout = 300ms;
  ari::Client client(ioc.get_executor(), opts);
  run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); });
  ASSERT_TRUE(run_until(
      ioc, [&] { return client.stats().connects >= 2; }, 5s));
}

TEST(AriClient, RejectsBadUrlsWithoutEchoingCredentials) {
  asio::io_context ioc;
  ari::ClientOptions o;
  o.url = "http://user:hunter2@127.0.0.1:8088";
  try {
    ari::Client c(ioc.get_executor(), o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
  }
  o.url = "ftp://127.0.0.1";
  EXPECT_THROW(ari::Client(ioc.get_executor(), o), std::invalid_argument);
  o.url = "http://127.0.0.1:99999";
  EXPECT_THROW(ari::Client(ioc.get_executor(), o), std::invalid_argument);
  o.url = "http://127.0.0.1:8088";
  o.resolver.servers = {"dns.example"};  // a server must be an IP address
  EXPECT_THROW(ari::Client(ioc.get_executor(), o), std::invalid_argument);
}
