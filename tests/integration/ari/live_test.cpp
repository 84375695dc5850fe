// The ARI client on live channels of the real Asterisk sandbox; calls come from sipp.
//
// Every parameter struct below is a named variable (docs/ari.md, "GCC 12 pitfall").
#include "ari_it.hpp"

#include <astmrf/util/base64.hpp>
#include <astmrf/util/log.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <set>
#include <sstream>

namespace {

using namespace ari_it;
using ari::EventType;
using ari::ResourceKind;

TEST(AriLive, EveryOperationFamilyOnALiveChannel) {
  asio::io_context ioc;
  const auto app = astmrf_test::unique_app_name();
  const auto caller = astmrf_test::random_uuid();
  ari::Client client(ioc.get_executor(), options(sandbox_url(), {app}));
  run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); });

  // Subscribe first, then act: the StasisStart of our caller.
  std::optional<ari::StasisStart> start;
  auto on_start = client.on_event(EventType::stasis_start, [&](const ari::Event& e) {
    auto s = e.as<ari::StasisStart>();
    if (s.channel.caller.number == caller && !start) start = std::move(s);
  });
  const auto scenario = instantiate("live-call.xml.in", "@DTMF_PCAP@", scenario_dir() + "/dtmf-1-hash.pcap");
  auto sipp = start_sipp({.scenario = scenario, .service = app, .from_user = caller});
  ASSERT_TRUE(run_until(
      ioc, [&] { return start.has_value(); }, 15s))
      << "no StasisStart";
  const std::string id = start->channel.id;
  EXPECT_EQ(start->channel.state, "Ring");
  EXPECT_EQ(start->channel.dialplan.exten, app);

  std::vector<std::string> channel_events;
  std::string digits;
  std::optional<ari::EndReason> channel_end;
  auto channel_sub = client.subscribe(
      ResourceKind::channel, id,
      [&](const ari::Event& e) {
        channel_events.emplace_back(e.type_name());
        if (e.type() == EventType::channel_dtmf_received) digits += e.as<ari::ChannelDtmfReceived>().digit;
      },
      [&](ari::EndReason r) { channel_end = r; });

  std::map<std::string, bool> done;  // operation family → exercised
  std::string step;
  auto trace = [&] {
    std::string all;
    for (const auto& t : channel_events) all += t + " ";
    return "step '" + step + "', channel events: " + all;
  };
  try {
    run(ioc, [&]() -> asio::awaitable<void> {
      // ring, answer, get
      step = "ring, answer, get";
      const ari::channels::Ring ring{.channel_id = id};
      co_await client.channels().async_ring(ring, asio::use_awaitable);
      const ari::channels::Answer answer{.channel_id = id};
      co_await client.channels().async_answer(answer, asio::use_awaitable);
      const ari::channels::Get get{.channel_id = id};
      auto ch = co_await client.channels().async_get(get, asio::use_awaitable);
      EXPECT_EQ(ch.state, std::string("Up"));
      done["answer"] = true;

      // variables
      step = "variables";
      const ari::channels::SetChannelVar setvar{.channel_id = id, .variable = "ASTMRF_TEST", .value = "42"};
      co_await client.channels().async_set_channel_var(setvar, asio::use_awaitable);
      const ari::channels::GetChannelVar getvar{.channel_id = id, .variable = "ASTMRF_TEST"};
      auto var = co_await client.channels().async_get_channel_var(getvar, asio::use_awaitable);
      EXPECT_EQ(var.value, std::string("42"));
      const ari::channels::GetChannelVar ua{.channel_id = id, .variable = "PJSIP_HEADER(read,User-Agent)"};
      EXPECT_EQ((co_await client.channels().async_get_channel_var(ua, asio::use_awaitable)).value,
                std::string("drachtio"));
      done["variables"] = true;

      // play with a client-chosen id; the waits exist before the request
      step = "play with a client-chosen id; the waits exist before the request";
      const auto pb_id = client.make_id("pb");
      auto pb_started = client.expect(ResourceKind::playback, pb_id, {EventType::playback_started});
      auto pb_finished = client.expect(ResourceKind::playback, pb_id, {EventType::playback_finished});
      const ari::channels::PlayWithId play{.channel_id = id, .playback_id = pb_id, .media = {"sound:hello-world"}};
      auto pb = co_await client.channels().async_play_with_id(play, asio::use_awaitable);
      EXPECT_EQ(pb.id, pb_id);
      co_await pb_started.async_wait(5s, asio::use_awaitable);
      auto fin = co_await pb_finished.async_wait(10s, asio::use_awaitable);
      EXPECT_EQ(fin.as<ari::PlaybackFinished>().playback.state, std::string("done"));
      const ari::playbacks::Get gone_pb{.playback_id = pb_id};
      try {
        co_await client.playbacks().async_get(gone_pb, asio::use_awaitable);
        ADD_FAILURE() << "finished playback still there";
      } catch (const ari::NotFound&) {
      }
      done["play"] = true;

      // record + stop, then the stored recording
      step = "record + stop, then the stored recording";
      const auto rec = client.make_id("rec");
      auto rec_started = client.expect(ResourceKind::recording, rec, {EventType::recording_started});
      auto rec_finished = client.expect(ResourceKind::recording, rec, {EventType::recording_finished});
      const ari::channels::Record record{.channel_id = id, .name = rec, .format = "wav", .if_exists = "overwrite"};
      auto live = co_await client.channels().async_record(record, asio::use_awaitable);
      EXPECT_EQ(live.name, rec);
      co_await rec_started.async_wait(5s, asio::use_awaitable);
      const ari::recordings::GetLive get_live{.recording_name = rec};
      EXPECT_EQ((co_await client.recordings().async_get_live(get_live, asio::use_awaitable)).state,
                std::string("recording"));
      const ari::recordings::Stop stop{.recording_name = rec};
      co_await client.recordings().async_stop(stop, asio::use_awaitable);
      co_await rec_finished.async_wait(5s, asio::use_awaitable);
      const ari::recordings::GetStored stored{.recording_name = rec};
      auto st = co_await client.recordings().async_get_stored(stored, asio::use_awaitable);
      EXPECT_EQ(st.format, std::string("wav"));
      const ari::recordings::DeleteStored del_stored{.recording_name = rec};
      co_await client.recordings().async_delete_stored(del_stored, asio::use_awaitable);
      done["record"] = true;

      // DTMF from sipp (RFC 4733, sent 2 s after the ACK), then DTMF sent by ARI
      step = "DTMF from sipp (RFC 4733, sent 2 s after the ACK), then DTMF sent by ARI";
      asio::steady_timer timer(ioc);
      for (int i = 0; i < 100 && digits.size() < 2; ++i) {
        timer.expires_after(100ms);
        co_await timer.async_wait(asio::use_awaitable);
      }
      EXPECT_EQ(digits, std::string("1#"));
      const ari::channels::SendDTMF dtmf{.channel_id = id, .dtmf = "12#", .duration = 100};
      co_await client.channels().async_send_dtmf(dtmf, asio::use_awaitable);
      done["dtmf"] = true;

      // hold, music on hold, mute, silence
      step = "hold, music on hold, mute, silence";
      const ari::channels::Hold hold{.channel_id = id};
      co_await client.channels().async_hold(hold, asio::use_awaitable);
      const ari::channels::Unhold unhold{.channel_id = id};
      co_await client.channels().async_unhold(unhold, asio::use_awaitable);
      const ari::channels::StartMoh moh{.channel_id = id};
      co_await client.channels().async_start_moh(moh, asio::use_awaitable);
      const ari::channels::StopMoh nomoh{.channel_id = id};
      co_await client.channels().async_stop_moh(nomoh, asio::use_awaitable);
      const ari::channels::Mute mute{.channel_id = id, .direction = "both"};
      co_await client.channels().async_mute(mute, asio::use_awaitable);
      const ari::channels::Unmute unmute{.channel_id = id, .direction = "both"};
      co_await client.channels().async_unmute(unmute, asio::use_awaitable);
      const ari::channels::StartSilence silence{.channel_id = id};
      co_await client.channels().async_start_silence(silence, asio::use_awaitable);
      const ari::channels::StopSilence nosilence{.channel_id = id};
      co_await client.channels().async_stop_silence(nosilence, asio::use_awaitable);
      done["hold/moh/mute/silence"] = true;

      // bridge with a client-chosen id: add, play into it, remove, destroy
      step = "bridge with a client-chosen id: add, play into it, remove, destroy";
      const auto br = client.make_id("br");
      std::optional<ari::EndReason> bridge_end;
      auto bridge_sub = client.subscribe(ResourceKind::bridge, br, {}, [&](ari::EndReason r) { bridge_end = r; });
      const ari::bridges::CreateWithId create{.bridge_id = br, .type = "mixing"};
      auto bridge = co_await client.bridges().async_create_with_id(create, asio::use_awaitable);
      EXPECT_EQ(bridge.id, br);
      // The app hears about the bridge only while one of its channels is in it: subscribe explicitly
      // (POST /applications/{app}/subscription) to get BridgeDestroyed after the channel left.
      co_await client.async_subscribe_source(app, "bridge:" + br, asio::use_awaitable);
      auto entered = client.expect(ResourceKind::channel, id, {EventType::channel_entered_bridge});
      const ari::bridges::AddChannel add{.bridge_id = br, .channel = {id}};
      co_await client.bridges().async_add_channel(add, asio::use_awaitable);
      co_await entered.async_wait(5s, asio::use_awaitable);
      const auto bpb = client.make_id("pb");
      const ari::bridges::PlayWithId bplay{.bridge_id = br, .playback_id = bpb, .media = {"sound:tt-monkeys"}};
      auto bp = co_await client.bridges().async_play_with_id(bplay, asio::use_awaitable);
      EXPECT_EQ(bp.target_uri, "bridge:" + br);
      const ari::playbacks::Stop bstop{.playback_id = bpb};
      co_await client.playbacks().async_stop(bstop, asio::use_awaitable);
      auto left = client.expect(ResourceKind::channel, id, {EventType::channel_left_bridge});
      const ari::bridges::RemoveChannel remove{.bridge_id = br, .channel = {id}};
      co_await client.bridges().async_remove_channel(remove, asio::use_awaitable);
      co_await left.async_wait(5s, asio::use_awaitable);
      auto destroyed = client.expect(ResourceKind::bridge, br, {EventType::bridge_destroyed});
      const ari::bridges::Destroy destroy{.bridge_id = br};
      co_await client.bridges().async_destroy(destroy, asio::use_awaitable);
      co_await destroyed.async_wait(5s, asio::use_awaitable);
      EXPECT_FALSE(bridge_sub.active());
      EXPECT_EQ(bridge_end, ari::EndReason::ended);
      done["bridge"] = true;

      // snoop with a client-chosen id: the snoop channel enters our app
      step = "snoop with a client-chosen id: the snoop channel enters our app";
      const auto snoop = client.make_id("snoop");
      auto snoop_start = client.expect(ResourceKind::channel, snoop, {EventType::stasis_start});
      const ari::channels::SnoopChannelWithId snoop_req{.channel_id = id, .snoop_id = snoop, .app = app, .spy = "in"};
      auto snoop_ch = co_await client.channels().async_snoop_channel_with_id(snoop_req, asio::use_awaitable);
      EXPECT_EQ(snoop_ch.id, snoop);
      co_await snoop_start.async_wait(5s, asio::use_awaitable);
      auto snoop_end = client.expect(ResourceKind::channel, snoop, {EventType::stasis_end});
      const ari::channels::Hangup snoop_hangup{.channel_id = snoop};
      co_await client.channels().async_hangup(snoop_hangup, asio::use_awaitable);
      co_await snoop_end.async_wait(5s, asio::use_awaitable);
      done["snoop"] = true;

      // hangup with a reason: StasisEnd ends the channel subscription
      step = "hangup with a reason: StasisEnd ends the channel subscription";
      auto end = client.expect(ResourceKind::channel, id, {EventType::stasis_end});
      const ari::channels::Hangup hangup{.channel_id = id, .reason = "normal"};
      co_await client.channels().async_hangup(hangup, asio::use_awaitable);
      co_await end.async_wait(5s, asio::use_awaitable);
      done["hangup"] = true;

      // the channel is gone: typed 404
      step = "the channel is gone: typed 404";
      // (StasisEnd can precede the channel's destruction by a few milliseconds.)
      std::optional<std::string> not_found;
      for (int i = 0; i < 50 && !not_found; ++i) {
        try {
          co_await client.channels().async_get(get, asio::use_awaitable);
          timer.expires_after(20ms);
          co_await timer.async_wait(asio::use_awaitable);
        } catch (const ari::NotFound& e) {
          not_found = e.message();
        }
      }
      EXPECT_EQ(not_found, std::optional<std::string>("Channel not found"));
      try {
        co_await client.channels().async_hangup(hangup, asio::use_awaitable);
        ADD_FAILURE() << "second hangup succeeded";
      } catch (const ari::NotFound&) {
      }
    });
  } catch (const std::exception& e) {
    FAIL() << e.what() << " at " << trace();
  }
  EXPECT_EQ(done.size(), 9u);
  EXPECT_FALSE(channel_sub.active());
  EXPECT_EQ(channel_end, ari::EndReason::ended);
  ASSERT_FALSE(channel_events.empty());
  EXPECT_EQ(channel_events.back(), "StasisEnd");
  auto result = sipp->wait(30s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(client.stats().malformed_events, 0u);
}

