// Event decoding and dispatch by resource id, subscriptions and waits, on recorded event streams.
#include "fake_asterisk.hpp"

#include <astmrf/ari/ari.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <array>
#include <stdexcept>

namespace ari = astmrf::ari;
using namespace std::chrono_literals;

namespace {
ari::ClientOptions offline_options() {
  ari::ClientOptions o;
  o.url = "http://127.0.0.1:1";
  o.user = "u";
  o.password = "p";
  return o;
}
}  // namespace

// The error_code of a wait's error (a WaitError, or operation_aborted's system_error).
inline boost::system::error_code wait_code(const std::exception_ptr& e) {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& error) {
    return error.code();
  }
}

TEST(AriEvent, EveryRecordedEventDecodesWithItsResources) {
  for (const char* file : {"scenario-caller-hangup.events.jsonl", "scenario-ari-hangup.events.jsonl",
                           "observer-subscribeall-caller-hangup.jsonl", "rest-probes-live-channel.jsonl"}) {
    for (const auto& text : fake::fixture_events(file)) {
      boost::system::error_code ec;
      auto e = ari::Event::parse(text, ec);
      ASSERT_FALSE(ec) << text;
      EXPECT_NE(e.type(), ari::EventType::unknown) << e.type_name();
      EXPECT_FALSE(e.timestamp().empty());
    }
  }
}

namespace {
// The resources an event refers to, found the slow way: a walk over the parsed document.
std::vector<std::pair<ari::ResourceKind, std::string>> resources_from_document(const boost::json::object& o) {
  auto str = [](const boost::json::object& obj, const char* key) -> std::string {
    const auto* v = obj.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  std::vector<std::pair<ari::ResourceKind, std::string>> out;
  for (const auto& kv : o) {
    const auto* obj = kv.value().if_object();
    if (obj == nullptr) continue;
    const std::string field(kv.key());
    std::pair<ari::ResourceKind, std::string> ref;
    if (field == "playback") {
      ref = {ari::ResourceKind::playback, str(*obj, "id")};
    } else if (field == "recording" || field == "device_state") {
      ref = {field == "recording" ? ari::ResourceKind::recording : ari::ResourceKind::device_state, str(*obj, "name")};
    } else if (field == "endpoint") {
      ref = {ari::ResourceKind::endpoint, str(*obj, "technology") + "/" + str(*obj, "resource")};
    } else if (field == "bridge" || field == "bridge_from" ||
               (field.size() > 7 && field.substr(field.size() - 7) == "_bridge")) {
      ref = {ari::ResourceKind::bridge, str(*obj, "id")};
    } else if (obj->contains("caller") && obj->contains("id")) {
      ref = {ari::ResourceKind::channel, str(*obj, "id")};
    } else {
      continue;
    }
    if (!ref.second.empty()) out.push_back(ref);
  }
  return out;
}
}  // namespace

TEST(AriEvent, TheScanFindsTheSameResourcesAsTheDocument) {
  int events = 0;
  for (const char* file :
       {"scenario-caller-hangup.events.jsonl", "scenario-ari-hangup.events.jsonl",
        "observer-subscribeall-caller-hangup.jsonl", "rest-probes-live-channel.jsonl", "bridge-events.jsonl"}) {
    for (const auto& text : fake::fixture_events(file)) {
      boost::system::error_code ec;
      auto e = ari::Event::parse(text, ec);
      ASSERT_FALSE(ec) << text;
      std::vector<std::pair<ari::ResourceKind, std::string>> scanned;
      for (const auto& r : e.resources()) scanned.emplace_back(r.kind, std::string(r.id));
      EXPECT_EQ(scanned, resources_from_document(e.json())) << text;
      EXPECT_EQ(e.type_name(), std::string_view(e.json().at("type").as_string())) << text;
      ++events;
    }
  }
  EXPECT_GT(events, 10);
}

TEST(AriEvent, EscapedStringsAndNestedObjectsAreHandled) {
  boost::system::error_code ec;
  auto e = ari::Event::parse(
      R"({"args":[{"id":"not-a-ref","caller":{}}],"type":"Stasis\u0053tart","application":"a\/b",)"
      R"("channel":{"dialplan":{"id":"deep"},"id":"chan\"1","caller":{"number":"x"}},"n":1.5,"f":false})",
      ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(e.type(), ari::EventType::stasis_start);
  EXPECT_EQ(e.application(), "a/b");
  ASSERT_EQ(e.resources().size(), 1U);
  EXPECT_EQ(e.id(ari::ResourceKind::channel), "chan\"1");
  EXPECT_EQ(e.resources()[0].field, "channel");
  EXPECT_FALSE(ari::Event::parse(R"({"type":"StasisStart"} x)", ec));
  EXPECT_TRUE(ec);
}

