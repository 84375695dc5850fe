// The real Asterisk that the project provisions: ARI answers with the configured
// credentials, and the drachtio routing (identify by User-Agent, dialplan _drachtio.,
// Stasis(${EXTEN})) delivers a sipp call to the right Stasis application with the
// From user as caller number.
#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/sandbox.hpp"
#include "astmrf_test/sipp.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using astmrf_test::AriProbe;
using astmrf_test::EventStream;
using astmrf_test::SippCall;

std::string channel_id(const boost::json::object& event) {
  return std::string(event.at("channel").at("id").as_string());
}

// Channels of this test's app still present on Asterisk (a leak if not empty).
std::size_t channels_of_app(const AriProbe& ari, const std::string& app) {
  auto result = ari.request("GET", "/ari/channels");
  EXPECT_EQ(result.status, 200u) << result.body;
  std::size_t count = 0;
  const auto channels = result.json();
  for (const auto& channel : channels.as_array()) {
    const auto* dialplan = channel.as_object().if_contains("dialplan");
    if (dialplan != nullptr && dialplan->as_object().at("exten").as_string() == app) ++count;
  }
  return count;
}

TEST(AsteriskSandbox, AriInfoAnswersWithTheConfiguredCredentials) {
  auto result = AriProbe::for_sandbox().request("GET", "/ari/asterisk/info");
  ASSERT_EQ(result.status, 200u) << result.body;
  auto version = std::string(result.json().at("system").at("version").as_string());
  EXPECT_EQ(version.rfind("22.", 0), 0u) << "expected Asterisk 22, got " << version;
}

TEST(AsteriskSandbox, WrongPasswordIsRejectedWith401) {
  const auto& box = astmrf_test::sandbox();
  AriProbe wrong(box.ari_host, box.ari_port, box.ari_user, box.ari_password + "-wrong");
  auto result = wrong.request("GET", "/ari/asterisk/info");
  EXPECT_EQ(result.status, 401u);
  EXPECT_EQ(result.json().at("message").as_string(), "Authentication required");
}

TEST(AsteriskSandbox, InviteWithoutDrachtioUserAgentIsChallenged) {
  SippCall call;
  call.scenario = "invite-expect-401.xml";
  call.service = astmrf_test::unique_app_name();
  call.keys["from_user"] = astmrf_test::random_uuid();
  auto result = astmrf_test::run_sipp(call);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST(AsteriskSandbox, InviteForAppWithoutWebSocketIsDeclined) {
  SippCall call;
  call.scenario = "invite-expect-603.xml";
  call.service = astmrf_test::unique_app_name();  // nobody listens for this app
  call.keys["from_user"] = astmrf_test::random_uuid();
  auto result = astmrf_test::run_sipp(call);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST(AsteriskSandbox, StasisStartCarriesTheFromUserAsCallerNumber) {
  auto ari = AriProbe::for_sandbox();
  const std::string app = astmrf_test::unique_app_name();
  const std::string from_user = astmrf_test::random_uuid();
  EventStream events(ari, app);  // subscribe first, then act

  SippCall call;
  call.scenario = "invite-answer-bye.xml";
  call.service = app;
  call.keys["from_user"] = from_user;
  astmrf_test::SippProcess sipp(call);

  auto start = events.wait_for("StasisStart", 10s);
  ASSERT_TRUE(start.has_value()) << "no StasisStart for " << app << "\n" << sipp.wait(1s).output;
  EXPECT_EQ(start->at("application").as_string(), app);
  const auto& channel = start->at("channel").as_object();
  EXPECT_EQ(channel.at("caller").at("number").as_string(), from_user);
  EXPECT_EQ(channel.at("state").as_string(), "Ring");
  const std::string id = channel_id(*start);

  // Answering through ARI is what makes Asterisk send its 200 OK.
  auto answer = ari.request("POST", "/ari/channels/" + id + "/answer");
  EXPECT_EQ(answer.status, 204u) << answer.body;

  // sipp ACKs, holds, hangs up: the app sees the channel leave Stasis.
  auto end =
      events.wait_for("StasisEnd", 10s, [&](const boost::json::object& event) { return channel_id(event) == id; });
  EXPECT_TRUE(end.has_value()) << "no StasisEnd for channel " << id;

  auto result = sipp.wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(channels_of_app(ari, app), 0u);
}

}  // namespace
