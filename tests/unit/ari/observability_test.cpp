// Metrics and log lines of the ARI client against the loopback fake Asterisk: REST requests by
// family and status with their latency histogram, events by type from a replayed timeline, the
// WebSocket gauge and reconnects across a cut; and, at trace level, no line that carries the
// password or the Basic credentials.
#include "client_run.hpp"
#include "fake_asterisk.hpp"

#include <astmrf/ari/ari.hpp>
#include <astmrf/util/base64.hpp>
#include <astmrf/util/log.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <sstream>

namespace ari = astmrf::ari;
namespace asio = boost::asio;
namespace metrics = astmrf::util::metrics;
using verb = boost::beast::http::verb;
using namespace std::chrono_literals;

namespace {

using fake::run;
using fake::run_until;

// The samples of an exposition text: "name{labels}" → value (parsed, not compared as text).
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

double sample(const metrics::Registry& r, const std::string& series) {
  auto all = samples(r.expose());
  auto it = all.find(series);
  return it == all.end() ? -1 : it->second;
}

std::string requests(const std::string& server, const std::string& family, const std::string& status) {
  return "astmrf_ari_requests_total{server=\"" + server + "\",family=\"" + family + "\",status=\"" + status + "\"}";
}

std::shared_ptr<spdlog::logger> capture_logger(std::ostringstream& out) {
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = std::make_shared<spdlog::logger>("ari-obs", sink);
  logger->set_pattern("%l %v");
  logger->set_level(spdlog::level::trace);
  return logger;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace

TEST(AriMetrics, RequestsAreCountedByFamilyAndStatusWithOneLatencyObservationEach) {
  fake::Asterisk server("astmrf", "pw");
  server.route("GET /ari/channels", 200, "[]");
  server.route("DELETE /ari/channels/gone", 404, R"({"message":"Channel not found"})");
  server.route("GET /ari/bridges", 200, "[]");
  server.route("GET /ari/deviceStates", 200, "[]");
  server.route("GET /ari/playbacks/slow", [](const fake::HttpRequest&) { return fake::HttpReply{200, "{}", 1500ms}; });
  auto registry = std::make_shared<metrics::Registry>();
  auto opts = fake::client_options(server, "pw");
  opts.metrics = registry;
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), opts);
  const std::string name = "127.0.0.1:" + std::to_string(server.port());  // the default server label
  int calls = 0;
  run(ioc, [&]() -> asio::awaitable<void> {
    co_await client.async_connect(asio::use_awaitable);  // GET /asterisk/info
    ++calls;
    for (int i = 0; i < 3; ++i) {
      co_await client.channels().async_list(asio::use_awaitable);
      ++calls;
    }
    try {
      const ari::channels::Hangup hangup{.channel_id = "gone"};
      co_await client.channels().async_hangup(hangup, asio::use_awaitable);
      ADD_FAILURE();
    } catch (const ari::NotFound&) {
      ++calls;
    }
    co_await client.bridges().async_list(asio::use_awaitable);
    ++calls;
    co_await client.device_states().async_list(asio::use_awaitable);
    ++calls;
    try {  // not an ARI resource family: "other" (the fake answers 404)
      co_await client.async_request(ari::RequestBuilder(verb::get).literal("/nosuch/x").finish(), asio::use_awaitable);
      ADD_FAILURE();
    } catch (const ari::NotFound&) {
      ++calls;
    }
    try {
      co_await client.async_request(ari::RequestBuilder(verb::get).literal("/playbacks/slow").timeout(200ms).finish(),
                                    asio::use_awaitable);
      ADD_FAILURE();
    } catch (const ari::TransportError& e) {
      EXPECT_EQ(e.code(), ari::errc::timed_out);
      ++calls;
    }
  });
  const auto s = samples(registry->expose());
  auto at = [&](const std::string& k) {
    auto it = s.find(k);
    return it == s.end() ? -1.0 : it->second;
  };
  EXPECT_EQ(at(requests(name, "asterisk", "200")), 1);
  EXPECT_EQ(at(requests(name, "channels", "200")), 3);
  EXPECT_EQ(at(requests(name, "channels", "404")), 1);
  EXPECT_EQ(at(requests(name, "bridges", "200")), 1);
  EXPECT_EQ(at(requests(name, "deviceStates", "200")), 1);
  EXPECT_EQ(at(requests(name, "other", "404")), 1);
  EXPECT_EQ(at(requests(name, "playbacks", "timeout")), 1);
  // One observation per request, in its family's histogram; the timed-out one took ≥ 200 ms.
  double total = 0;
  double count = 0;
  for (const auto& [k, v] : s) {
    if (k.rfind("astmrf_ari_requests_total{", 0) == 0) total += v;
    if (k.rfind("astmrf_ari_request_duration_seconds_count{", 0) == 0) count += v;
  }
  EXPECT_EQ(total, calls);
  EXPECT_EQ(count, calls);
  EXPECT_EQ(at("astmrf_ari_request_duration_seconds_count{server=\"" + name + "\",family=\"channels\"}"), 4);
  EXPECT_GE(at("astmrf_ari_request_duration_seconds_sum{server=\"" + name + "\",family=\"playbacks\"}"), 0.2);
  EXPECT_EQ(at("astmrf_ari_request_duration_seconds_bucket{server=\"" + name + "\",family=\"playbacks\",le=\"0.1\"}"),
            0);
  EXPECT_EQ(at("astmrf_ari_websocket_up{server=\"" + name + "\"}"), 0);  // REST only: no WebSocket
}