TEST(AriEvent, TypedViewsAreDecodedOnDemand) {
  boost::system::error_code ec;
  auto e = ari::Event::parse(boost::json::serialize(boost::json::parse(fake::fixture("stasis-start.json"))), ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(e.type(), ari::EventType::stasis_start);
  auto s = e.as<ari::StasisStart>();
  EXPECT_EQ(s.channel.caller.number, "9a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d");
  EXPECT_EQ(s.channel.state, "Ring");
  EXPECT_EQ(s.channel.dialplan.exten, "drachtio-test1");
  EXPECT_EQ(e.id(ari::ResourceKind::channel), s.channel.id);
  EXPECT_EQ(e.application(), "drachtio-test1");
}

TEST(AriEvent, FindStringsReadsMembersByPointerWithOrWithoutTheDocument) {
  static constexpr std::array<std::string_view, 6> kPointers{
      "/channel/id", "/channel/caller/number", "/channel/name", "/channel/protocol_id", "/channel/nope", "/type"};
  // Every StasisStart of the captures: the scan gives what the document holds.
  int checked = 0;
  for (const char* file : {"scenario-caller-hangup.events.jsonl", "scenario-ari-hangup.events.jsonl"}) {
    for (const auto& text : fake::fixture_events(file)) {
      boost::system::error_code ec;
      auto scanned = ari::Event::parse(text, ec);
      ASSERT_FALSE(ec);
      if (scanned.type() != ari::EventType::stasis_start) continue;
      std::array<std::string, 6> by_scan;
      scanned.find_strings(kPointers, by_scan);
      auto start = scanned.as<ari::StasisStart>();  // builds the document
      EXPECT_EQ(by_scan[0], start.channel.id);
      EXPECT_EQ(by_scan[1], start.channel.caller.number);
      EXPECT_EQ(by_scan[2], start.channel.name);
      EXPECT_EQ(by_scan[3], start.channel.protocol_id);
      EXPECT_EQ(by_scan[4], "");
      EXPECT_EQ(by_scan[5], "StasisStart");
      std::array<std::string, 6> by_document;
      scanned.find_strings(kPointers, by_document);  // the document exists now
      EXPECT_EQ(by_scan, by_document);
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);

  boost::system::error_code ec;
  auto e = ari::Event::parse(
      R"({"type":"X","args":[{"id":"in-array"}],"a":{"b":{"c":"deep"},"n":1,"id":"A\"1\u0041"},"a~/b":"odd"})", ec);
  ASSERT_FALSE(ec);
  static constexpr std::array<std::string_view, 5> kOthers{"/a/b/c", "/a/n", "/a/id", "/args/0/id", "/a~0~1b"};
  std::array<std::string, 5> found;
  e.find_strings(kOthers, found);
  EXPECT_EQ(found, (std::array<std::string, 5>{"deep", "", "A\"1A", "", "odd"}));
  static constexpr std::array<std::string_view, 1> kBad{"channel/id"};
  std::array<std::string, 1> one;
  EXPECT_THROW(e.find_strings(kBad, one), std::invalid_argument);
  std::array<std::string, 2> two;
  EXPECT_THROW(e.find_strings(kOthers, two), std::invalid_argument);
}

TEST(AriEvent, BridgeEventsReferToBridgeAndChannel) {
  int checked = 0;
  for (const auto& text : fake::fixture_events("bridge-events.jsonl")) {
    boost::system::error_code ec;
    auto e = ari::Event::parse(text, ec);
    if (e.type() != ari::EventType::channel_entered_bridge) continue;
    auto ev = e.as<ari::ChannelEnteredBridge>();
    EXPECT_EQ(e.id(ari::ResourceKind::bridge), ev.bridge.id);
    ASSERT_TRUE(ev.channel.has_value());
    EXPECT_EQ(e.id(ari::ResourceKind::channel), ev.channel->id);
    ++checked;
  }
  EXPECT_EQ(checked, 1);
}