TEST(AriLive, PlayAndCollectWithBargeInOnALiveCall) {
  asio::io_context ioc;
  const auto app = astmrf_test::unique_app_name();
  const auto caller = astmrf_test::random_uuid();
  ari::Client client(ioc.get_executor(), options(sandbox_url(), {app}));
  run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); });
  std::optional<std::string> channel;
  auto on_start = client.on_event(EventType::stasis_start, [&](const ari::Event& e) {
    if (e.as<ari::StasisStart>().channel.caller.number == caller) channel = std::string(e.id(ResourceKind::channel));
  });
  const auto scenario = instantiate("live-call.xml.in", "@DTMF_PCAP@", scenario_dir() + "/dtmf-1-hash.pcap");
  auto sipp = start_sipp({.scenario = scenario, .service = app, .from_user = caller});
  ASSERT_TRUE(run_until(
      ioc, [&] { return channel.has_value(); }, 15s));
  ari::CollectResult result;
  run(ioc, [&]() -> asio::awaitable<void> {
    const ari::channels::Answer answer{.channel_id = *channel};
    co_await client.channels().async_answer(answer, asio::use_awaitable);
    // sipp sends "1" then "#" two seconds after its ACK, while the 2.7 s prompt still plays.
    const ari::CollectOptions collect{.channel_id = *channel, .media = {"sound:tt-monkeys"}, .max_digits = 4};
    result = co_await ari::async_play_and_collect(client, collect, asio::use_awaitable);
    const ari::channels::Hangup hangup{.channel_id = *channel};
    co_await client.channels().async_hangup(hangup, asio::use_awaitable);
  });
  EXPECT_EQ(result.digits, "1");
  EXPECT_TRUE(result.terminated);
  EXPECT_FALSE(result.timed_out);
  EXPECT_TRUE(run_until(
      ioc, [&] { return !sipp->running(); }, 15s));
  auto r = sipp->wait(1s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(AriLive, WrongPasswordIsAnAuthenticationError) {
  asio::io_context ioc;
  auto opts = options(sandbox_url(), {astmrf_test::unique_app_name()});
  opts.password += "-wrong";
  ari::Client client(ioc.get_executor(), opts);
  EXPECT_THROW(run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); }),
               ari::AuthenticationError);
}

