// What the Srf integration tests share: an Srf on the embedded engine of an EngineHarness, the
// dialogs a test keeps (engine thread only), an event log, and sipp calls toward the engine.
#pragma once

#include "../engine/engine_harness.hpp"
#include "astmrf_test/sipp.hpp"

#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/srf.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace astmrf_test {

/// An SDP offer/answer for calls whose media nobody listens to.
inline const std::string kSrfTestSdp =
    "v=0\r\no=astmrf 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

class SrfFixture : public testing::Test {
 protected:
  SrfFixture() {
    harness.run([&] {
      app = std::make_unique<astmrf::srf::Srf>(astmrf::srf::make_engine_backend(harness.engine()));
      return 0;
    });
  }
  ~SrfFixture() override {
    harness.run([&] {
      dialogs.clear();
      app.reset();
      return 0;
    });
  }

  /// sipp running `dir`/`scenario` toward the engine over UDP.
  SippCall sipp(const std::string& dir, const std::string& scenario) {
    SippCall call;
    call.scenario = dir + "/" + scenario;
    call.remote = harness.address(astmrf::sip::Transport::udp);
    return call;
  }

  EventLog log;
  EngineHarness harness;
  std::unique_ptr<astmrf::srf::Srf> app;
  std::vector<std::shared_ptr<astmrf::srf::Dialog>> dialogs;  // touched on the engine thread only
};

}  // namespace astmrf_test
