// The connection to drachtio-server: ping keep-alive and its deadline, reconnection
// (re-authenticated, re-routed, and on TLS when TLS was asked for), a refused
// secret (final, no retry), malformed frames, outbound mode and several servers.
#include "astmrf_test/observe.hpp"
#include "harness.hpp"

#include <astmrf/util/log.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/ssl.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>

namespace astmrf_test::drachtio {
namespace {

asio::awaitable<void> play(ScriptedServer& server, const std::vector<CapturedFrame>& transcript, int from = 1,
                           int to = 0) {
  co_await server.accept();
  co_await server.replay(transcript, from, to);
}

std::string body_of(const std::vector<CapturedFrame>& transcript, int index) {
  const std::string sip = sip_of(transcript.at(static_cast<std::size_t>(index - 1)));
  return sip.substr(sip.find("\r\n\r\n") + 4);
}

class DrachtioConnection : public DrachtioScenario {
 protected:
  asio::awaitable<void> answer(srf::Request req, srf::Response res, srf::UasOptions options) {
    auto dialog = co_await app->async_create_uas(req, res, options, asio::use_awaitable);
    dialogs.push_back(dialog);
    auto info = co_await dialog->async_wait_destroyed(asio::use_awaitable);
    notes.push_back("ended by " + std::string(srf::to_string(info.who)));
  }
  void answer_every_invite(const std::string& sdp, srf::HeaderList headers = {{"X-App", "ref-uas"}}) {
    app->invite([this, sdp, headers](srf::Request req, srf::Response res) {
      spawn_app(answer(req, res, srf::UasOptions{sdp, headers}));
    });
  }
  static dr::Options fast_reconnect() {
    dr::Options options;
    options.ping_interval = 0ms;
    options.backoff.initial = 5ms;
    options.backoff.max = 20ms;
    return options;
  }
  /// Runs what is left; true when nothing is pending any more (no retry timer).
  bool settles() {
    ioc.restart();
    ioc.run_for(5s);
    return ioc.stopped();
  }
};

TEST_F(DrachtioConnection, PingKeepAlive) {
  const auto transcript = load_transcript("ping");
  dr::Options options;
  options.ping_interval = 5ms;  // makes the pings come; nothing here measures time
  make_app(options);
  run(play(server, transcript), [&] { return !connect_result.empty(); });
  EXPECT_EQ(connect_result, "ok");
}

TEST_F(DrachtioConnection, AuthenticateWithTags) {
  const auto transcript = load_transcript("authenticate-with-tags");
  dr::Options options;
  options.ping_interval = 0ms;
  options.tags = {"conf-app", "test"};
  make_app(options);
  run(play(server, transcript), [&] { return !connect_result.empty(); });
  EXPECT_EQ(connect_result, "ok");
}

// A ping left unanswered closes the connection; the backend reconnects.
asio::awaitable<void> ignore_ping(ScriptedServer& server, const std::vector<CapturedFrame>& ping) {
  co_await play(server, ping, 1, 2);
  auto frame = co_await server.read();
  EXPECT_EQ(frame.type(), "ping");
  co_await server.expect_closed();
  co_await play(server, ping, 1, 2);
}

TEST_F(DrachtioConnection, UnansweredPingReconnects) {
  const auto ping = load_transcript("ping");
  auto options = fast_reconnect();
  options.ping_interval = 5ms;
  options.ping_timeout = 5ms;
  make_app(options);
  run(ignore_ping(server, ping), [&] { return std::count(events.begin(), events.end(), "ready") == 2; });
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_NE(std::find(events.begin(), events.end(), "disconnected"), events.end());
}

// The server drops the connection: the backend authenticates and routes again,
// and the next call is served on the new connection.
asio::awaitable<void> drop_then_call(ScriptedServer& server, const std::vector<CapturedFrame>& call) {
  co_await play(server, call, 1, 4);
  server.drop();
  co_await play(server, call);
}

TEST_F(DrachtioConnection, ReconnectsAfterServerDrop) {
  const auto call = load_transcript("uas-invite-answer-bye");
  make_app(fast_reconnect());
  answer_every_invite(body_of(call, 6));
  run(drop_then_call(server, call), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  EXPECT_EQ(std::count(events.begin(), events.end(), "ready"), 2);
}

// The same drop and reconnection, with metrics and a trace logger: frames are counted both
// ways, the connected gauge follows the connection, and the secret never reaches a log line.
TEST_F(DrachtioConnection, MetricsAndTraceLinesWithoutTheSecret) {
  const auto call = load_transcript("uas-invite-answer-bye");
  auto registry = std::make_shared<astmrf::util::metrics::Registry>();
  astmrf_test::LogCapture capture(spdlog::level::trace);
  const auto& logger = capture.logger();
  auto options = fast_reconnect();
  options.metrics = registry;
  options.logger = logger;
  make_app(options);
  answer_every_invite(body_of(call, 6));
  run(drop_then_call(server, call), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  auto counter = [&](const std::string& name, std::vector<std::string> labels, std::vector<std::string> values) {
    return registry->counter(name, "", std::move(labels)).with(std::move(values))->value();
  };
  auto connected = [&] { return registry->gauge("astmrf_drachtio_connected", "").with({})->value(); };
  EXPECT_EQ(counter("astmrf_drachtio_reconnects_total", {}, {}), 1u);
  EXPECT_GE(counter("astmrf_drachtio_frames_total", {"direction"}, {"in"}), 4u);
  EXPECT_GE(counter("astmrf_drachtio_frames_total", {"direction"}, {"out"}), 4u);
  EXPECT_EQ(connected(), 1);
  backend->close();
  ioc.poll();
  EXPECT_EQ(connected(), 0);

  bool auth_line = false;
  bool connected_line = false;
  bool reconnect_line = false;
  for (const auto& line : capture.lines()) {
    EXPECT_EQ(line.find("cymru"), std::string::npos) << line;
    auto fields = astmrf::util::parse_fields(line);
    ASSERT_FALSE(fields.empty()) << line;
    EXPECT_EQ(fields[0].first, "event") << line;
    if (line.find("|authenticate|<redacted>") != std::string::npos) auth_line = true;
    if (fields[0].second == "drachtio_connected") connected_line = true;
    if (fields[0].second == "drachtio_reconnecting") reconnect_line = true;
  }
  EXPECT_TRUE(auth_line);
  EXPECT_TRUE(connected_line);
  EXPECT_TRUE(reconnect_line);
}

asio::awaitable<void> refuse_secret(ScriptedServer& server, const std::vector<CapturedFrame>& refusal) {
  co_await play(server, refusal);
  server.drop();  // drachtio closes at once
}

TEST_F(DrachtioConnection, WrongSecretIsFinal) {
  const auto refusal = load_transcript("authenticate-bad-secret");
  make_app(fast_reconnect());
  // The capture's secret was "wrong".
  backend = dr::make_backend(ioc.get_executor(), [&] {
    auto o = fast_reconnect();
    o.server = dr::ServerAddress{"127.0.0.1", server.port(), "wrong"};
    return o;
  }());
  app = std::make_unique<srf::Srf>(backend);
  run(refuse_secret(server, refusal), [&] { return !connect_result.empty(); });
  EXPECT_EQ(connect_result, "AuthenticationFailed");
  EXPECT_EQ(backend->states(), std::vector<dr::ConnectionState>{dr::ConnectionState::auth_failed});
  // No retry storm: nothing is left to run (no reconnect timer, no socket).
  EXPECT_TRUE(settles());
  EXPECT_EQ(server.accepted(), 1);
}

class DrachtioMalformed : public DrachtioConnection, public testing::WithParamInterface<std::string> {};

asio::awaitable<void> send_garbage(ScriptedServer& server, const std::vector<CapturedFrame>& auth,
                                   std::string garbage) {
  co_await play(server, auth, 1, 2);
  co_await server.write(garbage);
  co_await server.expect_closed();
  co_await play(server, auth, 1, 2);
}

TEST_P(DrachtioMalformed, ClosesAndReconnects) {
  const auto auth = load_transcript("ping");
  auto options = fast_reconnect();
  options.max_frame_bytes = 4096;
  make_app(options);
  run(send_garbage(server, auth, GetParam()), [&] { return std::count(events.begin(), events.end(), "ready") == 2; });
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(events.back(), "ready");
  EXPECT_NE(std::find_if(details.begin(), details.end(),
                         [](const std::string& d) { return d.starts_with("protocol error"); }),
            details.end());
}

INSTANTIATE_TEST_SUITE_P(Frames, DrachtioMalformed,
                         testing::Values(std::string("12x#abcdefghijklm"), std::string("#abc"),
                                         std::string("5000#") + std::string(10, 'a'),
                                         std::string("99999999999999999999#"), std::string("0#")));

// Outbound mode: drachtio-server connects to the application's listener.
asio::awaitable<void> connect_and_call(ScriptedServer& server, std::uint16_t port,
                                       const std::vector<CapturedFrame>& call) {
  co_await server.connect(port);
  co_await server.replay(call);
}

TEST_F(DrachtioConnection, OutboundMode) {
  const auto call = load_transcript("outbound-uas-invite-answer-bye");
  auto listener = dr::make_listener(ioc.get_executor(), dr::ListenerOptions{"127.0.0.1", 0, "cymru", {}});
  backend = listener;
  app = std::make_unique<srf::Srf>(backend);
  answer_every_invite(body_of(call, 4), {});
  run(connect_and_call(server, listener->port(), call), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  EXPECT_EQ(notes, std::vector<std::string>{"ended by remote"});
  // No route frames in outbound mode: the replay would have failed on one.
}

// One Srf, two drachtio-servers: both are authenticated and routed; a call from
// the second one is answered through the second one.
asio::awaitable<void> idle_server(ScriptedServer& server, const std::vector<CapturedFrame>& call, bool& done) {
  co_await play(server, call, 1, 4);
  done = true;
}

TEST_F(DrachtioConnection, SeveralServers) {
  const auto call = load_transcript("uas-invite-answer-bye");
  ScriptedServer second(ioc);
  dr::Options options;
  options.ping_interval = 0ms;
  options.additional_servers = {dr::ServerAddress{"127.0.0.1", second.port(), "cymru"}};
  make_app(options);
  answer_every_invite(body_of(call, 6));
  bool first_done = false;
  asio::co_spawn(ioc, idle_server(server, call, first_done), [](std::exception_ptr) {});
  run(play(second, call), [&] { return outcomes.size() == 1 && first_done; });
  EXPECT_EQ(connect_result, "ok");
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  EXPECT_EQ(backend->states(),
            (std::vector<dr::ConnectionState>{dr::ConnectionState::ready, dr::ConnectionState::ready}));
}

// TLS: a local TLS endpoint with a certificate made now. The server drops the
// connection; the backend must come back on TLS (a plain TCP attempt would fail
// the server's handshake and never authenticate).
class DrachtioTls : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir = (std::filesystem::temp_directory_path() / ("astmrf-drachtio-tls-" + std::to_string(::getpid()))).string();
    make_self_signed(dir);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir); }
  static std::shared_ptr<asio::ssl::context> server_context() {
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    context->use_certificate_chain_file(dir + "/cert.pem");
    context->use_private_key_file(dir + "/key.pem", asio::ssl::context::pem);
    return context;
  }
  static inline std::string dir;
};

asio::awaitable<void> tls_drop_then_call(ScriptedServer& server, const std::vector<CapturedFrame>& call) {
  co_await play(server, call, 1, 4);
  server.drop();
  co_await play(server, call, 1, 4);
}

TEST_F(DrachtioTls, StaysOnTlsAcrossReconnects) {
  asio::io_context ioc;
  ScriptedServer server(ioc, server_context());
  const auto call = load_transcript("uas-invite-answer-bye");
  dr::Options options;
  options.server = dr::ServerAddress{"127.0.0.1", server.port(), "cymru"};
  options.tls = true;
  options.tls_options.ca_file = dir + "/cert.pem";
  options.tls_options.use_default_verify_paths = false;
  options.ping_interval = 0ms;
  options.backoff.initial = 5ms;
  auto backend = dr::make_backend(ioc.get_executor(), options);
  std::vector<std::string> states;
  backend->on_event(
      [&](const dr::ConnectionEvent& event) { states.push_back(std::string(dr::to_string(event.state))); });
  srf::Srf app(backend);
  app.invite([](srf::Request, srf::Response res) { res.send(486); });
  std::string connected;
  backend->async_connect([&](std::exception_ptr error) { connected = describe(error); });
  std::string script = "running";
  asio::co_spawn(ioc, tls_drop_then_call(server, call), [&](std::exception_ptr error) { script = describe(error); });
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while ((script == "running" || std::count(states.begin(), states.end(), "ready") < 2) &&
         ioc.run_one_until(deadline) > 0) {
  }
  EXPECT_EQ(script, "ok");
  EXPECT_EQ(connected, "ok");
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(std::count(states.begin(), states.end(), "ready"), 2);
  backend->close();
  server.drop();
  ioc.poll();
}

// A certificate the client does not trust: no connection, and async_connect says so in time.
TEST_F(DrachtioTls, UntrustedCertificateIsRefused) {
  asio::io_context ioc;
  ScriptedServer server(ioc, server_context());
  dr::Options options;
  options.server = dr::ServerAddress{"127.0.0.1", server.port(), "cymru"};
  options.tls = true;
  options.tls_options.use_default_verify_paths = false;  // and no ca_file
  options.ping_interval = 0ms;
  options.connect_timeout = 200ms;
  options.backoff.initial = 50ms;
  auto backend = dr::make_backend(ioc.get_executor(), options);
  std::vector<std::string> details;
  backend->on_event([&](const dr::ConnectionEvent& event) { details.push_back(event.detail); });
  std::string connected;
  backend->async_connect([&](std::exception_ptr error) { connected = describe(error); });
  asio::co_spawn(ioc, server.accept(), [](std::exception_ptr) {});  // its handshake fails
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (connected.empty() && ioc.run_one_until(deadline) > 0) {
  }
  EXPECT_NE(connected.find("not every drachtio-server was ready"), std::string::npos) << connected;
  EXPECT_NE(std::find_if(details.begin(), details.end(),
                         [](const std::string& d) { return d.find("TLS handshake") != std::string::npos; }),
            details.end());
  backend->close();
  server.drop();
  ioc.poll();
}

}  // namespace
}  // namespace astmrf_test::drachtio