// Metrics and the trace log of one live call (sipp → Stasis, hung up by the app): REST requests
// by family and status (a 404 included), one latency observation per request, events by type,
// the WebSocket gauge; every line at trace free of the password and the Basic credentials.
TEST(AriLive, MetricsAndTraceLogOfALiveCall) {
  asio::io_context ioc;
  const auto app = astmrf_test::unique_app_name();
  const auto caller = astmrf_test::random_uuid();
  auto registry = std::make_shared<astmrf::util::metrics::Registry>();
  std::ostringstream out;
  auto logger = std::make_shared<spdlog::logger>("ari-live", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  logger->set_pattern("%l %v");
  logger->set_level(spdlog::level::trace);
  auto opts = options(sandbox_url(), {app});
  opts.metrics = registry;
  opts.metrics_name = "sandbox";
  opts.logger = logger;
  ari::Client client(ioc.get_executor(), opts);
  run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); });
  std::optional<std::string> channel;
  bool ended = false;
  auto on_start = client.on_event(EventType::stasis_start, [&](const ari::Event& e) {
    if (e.as<ari::StasisStart>().channel.caller.number == caller + "-1")
      channel = std::string(e.id(ResourceKind::channel));
  });
  auto on_end = client.on_event(EventType::stasis_end, [&](const ari::Event& e) {
    if (channel && e.id(ResourceKind::channel) == *channel) ended = true;
  });
  auto sipp = start_sipp({.scenario = scenario_dir() + "/reject.xml", .service = app, .from_user = caller});
  ASSERT_TRUE(run_until(
      ioc, [&] { return channel.has_value(); }, 15s))
      << "no StasisStart";
  run(ioc, [&]() -> asio::awaitable<void> {
    const ari::channels::Get get{.channel_id = *channel};
    co_await client.channels().async_get(get, asio::use_awaitable);
    const ari::channels::Hangup hangup{.channel_id = *channel};
    co_await client.channels().async_hangup(hangup, asio::use_awaitable);
  });
  ASSERT_TRUE(run_until(
      ioc, [&] { return ended; }, 10s))
      << "no StasisEnd";
  const std::string gone = "astmrf-no-such-channel-" + caller;
  run(ioc, [&]() -> asio::awaitable<void> {
    try {
      const ari::channels::Get get{.channel_id = gone};
      co_await client.channels().async_get(get, asio::use_awaitable);
      ADD_FAILURE() << "found a channel that never existed";
    } catch (const ari::NotFound&) {
    }
    co_await client.bridges().async_list(asio::use_awaitable);
  });
  EXPECT_TRUE(run_until(
      ioc, [&] { return !sipp->running(); }, 15s));

  std::map<std::string, double> s;
  {
    std::istringstream in(registry->expose());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      const auto sp = line.rfind(' ');
      s[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    }
  }
  auto at = [&](const std::string& k) { return s.contains(k) ? s.at(k) : -1.0; };
  auto req = [](const char* family, const char* status) {
    return std::string("astmrf_ari_requests_total{server=\"sandbox\",family=\"") + family + "\",status=\"" + status +
           "\"}";
  };
  EXPECT_EQ(at(req("asterisk", "200")), 1);
  EXPECT_EQ(at(req("channels", "200")), 1);
  EXPECT_EQ(at(req("channels", "204")), 1);
  EXPECT_EQ(at(req("channels", "404")), 1);
  EXPECT_EQ(at(req("bridges", "200")), 1);
  double requests = 0;
  double observed = 0;
  for (const auto& [k, v] : s) {
    if (k.rfind("astmrf_ari_requests_total{", 0) == 0) requests += v;
    if (k.rfind("astmrf_ari_request_duration_seconds_count{", 0) == 0) observed += v;
  }
  EXPECT_EQ(requests, 5);
  EXPECT_EQ(observed, requests);
  EXPECT_GE(at(R"(astmrf_ari_events_total{server="sandbox",type="StasisStart"})"), 1);
  EXPECT_GE(at(R"(astmrf_ari_events_total{server="sandbox",type="StasisEnd"})"), 1);
  EXPECT_GE(at(R"(astmrf_ari_events_total{server="sandbox",type="ChannelHangupRequest"})"), 1);
  EXPECT_EQ(at(R"(astmrf_ari_event_decode_errors_total{server="sandbox"})"), 0);
  EXPECT_EQ(at(R"(astmrf_ari_websocket_up{server="sandbox"})"), 1);
  EXPECT_EQ(at(R"(astmrf_ari_reconnects_total{server="sandbox"})"), 0);

  logger->flush();
  const auto text = out.str();
  const auto& box = astmrf_test::sandbox();
  const auto basic = astmrf::util::base64_encode(box.ari_user + ":" + box.ari_password);
  std::istringstream lines(text);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    EXPECT_EQ(line.find(box.ari_password), std::string::npos) << line;
    EXPECT_EQ(line.find(basic), std::string::npos) << line;
    EXPECT_EQ(line.find("Basic "), std::string::npos) << line;
  }
  EXPECT_GT(n, 5);
  EXPECT_NE(text.find("trace event=ari_event server=sandbox type=StasisStart channel_id=" + *channel),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("trace event=ari_request server=sandbox method=GET path=/channels/" + gone + " status=404"),
            std::string::npos)
      << text;
}

