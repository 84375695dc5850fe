// stasis_probe: the end-to-end probe that README command 1 runs until the demo IVR
// exists. One real call: sipp → Asterisk (drachtio endpoint, _drachtio. dialplan) →
// Stasis app → answered, a prompt played, hung up through ARI. It prints a timeline
// and one result line, and exits 0 only when every step happened as expected and
// nothing was left on Asterisk.
#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/sandbox.hpp"
#include "astmrf_test/sipp.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const Clock::time_point t0 = Clock::now();

void line(const char* kind, const std::string& text) {
  auto ms = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count() / 1000.0;
  std::printf("[%9.3f ms] %-5s %s\n", ms, kind, text.c_str());
  std::fflush(stdout);
}

std::string str(const boost::json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : boost::json::serialize(value);
}

std::string describe(const boost::json::object& event) {
  std::string type = str(event.at("type"));
  std::ostringstream out;
  out << type;
  if (const auto* channel = event.if_contains("channel")) {
    out << " channel=" << str(channel->at("id")) << " state=" << str(channel->at("state"));
  }
  if (const auto* playback = event.if_contains("playback")) {
    out << " playback=" << str(playback->at("id")) << " media=" << str(playback->at("media_uri"))
        << " state=" << str(playback->at("state"));
  }
  if (const auto* cause = event.if_contains("cause")) out << " cause=" << str(*cause);
  return out.str();
}

// Prints every event until one of `type` (for which `match` holds) arrives.
std::optional<boost::json::object> await(astmrf_test::EventStream& events, std::string_view type,
                                         const std::function<bool(const boost::json::object&)>& match = {}) {
  auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    auto event = events.next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    if (!event) break;
    line("EVENT", describe(*event));
    if (event->at("type").as_string() == type && (!match || match(*event))) return event;
  }
  line("ERROR", "no " + std::string(type) + " within 10 s");
  return std::nullopt;
}

// The start lines of the SIP messages in sipp's trace, with their direction.
void print_sip_trace(const std::string& output) {
  std::istringstream in(output.substr(output.find("----- sipp message trace -----")));
  std::string text;
  std::string direction;
  bool want_start_line = false;
  while (std::getline(in, text)) {
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find("message sent") != std::string::npos) {
      direction = "sipp -> Asterisk: ";
      want_start_line = true;
    } else if (text.find("message received") != std::string::npos) {
      direction = "Asterisk -> sipp: ";
      want_start_line = true;
    } else if (want_start_line && !text.empty()) {
      line("SIP", direction + text);
      want_start_line = false;
    }
  }
}

bool fail(const std::string& why) {
  line("ERROR", why);
  std::printf("RESULT: FAILED - %s\n", why.c_str());
  return false;
}

bool probe() {
  const auto& box = astmrf_test::sandbox();
  auto ari = astmrf_test::AriProbe::for_sandbox();

  auto info = ari.request("GET", "/ari/asterisk/info");
  if (info.status != 200) return fail("GET /ari/asterisk/info answered " + std::to_string(info.status));
  line("ARI", "GET /ari/asterisk/info -> 200, Asterisk " + str(info.json().at("system").at("version")));

  const std::string app = astmrf_test::unique_app_name();
  const std::string from_user = astmrf_test::random_uuid();
  astmrf_test::EventStream events(ari, app);
  line("ARI", "events WebSocket open for Stasis app " + app);

  astmrf_test::SippCall call;
  call.scenario = "invite-answer-wait-bye.xml";
  call.service = app;
  call.keys["from_user"] = from_user;
  astmrf_test::SippProcess sipp(call);
  line("SIP", "sipp calls sip:" + app + "@" + box.sip_host + ":" + std::to_string(box.sip_port) +
                  " with User-Agent: drachtio, From user " + from_user);

  auto start = await(events, "StasisStart");
  if (!start) return fail("the call never reached the Stasis app");
  const auto& channel = start->at("channel").as_object();
  const std::string id = str(channel.at("id"));
  const std::string caller = str(channel.at("caller").at("number"));
  if (caller != from_user) return fail("caller.number " + caller + " is not the From user " + from_user);
  line("CHECK", "channel.caller.number equals the From user: the SIP call and the ARI channel are tied");

  auto answer = ari.request("POST", "/ari/channels/" + id + "/answer");
  line("ARI", "POST /channels/" + id + "/answer -> " + std::to_string(answer.status));
  if (answer.status != 204) return fail("answer failed");

  const std::string playback = "pb-" + astmrf_test::random_uuid();
  auto play = ari.request("POST", "/ari/channels/" + id + "/play/" + playback + "?media=sound:hello-world");
  line("ARI",
       "POST /channels/" + id + "/play/" + playback + "?media=sound:hello-world -> " + std::to_string(play.status));
  if (play.status != 201) return fail("play failed");
  auto finished = await(events, "PlaybackFinished", [&](const boost::json::object& event) {
    return event.at("playback").at("id").as_string() == playback;
  });
  if (!finished) return fail("the prompt never finished");
  if (finished->at("playback").at("state").as_string() != "done") return fail("the prompt did not play");

  auto hangup = ari.request("DELETE", "/ari/channels/" + id);
  line("ARI", "DELETE /channels/" + id + " -> " + std::to_string(hangup.status));
  if (!await(events, "StasisEnd")) return fail("the channel never left Stasis");

  auto result = sipp.wait(20s);
  print_sip_trace(result.output);
  line("SIP", "sipp exited " + std::to_string(result.exit_code));
  if (result.exit_code != 0) return fail("sipp's scenario failed:\n" + result.output);

  auto channels = ari.request("GET", "/ari/channels");
  auto left = channels.json().as_array().size();
  line("ARI", "GET /channels -> " + std::to_string(left) + " channel(s) left");
  if (left != 0) return fail("channels left on Asterisk");

  std::printf(
      "RESULT: OK - call %s entered Stasis app %s, was matched by its From user, answered, "
      "heard hello-world, was hung up by ARI; nothing left on Asterisk\n",
      id.c_str(), app.c_str());
  return true;
}

}  // namespace

int main() {
  try {
    return probe() ? 0 : 1;
  } catch (const std::exception& error) {
    std::printf("RESULT: FAILED - %s\n", error.what());
    return 1;
  }
}
