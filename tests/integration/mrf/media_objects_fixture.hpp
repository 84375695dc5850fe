// What the bridge, conference and snoop tests share: parties that are endpoints whose media is
// an astmrf_test::RtpPeer, the audio check (decoded μ-law: the tone's share of the power and
// the level), and the leak check extended to bridges and snoop channels.
#pragma once

#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/rtp_peer.hpp"
#include "astmrf_test/sandbox.hpp"
#include "mrf_support.hpp"

#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace astmrf_test {

/// One party: its RTP socket and its endpoint on the media server.
struct Party {
  std::unique_ptr<RtpPeer> peer = std::make_unique<RtpPeer>();
  std::shared_ptr<astmrf::mrf::Endpoint> endpoint;
};

/// What one party heard of one tone.
struct Heard {
  double share = 0;        // the tone's share of the power received
  double level = -1000.0;  // dBm0 of what was received
  std::size_t samples = 0;
  [[nodiscard]] bool tone() const { return samples >= 1600 && share > 0.5 && level > -30.0; }
  // Heard among other tones (a mix of two at equal levels gives each about half the power).
  [[nodiscard]] bool present() const { return samples >= 1600 && share > 0.2 && level > -35.0; }
  [[nodiscard]] bool nothing() const { return samples < 800 || share < 0.2 || level < -40.0; }
};

inline std::ostream& operator<<(std::ostream& out, const Heard& heard) {
  return out << "share " << heard.share << ", level " << heard.level << " dBm0, " << heard.samples << " samples";
}

class MediaObjectsFixture : public MrfFixture {
 protected:
  void SetUp() override {
    server = connect(sandbox_options(sandbox().ari_port, sandbox().sip_port));
    ASSERT_TRUE(server);
  }
  // The server and whatever the test still holds are let go on the engine's thread.
  ~MediaObjectsFixture() override {
    harness.run([&] {
      parties.clear();
      server.reset();
      return 0;
    });
  }

  /// A new party: an endpoint whose media goes to its RtpPeer (which sends to Asterisk's answer).
  Party& add_party() {
    parties.emplace_back();
    auto& party = parties.back();
    astmrf::mrf::EndpointOptions options;
    options.remote_sdp = party.peer->sdp();
    party.endpoint = harness.run([&] { return server->async_create_endpoint(options, boost::asio::use_future); }).get();
    party.peer->set_remote_from_sdp(harness.run([&] { return party.endpoint->local_sdp(); }));
    party.peer->send_silence(std::chrono::milliseconds(200));  // Asterisk learns our address
    return party;
  }

  /// Each of `speakers` sends its tone (`hz`, -10 dBm0) for `duration`; then what each party of
  /// `listeners` heard at each frequency (listener-major: heard[l][s]).
  std::vector<std::vector<Heard>> exchange(const std::vector<std::pair<Party*, double>>& speakers,
                                           const std::vector<Party*>& listeners,
                                           std::chrono::milliseconds duration = std::chrono::milliseconds(1500)) {
    using namespace std::chrono_literals;
    std::this_thread::sleep_for(300ms);  // what was under way settles
    for (auto* listener : listeners) listener->peer->clear_received();
    // Everyone else streams silence meanwhile, as a phone does (a whisper rides on the frames
    // written to its target: no frames, no whisper).
    for (auto& party : parties) {
      const bool speaking =
          std::any_of(speakers.begin(), speakers.end(), [&](const auto& speaker) { return speaker.first == &party; });
      if (!speaking && party.endpoint) party.peer->send_silence(duration);
    }
    for (auto& [speaker, hz] : speakers) speaker->peer->send_tone(hz, -10.0, duration);
    for (auto& [speaker, hz] : speakers) speaker->peer->wait_until_sent(duration + 2s);
    std::this_thread::sleep_for(200ms);  // the last frames arrive
    std::vector<std::vector<Heard>> out;
    for (auto* listener : listeners) {
      auto samples = listener->peer->received_samples();
      // The first 200 ms may precede the tone's arrival: judged on the rest.
      if (samples.size() > 1600) samples.erase(samples.begin(), samples.begin() + 1600);
      std::vector<Heard> row;
      for (auto& [speaker, hz] : speakers) {
        Heard heard;
        heard.samples = samples.size();
        if (!samples.empty()) {
          heard.share = tone_share(samples, hz);
          heard.level = level_dbm0(samples);
        }
        row.push_back(heard);
      }
      out.push_back(std::move(row));
    }
    return out;
  }
  /// What `listener` heard of `speaker`'s tone at `hz` (the others silent).
  Heard hear(Party& speaker, double hz, Party& listener) { return exchange({{&speaker, hz}}, {&listener})[0][0]; }

  /// Every party streams silence for `duration` (and it is sent).
  void stream_silence(std::chrono::milliseconds duration) {
    for (auto& party : parties) {
      if (party.endpoint) party.peer->send_silence(duration);
    }
    for (auto& party : parties) party.peer->wait_until_sent(duration + std::chrono::seconds(2));
  }

  /// Snoop channels on Asterisk (they are not in the app's dialplan exten).
  std::size_t snoop_channels() {
    auto result = probe.request("GET", "/ari/channels");
    if (result.status != 200) return 0;
    std::size_t count = 0;
    const auto channels = result.json();
    for (const auto& channel : channels.as_array()) {
      const std::string name(channel.at("name").as_string());
      if (name.rfind("Snoop/", 0) == 0) ++count;
    }
    return count;
  }

  /// Ends every party, drops `handles` (weakly watched), then the leak check: nothing of the app on
  /// Asterisk (channels, bridges, snoops), no Bridge / Endpoint object alive.
  template <typename... Handles>
  void finish(Handles&... handles) {
    using namespace std::chrono_literals;
    std::vector<std::weak_ptr<void>> watched;
    harness.run([&] {
      (watched.push_back(std::weak_ptr<void>(handles)), ...);
      (handles.reset(), ...);
      for (auto& party : parties) {
        if (party.endpoint) {
          watched.push_back(party.endpoint);
          party.endpoint->destroy();
          party.endpoint.reset();
        }
      }
      return 0;
    });
    expect_nothing_left(server, probe);
    for (int i = 0; i < 100 && snoop_channels() != 0; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(snoop_channels(), 0u);
    const std::size_t alive = harness.run([&] {
      std::size_t n = 0;
      for (auto& weak : watched) n += weak.expired() ? 0 : 1;
      return n;
    });
    EXPECT_EQ(alive, 0u) << "objects still alive";
  }

  template <typename F>
  auto on_engine(F start) {
    return harness.run(std::move(start));
  }

  AriProbe probe = AriProbe::for_sandbox();
  std::shared_ptr<astmrf::mrf::MediaServer> server;
  std::deque<Party> parties;  // stable addresses
};

}  // namespace astmrf_test