TEST(AriLive, AnIdleConnectionIsKeptAliveByPingsAsteriskAnswers) {
  // No event for ten idle timeouts: the client pings, Asterisk answers, the socket stays.
  asio::io_context ioc;
  auto opts = options(sandbox_url(), {astmrf_test::unique_app_name()});
  opts.ws_idle_timeout = 200ms;
  ari::Client client(ioc.get_executor(), opts);
  run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); });
  ioc.restart();
  ioc.run_for(2s);
  EXPECT_EQ(client.stats().connects, 1u);
  EXPECT_EQ(client.state(), ari::ConnectionState::connected);
  client.close();
  ioc.restart();
  ioc.run_for(100ms);
}

TEST(AriLive, SubscriptionsExpireWithTheirChannelsOverAThousandCalls) {
  asio::io_context ioc;
  const auto app = astmrf_test::unique_app_name();
  auto opts = options(sandbox_url(), {app});
  ari::Client client(ioc.get_executor(), opts);
  run(ioc, [&]() -> asio::awaitable<void> { co_await client.async_connect(asio::use_awaitable); });
  const auto baseline = client.stats().subscriptions;

  std::vector<ari::Subscription> handles;  // never reset by the app: they must expire by themselves
  int starts = 0;
  int ended = 0;
  int hangup_errors = 0;
  std::size_t peak = 0;
  auto on_start = client.on_event(EventType::stasis_start, [&](const ari::Event& e) {
    ++starts;
    const std::string id(e.id(ResourceKind::channel));
    handles.push_back(client.subscribe(ResourceKind::channel, id, {}, [&](ari::EndReason) { ++ended; }));
    peak = std::max(peak, client.stats().subscriptions);
    client.channels().async_hangup(ari::channels::Hangup{.channel_id = id}, [&](std::exception_ptr ex) {
      if (ex) ++hangup_errors;
    });
  });
  constexpr int kCalls = 1000;
  auto sipp = start_sipp({.scenario = scenario_dir() + "/reject.xml",
                          .service = app,
                          .from_user = "bulk",
                          .calls = kCalls,
                          .rate = 100,
                          .seconds = 100});
  ASSERT_TRUE(run_until(
      ioc, [&] { return ended == kCalls || !sipp->running(); }, 110s));
  ASSERT_TRUE(run_until(
      ioc, [&] { return ended == kCalls; }, 10s))
      << starts << " starts, " << ended << " ended";
  auto result = sipp->wait(10s);
  EXPECT_EQ(result.exit_code, 0) << result.output.substr(0, 4000);
  EXPECT_EQ(starts, kCalls);
  EXPECT_EQ(hangup_errors, 0);
  EXPECT_EQ(client.stats().subscriptions, baseline + 1);  // only on_start remains
  for (const auto& h : handles) EXPECT_FALSE(h.active());
  EXPECT_LT(peak, baseline + 250u);
}