TEST(AriMetrics, ATransportFailureIsStatusErrorAndTheServerLabelIsConfigurable) {
  // A port nobody listens on: the connect is refused.
  asio::io_context ioc;
  auto registry = std::make_shared<metrics::Registry>();
  ari::ClientOptions opts;
  opts.url = "http://127.0.0.1:9";
  opts.user = "astmrf";
  opts.password = "pw";
  opts.metrics = registry;
  opts.metrics_name = "ms-1";
  ari::Client client(ioc.get_executor(), opts);
  run(ioc, [&]() -> asio::awaitable<void> {
    try {
      const ari::sounds::List all;
      co_await client.sounds().async_list(all, asio::use_awaitable);
      ADD_FAILURE();
    } catch (const ari::TransportError&) {
    }
  });
  EXPECT_EQ(sample(*registry, requests("ms-1", "sounds", "error")), 1);
  EXPECT_EQ(sample(*registry, "astmrf_ari_request_duration_seconds_count{server=\"ms-1\",family=\"sounds\"}"), 1);
}

TEST(AriMetrics, EventsOfAReplayedTimelineAreCountedByType) {
  fake::Asterisk server("astmrf", "pw");
  auto registry = std::make_shared<metrics::Registry>();
  auto opts = fake::client_options(server, "pw", {"app1"});
  opts.metrics = registry;
  opts.metrics_name = "ms-1";
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), opts);
  run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); });
  ASSERT_TRUE(server.wait_websockets(1, 2s));
  auto events = fake::fixture_events("scenario-caller-hangup.events.jsonl");
  ASSERT_FALSE(events.empty());
  std::map<std::string, int> expected;
  for (const auto& e : events) {
    ++expected[std::string(boost::json::parse(e).as_object().at("type").as_string())];
    server.push(e);
  }
  server.push(R"({"type":"SomethingNew","application":"app1","timestamp":"t"})");
  server.push(R"({"type":"SomethingElse","application":"app1","timestamp":"t"})");
  server.push("this is not json");
  server.push(R"({"no":"type"})");
  ASSERT_TRUE(run_until(ioc, [&] { return client.stats().events == events.size() + 2; }));
  ASSERT_TRUE(run_until(ioc, [&] { return client.stats().malformed_events == 2; }));
  const auto s = samples(registry->expose());
  int counted = 0;
  for (const auto& [k, v] : s) {
    if (k.rfind("astmrf_ari_events_total{", 0) == 0) counted += static_cast<int>(v);
  }
  EXPECT_EQ(counted, static_cast<int>(events.size()) + 2);
  for (const auto& [type, n] : expected) {
    EXPECT_EQ(s.at("astmrf_ari_events_total{server=\"ms-1\",type=\"" + type + "\"}"), n) << type;
  }
  EXPECT_EQ(s.at("astmrf_ari_events_total{server=\"ms-1\",type=\"unknown\"}"), 2);  // not one series per name
  EXPECT_EQ(s.at("astmrf_ari_event_decode_errors_total{server=\"ms-1\"}"), 2);
  EXPECT_FALSE(s.contains("astmrf_ari_events_total{server=\"ms-1\",type=\"SomethingNew\"}"));
}

