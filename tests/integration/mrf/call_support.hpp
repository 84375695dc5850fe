// What the call helper tests share (agent_call_test.cpp, transfer_test.cpp): sipp parties whose
// media is an RtpPeer (callers calling the engine, agents answering on a port of their own), the
// tone checks, and the fixture with the leak check (channels, bridges, Endpoint/Dialog/Bridge
// objects).
#pragma once

#include "../engine/engine_harness.hpp"
#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/rtp_peer.hpp"
#include "astmrf_test/sandbox.hpp"
#include "astmrf_test/sipp.hpp"
#include "mrf_support.hpp"

#include <astmrf/mrf/agent_call.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace astmrf_test {

/// An agent call's outcome for the event log: "ok", "AgentCallFailed busy 486", "operation_aborted"...
inline std::string describe_agent(std::exception_ptr error) {
  if (!error) return "ok";
  try {
    std::rethrow_exception(error);
  } catch (const astmrf::mrf::AgentCallFailed& failed) {
    return "AgentCallFailed " + std::string(astmrf::mrf::AgentCallFailed::to_string(failed.reason())) + " " +
           std::to_string(failed.status());
  } catch (const boost::system::system_error& e) {
    if (e.code() == boost::asio::error::operation_aborted) return "operation_aborted";
    return std::string("system_error ") + e.what();
  } catch (...) {
    return describe(std::current_exception());
  }
}

/// The share of the signal's power at `hz` in what `peer` received after it was cleared.
inline double heard(const RtpPeer& peer, double hz) { return tone_share(peer.received_samples(), hz); }

/// Waits until `peer` has received `hz` as a good share of its audio (a tone check on decoded
/// μ-law), or the timeout passes; the share last measured.
inline double wait_for_tone(RtpPeer& peer, double hz, std::chrono::milliseconds timeout) {
  using namespace std::chrono_literals;
  const auto until = std::chrono::steady_clock::now() + timeout;
  double share = 0;
  for (;;) {
    peer.clear_received();
    std::this_thread::sleep_for(600ms);
    share = heard(peer, hz);
    if (share > 0.5 || std::chrono::steady_clock::now() > until) return share;
  }
}

class CallFixture : public MrfFixture {
 protected:
  CallFixture() {
    auto options = sandbox_options(sandbox().ari_port, sandbox().sip_port);
    // A loaded machine (CI, parallel builds) can be slow to answer a ping: not what these tests
    // are about, so the health check waits longer before it marks the server down.
    options.health.ping_timeout = std::chrono::seconds(5);
    options.health.calls_lost_after = std::chrono::seconds(10);
    options.setup_timeout = std::chrono::seconds(10);
    server = connect(options);
  }

  ~CallFixture() override {
    std::vector<std::weak_ptr<void>> alive;
    harness.run([&] {
      for (auto& h : held) alive.push_back(h);
      held.clear();
      legs = {};
      call = {};
      return 0;
    });
    expect_nothing_left(server, probe);
    const auto bridges = probe.request("GET", "/ari/bridges");
    EXPECT_EQ(bridges.status, 200u);
    if (bridges.status == 200) {
      EXPECT_TRUE(bridges.json().as_array().empty()) << bridges.body;
    }
    bool freed = false;
    for (int i = 0; i < 100 && !freed; ++i) {
      freed = harness.run([&] {
        for (auto& w : alive) {
          if (!w.expired()) return false;
        }
        return true;
      });
      if (!freed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(freed) << "an Endpoint, Dialog or Bridge is still alive";
    harness.run([&] {
      server.reset();
      return 0;
    });
  }

  /// sipp calling the engine (service "engine") with its media on `peer`.
  SippCall caller_party(const std::string& scenario, const RtpPeer& peer) {
    SippCall party;
    party.scenario = scenario.find('/') == std::string::npos ? sandbox().sipp_dir + "/" + scenario : scenario;
    party.remote = harness.address(astmrf::sip::Transport::udp);
    party.service = "engine";
    party.keys["rtp_port"] = std::to_string(peer.port());
    party.keys["direction"] = "sendrecv";
    return party;
  }

  /// A sipp agent (MRF_SIPP_DIR/`scenario`) answering on `port`, media on `peer`; `pause`: -d.
  static SippCall agent_party(const std::string& scenario, std::uint16_t port, const RtpPeer* peer,
                              std::chrono::milliseconds pause) {
    SippCall party;
    party.scenario = std::string(MRF_SIPP_DIR) + "/" + scenario;
    party.remote = "127.0.0.1:9";  // unused by a UAS; sipp wants one
    party.keys["rtp_port"] = peer ? std::to_string(peer->port()) : "9";
    party.extra_args = {"-p", std::to_string(port), "-d", std::to_string(pause.count())};
    return party;
  }

  static std::string agent_uri(std::uint16_t port) { return "sip:agent@127.0.0.1:" + std::to_string(port); }

  /// The application: each caller is connected to the server, then `then` runs with its legs.
  void on_caller(std::function<void(const astmrf::mrf::ConnectedCaller&)> then) {
    harness.run([&, then] {
      app->invite([&, then](astmrf::srf::Request req, astmrf::srf::Response res) {
        server->async_connect_caller(req, res, {},
                                     [&, then](std::exception_ptr error, astmrf::mrf::ConnectedCaller connected) {
                                       log.add("connect_caller " + describe(error));
                                       if (!connected.endpoint) return;
                                       held.push_back(connected.endpoint);
                                       held.push_back(connected.dialog);
                                       legs = connected;
                                       then(connected);
                                     });
      });
      return 0;
    });
  }

  /// Keeps an agent call's parts (engine thread).
  void keep(const astmrf::mrf::AgentCall& made) {
    held.push_back(made.agent);
    held.push_back(made.agent_dialog);
    held.push_back(made.bridge);
  }

  /// Ends what the application holds (engine thread): BYE to every party still up.
  void hang_up_all() {
    harness.run([&] {
      if (call.agent) call.agent->destroy();
      if (legs.endpoint) legs.endpoint->destroy();
      return 0;
    });
  }

  AriProbe probe = AriProbe::for_sandbox();
  std::shared_ptr<astmrf::mrf::MediaServer> server;
  astmrf::mrf::ConnectedCaller legs;  // engine thread only
  astmrf::mrf::AgentCall call;        // engine thread only
};

}  // namespace astmrf_test
