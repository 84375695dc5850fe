// What the Mrf integration tests share: error descriptions for the event log,
// sandbox connect options, the leak probe (channels of an app on Asterisk), and the
// fixture that runs an Srf + Mrf on the engine harness's thread.
#pragma once

#include "../engine/engine_harness.hpp"
#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/observe.hpp"
#include "astmrf_test/sandbox.hpp"

#include <astmrf/mrf/mrf.hpp>
#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace astmrf_test {

inline std::string describe(std::exception_ptr error) {
  if (!error) return "ok";
  try {
    std::rethrow_exception(error);
  } catch (const astmrf::srf::SipFailure& failure) {
    return "SipFailure " + std::to_string(failure.status());
  } catch (const astmrf::srf::RequestCancelled&) {
    return "RequestCancelled";
  } catch (const astmrf::mrf::MediaSetupTimeout&) {
    return "MediaSetupTimeout";
  } catch (const std::exception& other) {
    return std::string("error ") + other.what();
  }
}

inline astmrf::mrf::ConnectOptions sandbox_options(std::uint16_t ari_port, std::uint16_t sip_port) {
  const auto& box = sandbox();
  astmrf::mrf::ConnectOptions options;
  options.ari = {.address = "127.0.0.1", .port = ari_port, .username = box.ari_user, .password = box.ari_password};
  options.sip = {.address = "127.0.0.1", .port = sip_port, .transport = astmrf::sip::Transport::udp};
  return options;
}

// Bridges on Asterisk (each sandbox belongs to one test process at a time: any bridge is ours).
inline std::size_t bridges_on_asterisk(const AriProbe& probe) {
  auto result = probe.request("GET", "/ari/bridges");
  if (result.status != 200) return 0;  // Asterisk is down: it holds nothing
  return result.json().as_array().size();
}

// Channels on Asterisk that belong to `app` (their dialplan exten is the app name).
inline std::size_t channels_of(const AriProbe& probe, const std::string& app) {
  auto result = probe.request("GET", "/ari/channels");
  if (result.status != 200) return 0;  // Asterisk is down: it holds nothing
  const auto channels = result.json();
  std::size_t count = 0;
  for (const auto& channel : channels.as_array()) {
    if (channel.at("dialplan").at("exten").as_string() == app) ++count;
  }
  return count;
}

/// An Srf and an Mrf on the engine harness's thread; `held` keeps what the test's
/// application holds (touched on that thread only).
class MrfFixture : public testing::Test {
 protected:
  MrfFixture() {
    harness.run([&] {
      app = std::make_unique<astmrf::srf::Srf>(astmrf::srf::make_engine_backend(harness.engine()));
      media = std::make_unique<astmrf::mrf::Mrf>(
          *app, astmrf::mrf::MrfOptions{.metrics = metrics, .logger = mrf_log.logger()});
      return 0;
    });
  }

  ~MrfFixture() override {
    harness.run([&] {
      held.clear();
      for (auto& s : media->media_servers()) s->disconnect();
      media.reset();
      app.reset();
      return 0;
    });
  }

  std::shared_ptr<astmrf::mrf::MediaServer> connect(astmrf::mrf::ConnectOptions options) {
    auto future = harness.run([&] { return media->async_connect(options, boost::asio::use_future); });
    return future.get();
  }

  /// The leak check: no endpoint, no pending setup, no Bridge object, no engine dialog, no
  /// channel of the app and no bridge on Asterisk (waits up to 5 s for the last BYE/StasisEnd
  /// to land).
  void expect_nothing_left(const std::shared_ptr<astmrf::mrf::MediaServer>& ms, const AriProbe& ari) {
    using namespace std::chrono_literals;
    if (!ms) return;
    bool clean = false;
    std::string state;
    for (int i = 0; i < 250 && !clean; ++i) {
      state = harness.run([&] {
        return std::to_string(ms->endpoints().size()) + " endpoints, " + std::to_string(ms->pending_setups()) +
               " pending, " + std::to_string(ms->bridges()) + " bridges, " +
               std::to_string(harness.engine().stats().dialogs) + " dialogs";
      });
      clean = state == "0 endpoints, 0 pending, 0 bridges, 0 dialogs" && channels_of(ari, ms->app()) == 0 &&
              bridges_on_asterisk(ari) == 0;
      if (!clean) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(clean) << "left behind: " << state << ", " << channels_of(ari, ms->app()) << " channels and "
                       << bridges_on_asterisk(ari) << " bridges on Asterisk";
  }

  EventLog log;
  // The Mrf's metrics and its log lines (debug and up), for the tests that check them.
  std::shared_ptr<astmrf::util::metrics::Registry> metrics = std::make_shared<astmrf::util::metrics::Registry>();
  LogCapture mrf_log{spdlog::level::debug, "level=%l %v"};
  EngineHarness harness;
  std::unique_ptr<astmrf::srf::Srf> app;
  std::unique_ptr<astmrf::mrf::Mrf> media;
  std::vector<std::shared_ptr<void>> held;  // engine thread only
};

}  // namespace astmrf_test