TEST(AriEvent, MalformedAndUnknownInput) {
  boost::system::error_code ec;
  EXPECT_FALSE(ari::Event::parse("{not json", ec));
  EXPECT_TRUE(ec);
  EXPECT_FALSE(ari::Event::parse("[1,2]", ec));
  EXPECT_EQ(ec, ari::errc::malformed_event);
  EXPECT_FALSE(ari::Event::parse(R"({"application":"x"})", ec));
  EXPECT_EQ(ec, ari::errc::malformed_event);
  auto e = ari::Event::parse(R"({"type":"FancyNewEvent","application":"x","channel":{"id":"c","caller":{}}})", ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(e.type(), ari::EventType::unknown);
  EXPECT_EQ(e.type_name(), "FancyNewEvent");
  EXPECT_EQ(e.id(ari::ResourceKind::channel), "c");
}

TEST(AriDispatch, ByResourceIdAndExpiryOnStasisEnd) {
  boost::asio::io_context ioc;
  ari::Client client(ioc.get_executor(), offline_options());
  auto events = fake::fixture_events("scenario-caller-hangup.events.jsonl");
  boost::system::error_code ec;
  const auto channel = std::string(ari::Event::parse(events.front(), ec).id(ari::ResourceKind::channel));

  std::vector<std::string> mine;
  std::vector<std::string> all;
  int other = 0;
  std::optional<ari::EndReason> ended;
  auto sub = client.subscribe(
      ari::ResourceKind::channel, channel, [&](const ari::Event& e) { mine.emplace_back(e.type_name()); },
      [&](ari::EndReason r) { ended = r; });
  auto sub_other = client.subscribe(ari::ResourceKind::channel, "someone-else", [&](const ari::Event&) { ++other; });
  auto sub_all = client.on_event([&](const ari::Event& e) { all.emplace_back(e.type_name()); });
  int starts = 0;
  auto sub_type = client.on_event(ari::EventType::stasis_start, [&](const ari::Event&) { ++starts; });
  EXPECT_EQ(client.stats().subscriptions, 4u);

  for (const auto& text : events) client.dispatch_message(text);

  EXPECT_EQ(all.size(), events.size());
  EXPECT_EQ(starts, 1);
  EXPECT_EQ(other, 0);
  ASSERT_FALSE(mine.empty());
  EXPECT_EQ(mine.front(), "StasisStart");
  EXPECT_EQ(mine.back(), "StasisEnd");
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(*ended, ari::EndReason::ended);
  EXPECT_FALSE(sub.active());
  EXPECT_TRUE(sub_other.active());
  EXPECT_EQ(client.stats().subscriptions, 3u);
  EXPECT_EQ(client.stats().events, events.size());
}

TEST(AriDispatch, PlaybackSubscriptionEndsWithPlaybackFinished) {
  boost::asio::io_context ioc;
  ari::Client client(ioc.get_executor(), offline_options());
  auto events = fake::fixture_events("playback-events.jsonl");
  boost::system::error_code ec;
  const auto pb = std::string(ari::Event::parse(events.front(), ec).id(ari::ResourceKind::playback));
  std::vector<ari::EventType> seen;
  auto sub = client.subscribe(ari::ResourceKind::playback, pb, [&](const ari::Event& e) { seen.push_back(e.type()); });
  for (const auto& text : events) client.dispatch_message(text);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], ari::EventType::playback_started);
  EXPECT_EQ(seen[1], ari::EventType::playback_finished);
  EXPECT_FALSE(sub.active());
}

TEST(AriDispatch, HandlersMayUnsubscribeAndSubscribeWhileDispatching) {
  boost::asio::io_context ioc;
  ari::Client client(ioc.get_executor(), offline_options());
  ari::Subscription self;
  ari::Subscription added;
  int calls = 0;
  int added_calls = 0;
  self = client.on_event([&](const ari::Event&) {
    ++calls;
    self.reset();  // its own std::function is running: erasure must be deferred
    added = client.on_event([&](const ari::Event&) { ++added_calls; });
  });
  const std::string ev = R"({"type":"ChannelVarset","application":"a","variable":"x","value":"1"})";
  client.dispatch_message(ev);
  client.dispatch_message(ev);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(added_calls, 1);
}