TEST(AriMetrics, WebSocketUpFollowsACutAndReconnectsAreCounted) {
  fake::Asterisk server("astmrf", "pw");
  server.route("GET /ari/applications/app1", 200, R"({"name":"app1","channel_ids":[]})");
  auto registry = std::make_shared<metrics::Registry>();
  auto opts = fake::client_options(server, "pw", {"app1"});
  opts.metrics = registry;
  opts.metrics_name = "ms-1";
  asio::io_context ioc;
  std::optional<ari::Client> client(std::in_place, ioc.get_executor(), opts);
  const std::string up = "astmrf_ari_websocket_up{server=\"ms-1\"}";
  const std::string reconnects = "astmrf_ari_reconnects_total{server=\"ms-1\"}";
  EXPECT_EQ(sample(*registry, up), 0);
  run(ioc, [&]() -> asio::awaitable<void> { co_await client->async_connect(asio::use_awaitable); });
  ASSERT_TRUE(server.wait_websockets(1, 2s));
  EXPECT_EQ(sample(*registry, up), 1);
  EXPECT_EQ(sample(*registry, reconnects), 0);
  for (int cut = 1; cut <= 2; ++cut) {
    server.refuse_websockets(true);
    server.drop_websockets();
    ASSERT_TRUE(run_until(ioc, [&] { return client->state() != ari::ConnectionState::connected; }));
    EXPECT_EQ(sample(*registry, up), 0);
    const auto attempts = server.ws_attempt_times().size();
    ASSERT_TRUE(run_until(ioc, [&] { return server.ws_attempt_times().size() >= attempts + 2; }));
    EXPECT_EQ(sample(*registry, up), 0);  // refused attempts are not reconnects
    EXPECT_EQ(sample(*registry, reconnects), cut - 1);
    server.refuse_websockets(false);
    ASSERT_TRUE(run_until(ioc, [&] { return client->state() == ari::ConnectionState::connected; }));
    EXPECT_EQ(sample(*registry, up), 1);
    EXPECT_EQ(sample(*registry, reconnects), cut);
  }
  EXPECT_EQ(client->stats().connects, 3u);
  // The client's series leave the exposition with it.
  client.reset();
  ioc.run_for(50ms);
  EXPECT_EQ(registry->expose().find("server=\"ms-1\""), std::string::npos) << registry->expose();
}

TEST(AriMetrics, WithoutARegistryNothingIsRegistered) {
  fake::Asterisk server("astmrf", "pw");
  server.route("GET /ari/channels", 200, "[]");
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), fake::client_options(server, "pw"));
  run(ioc, [&]() -> asio::awaitable<void> { co_await client.channels().async_list(asio::use_awaitable); });
  SUCCEED();  // metrics off: nothing to look at, and nothing crashed on the null registry
}