TEST(AriLive, CoverageOfTheSandboxApiDocs) {
  asio::io_context ioc;
  ari::Client client(ioc.get_executor(), options(sandbox_url(), {}));
  std::set<std::pair<std::string, std::string>> typed;
  for (const auto& op : ari::operation_catalog()) {
    if (op.typed) typed.emplace(op.method, op.path);
  }
  int total = 0;
  int covered = 0;
  std::vector<std::string> missing;
  std::map<std::string, std::pair<int, int>> per_resource;
  run(ioc, [&]() -> asio::awaitable<void> {
    using boost::beast::http::verb;
    auto index = ari::RequestBuilder(verb::get).literal("/api-docs/resources.json").finish();
    auto res = (co_await client.async_request(index, asio::use_awaitable)).json();
    for (const auto& api : res.at("apis").as_array()) {
      std::string path(api.at("path").as_string());  // /api-docs/channels.{format}
      const auto name = path.substr(10, path.find('.') - 10);
      auto req = ari::RequestBuilder(verb::get).literal("/api-docs/" + name + ".json").finish();
      auto doc = (co_await client.async_request(req, asio::use_awaitable)).json();
      for (const auto& a : doc.at("apis").as_array()) {
        for (const auto& op : a.at("operations").as_array()) {
          std::string m(op.at("httpMethod").as_string());
          std::string p(a.at("path").as_string());
          ++total;
          ++per_resource[name].second;
          const bool is_ws = op.at("responseClass").as_string() == "Message";
          if (typed.contains({m, p}) || is_ws) {  // the events WebSocket is the Client itself
            ++covered;
            ++per_resource[name].first;
          } else {
            missing.push_back(m + " " + p);
          }
        }
      }
    }
  });
  std::ostringstream report;
  report << "ARI coverage against the sandbox: " << covered << "/" << total << " operations\n";
  for (const auto& [name, c] : per_resource) report << "  " << name << ": " << c.first << "/" << c.second << "\n";
  for (const auto& m : missing) report << "  untyped: " << m << "\n";
  std::cout << report.str();
  EXPECT_GT(total, 100);
  EXPECT_EQ(covered, total) << report.str();
}

}  // namespace