TEST(AriDispatch, NoGrowthOverAThousandCalls) {
  boost::asio::io_context ioc;
  ari::Client client(ioc.get_executor(), offline_options());
  auto events = fake::fixture_events("scenario-caller-hangup.events.jsonl");
  boost::system::error_code ec;
  const auto channel = std::string(ari::Event::parse(events.front(), ec).id(ari::ResourceKind::channel));
  std::vector<ari::Subscription> handles;  // kept by the "application": they expire by themselves
  int ends = 0;
  for (int call = 0; call < 1000; ++call) {
    const auto id = "chan-" + std::to_string(call);
    handles.push_back(client.subscribe(
        ari::ResourceKind::channel, id, [](const ari::Event&) {}, [&](ari::EndReason) { ++ends; }));
    auto w = client.expect(ari::ResourceKind::channel, id, {ari::EventType::channel_dtmf_received});
    for (auto text : events) {
      for (auto pos = text.find(channel); pos != std::string::npos; pos = text.find(channel, pos + id.size())) {
        text.replace(pos, channel.size(), id);
      }
      client.dispatch_message(text);
    }
    EXPECT_TRUE(w.ready());
  }
  EXPECT_EQ(ends, 1000);
  EXPECT_EQ(client.stats().subscriptions, 0u);
  for (const auto& h : handles) EXPECT_FALSE(h.active());
}

TEST(AriDispatch, MalformedMessagesAreCountedAndIgnored) {
  boost::asio::io_context ioc;
  ari::Client client(ioc.get_executor(), offline_options());
  int n = 0;
  auto sub = client.on_event([&](const ari::Event&) { ++n; });
  client.dispatch_message("garbage");
  client.dispatch_message(R"({"no_type":1})");
  client.dispatch_message(R"({"type":"Whatever","application":"a"})");
  client.dispatch_message(R"({"type":"ChannelVarset","application":"a"})");
  auto st = client.stats();
  EXPECT_EQ(st.malformed_events, 2u);
  EXPECT_EQ(st.unknown_events, 1u);
  EXPECT_EQ(st.events, 2u);
  EXPECT_EQ(n, 2);
}

TEST(AriWait, RegisteredBeforeTheEventCollectsItLater) {
  boost::asio::io_context ioc;
  ari::Client client(ioc.get_executor(), offline_options());
  auto events = fake::fixture_events("playback-events.jsonl");
  boost::system::error_code ec;
  const auto pb = std::string(ari::Event::parse(events.front(), ec).id(ari::ResourceKind::playback));
  auto started = client.expect(ari::ResourceKind::playback, pb, {ari::EventType::playback_started});
  auto finished = client.expect(ari::ResourceKind::playback, pb, {ari::EventType::playback_finished});
  for (const auto& text : events) client.dispatch_message(text);  // before anyone waits
  EXPECT_TRUE(started.ready());
  std::vector<std::pair<std::exception_ptr, ari::EventType>> results;
  started.async_wait(1s, [&](std::exception_ptr e, ari::Event ev) { results.emplace_back(e, ev.type()); });
  finished.async_wait(1s, [&](std::exception_ptr e, ari::Event ev) { results.emplace_back(e, ev.type()); });
  ioc.run();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_FALSE(results[0].first);
  EXPECT_EQ(results[0].second, ari::EventType::playback_started);
  EXPECT_EQ(results[1].second, ari::EventType::playback_finished);
  EXPECT_EQ(client.stats().subscriptions, 0u);
}