// Every line the client writes, at trace, through a connect, REST calls (a 404, a timeout), events,
// a malformed message, a cut and a reconnect, and a second client refused for a wrong password:
// key=value lines that never carry the password nor the Basic credentials.
TEST(AriLogging, TraceLinesAreKeyValueAndNeverCarryThePasswordOrTheAuthorizationHeader) {
  const std::string password = "PASSWORD123";
  const std::string wrong = "WRONGPASS456";
  fake::Asterisk server("astmrf", password);
  server.route("GET /ari/channels", 200, "[]");
  server.route("DELETE /ari/channels/gone", 404, R"({"message":"Channel not found"})");
  server.route("GET /ari/applications/app1", 200, R"({"name":"app1","channel_ids":[]})");
  server.route("GET /ari/bridges/slow", [](const fake::HttpRequest&) { return fake::HttpReply{200, "{}", 1000ms}; });
  std::ostringstream out;
  auto logger = capture_logger(out);
  asio::io_context ioc;
  auto opts = fake::client_options(server, password, {"app1"});
  opts.logger = logger;
  opts.metrics = std::make_shared<metrics::Registry>();
  ari::Client client(ioc.get_executor(), opts);
  run(ioc, [&]() -> asio::awaitable<void> {
    co_await client.async_connect(asio::use_awaitable);
    co_await client.channels().async_list(asio::use_awaitable);
    try {
      const ari::channels::Hangup hangup{.channel_id = "gone"};
      co_await client.channels().async_hangup(hangup, asio::use_awaitable);
    } catch (const ari::NotFound&) {
    }
    try {
      co_await client.async_request(ari::RequestBuilder(verb::get).literal("/bridges/slow").timeout(100ms).finish(),
                                    asio::use_awaitable);
    } catch (const ari::TransportError&) {
    }
  });
  ASSERT_TRUE(server.wait_websockets(1, 2s));
  for (const auto& e : fake::fixture_events("scenario-caller-hangup.events.jsonl")) server.push(e);
  server.push("not json");
  ASSERT_TRUE(run_until(ioc, [&] { return client.stats().malformed_events == 1; }));
  server.drop_websockets();
  ASSERT_TRUE(run_until(ioc, [&] { return client.stats().connects == 2; }));
  ASSERT_TRUE(run_until(ioc, [&] { return out.str().find("event=ari_reconciled") != std::string::npos; }));
  {
    auto bad = fake::client_options(server, wrong, {"app1"});
    bad.logger = logger;
    ari::Client refused(ioc.get_executor(), bad);
    try {
      run(ioc, [&]() -> asio::awaitable<void> { co_await refused.async_connect(asio::use_awaitable); });
      ADD_FAILURE() << "connected with a wrong password";
    } catch (const ari::AuthenticationError&) {
    }
  }
  logger->flush();
  const auto text = out.str();
  const auto basic = astmrf::util::base64_encode("astmrf:" + password);
  const auto basic_wrong = astmrf::util::base64_encode("astmrf:" + wrong);
  std::map<std::string, int> seen;
  for (const auto& line : lines_of(text)) {
    EXPECT_EQ(line.find(password), std::string::npos) << line;
    EXPECT_EQ(line.find(wrong), std::string::npos) << line;
    EXPECT_EQ(line.find(basic), std::string::npos) << line;
    EXPECT_EQ(line.find(basic_wrong), std::string::npos) << line;
    EXPECT_EQ(line.find("Basic "), std::string::npos) << line;
    EXPECT_EQ(line.find("Authorization"), std::string::npos) << line;
    // "<level> event=<name> ...": the message parses back into fields, event first.
    const auto sp = line.find(' ');
    ASSERT_NE(sp, std::string::npos) << line;
    auto fields = astmrf::util::parse_fields(std::string_view(line).substr(sp + 1));
    ASSERT_FALSE(fields.empty()) << line;
    EXPECT_EQ(fields[0].first, "event") << line;
    ++seen[fields[0].second];
    bool has_server = false;
    for (const auto& [k, v] : fields) {
      if (k == "server") has_server = true;
      EXPECT_NE(k, "msg") << "a word without key in: " << line;
    }
    EXPECT_TRUE(has_server) << line;
  }
  for (const char* ev : {"ari_connected", "ari_ws_connected", "ari_request", "ari_event", "ari_event_malformed",
                         "ari_ws_lost", "ari_ws_reconnected", "ari_reconciled"}) {
    EXPECT_GT(seen[ev], 0) << ev << "\n" << text;
  }
  // A REST trace line: method, path, status and duration; an event's: its type and ids.
  EXPECT_NE(text.find("trace event=ari_request server=127.0.0.1:" + std::to_string(server.port()) +
                      " method=DELETE path=/channels/gone status=404 duration_ms="),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("status=timeout"), std::string::npos) << text;
  EXPECT_NE(text.find("status=401"), std::string::npos) << text;
  EXPECT_NE(
      text.find("event=ari_event server=127.0.0.1:" + std::to_string(server.port()) + " type=StasisStart channel_id="),
      std::string::npos)
      << text;
  // Above trace no event body is written.
  for (const auto& line : lines_of(text)) {
    if (line.rfind("trace ", 0) != 0) {
      EXPECT_EQ(line.find("body="), std::string::npos) << line;
    }
  }
}

TEST(AriLogging, RequestTraceLinesHideCredentialLikeQueryParameters) {
  fake::Asterisk server("astmrf", "pw");
  server.route("GET /ari/channels", 200, "[]");
  std::ostringstream out;
  auto opts = fake::client_options(server, "pw");
  opts.logger = capture_logger(out);
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), opts);
  run(ioc, [&]() -> asio::awaitable<void> {
    co_await client.async_request(ari::RequestBuilder(verb::get)
                                      .literal("/channels")
                                      .query("api_key", "astmrf:PASSWORD123")
                                      .query("x", "1")
                                      .finish(),
                                  asio::use_awaitable);
  });
  const auto text = out.str();
  EXPECT_EQ(text.find("PASSWORD123"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(path="/channels?api_key=<redacted>&x=1")"), std::string::npos) << text;
}