TEST(AriWait, TimesOutAndEndsWithTheResource) {
  boost::asio::io_context ioc;
  ari::Client client(ioc.get_executor(), offline_options());
  boost::system::error_code timeout_ec;
  boost::system::error_code ended_ec;
  ari::Event ended_event;
  client.async_wait_for(ari::ResourceKind::channel, "c9", {ari::EventType::channel_dtmf_received}, 50ms,
                        [&](std::exception_ptr e, ari::Event) { timeout_ec = wait_code(e); });
  auto w = client.expect(ari::ResourceKind::channel, "c1", {ari::EventType::channel_dtmf_received});
  ari::Event error_event;
  w.async_wait(5s, [&](std::exception_ptr e, ari::Event ev) {
    ended_ec = wait_code(e);
    ended_event = std::move(ev);
    try {
      std::rethrow_exception(e);
    } catch (const ari::WaitError& error) {
      error_event = error.event();
    } catch (...) {
    }
  });
  client.dispatch_message(R"({"type":"StasisEnd","application":"a","channel":{"id":"c1","caller":{}}})");
  ioc.run();
  EXPECT_EQ(timeout_ec, ari::errc::timed_out);
  EXPECT_EQ(ended_ec, ari::errc::resource_ended);
  EXPECT_EQ(ended_event.type(), ari::EventType::stasis_end);
  EXPECT_EQ(error_event.type(), ari::EventType::stasis_end);  // also for coroutines, which get only the error
  EXPECT_EQ(client.stats().subscriptions, 0u);
}

TEST(AriWait, CloseCompletesPendingWaits) {
  boost::asio::io_context ioc;
  ari::Client client(ioc.get_executor(), offline_options());
  boost::system::error_code got;
  std::optional<ari::EndReason> reason;
  auto sub = client.subscribe(ari::ResourceKind::bridge, "b", {}, [&](ari::EndReason r) { reason = r; });
  client.async_wait_for(ari::ResourceKind::bridge, "b", {}, 10s,
                        [&](std::exception_ptr e, ari::Event) { got = wait_code(e); });
  client.close();
  ioc.run();
  EXPECT_EQ(got, ari::errc::closed);
  EXPECT_EQ(reason, ari::EndReason::closed);
}

// Waits and REST calls complete after the initiating call, error paths included, and
// honour the token's cancellation slot (operation_aborted, exactly once).
TEST(AriWait, ErrorPathsNeverCompleteInsideTheCall) {
  boost::asio::io_context ioc;
  ari::Client client(ioc.get_executor(), offline_options());
  client.close();
  auto w = client.expect(ari::ResourceKind::channel, "c1", {});  // closed: done already
  boost::system::error_code got;
  bool called = false;
  w.async_wait(1s, [&](std::exception_ptr e, ari::Event) {
    called = true;
    got = wait_code(e);
  });
  EXPECT_FALSE(called);
  ari::Waiter empty;
  EXPECT_THROW(empty.async_wait(1s, [](std::exception_ptr, ari::Event) {}), std::logic_error);
  ioc.run();
  EXPECT_TRUE(called);
  EXPECT_EQ(got, ari::errc::closed);
}

TEST(AriWait, CancellingAWaitCompletesItOnceWithOperationAborted) {
  boost::asio::io_context ioc;
  ari::Client client(ioc.get_executor(), offline_options());
  boost::asio::cancellation_signal signal;
  std::vector<boost::system::error_code> got;
  auto w = client.expect(ari::ResourceKind::channel, "c1", {ari::EventType::channel_dtmf_received});
  w.async_wait(5s, boost::asio::bind_cancellation_slot(
                       signal.slot(), [&](std::exception_ptr e, ari::Event) { got.push_back(wait_code(e)); }));
  signal.emit(boost::asio::cancellation_type::terminal);
  EXPECT_TRUE(got.empty());
  client.dispatch_message(R"({"type":"StasisEnd","application":"a","channel":{"id":"c1","caller":{}}})");
  ioc.run();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], boost::asio::error::operation_aborted);
  EXPECT_EQ(client.stats().subscriptions, 0u);
}

TEST(AriCall, CancellingACallCompletesItAtOnceAndDropsTheLateResult) {
  boost::asio::io_context ioc;
  ari::Client client(ioc.get_executor(), offline_options());  // nothing listens: the call fails later
  boost::asio::cancellation_signal signal;
  std::vector<boost::system::error_code> got;
  client.async_request(ari::RequestBuilder(boost::beast::http::verb::get).literal("/asterisk/info").finish(),
                       boost::asio::bind_cancellation_slot(
                           signal.slot(), [&](std::exception_ptr e, ari::Response) { got.push_back(wait_code(e)); }));
  signal.emit(boost::asio::cancellation_type::terminal);
  ioc.run();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], boost::asio::error::operation_aborted);
}
