// Srf's surface of RFC 3262 (reliable provisional responses, PRACK) against sipp, through the
// embedded engine: ResponseOptions::reliable as UAS, the automatic PRACK as UAC.
#include "astmrf_test/sipp.hpp"
#include "srf_fixture.hpp"

#include <astmrf/srf/engine_backend.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <algorithm>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace srf = astmrf::srf;
using astmrf::sip::Transport;
using astmrf_test::EventLog;
using astmrf_test::SippCall;

const std::string& kSdp = astmrf_test::kSrfTestSdp;

class SrfPrackTest : public astmrf_test::SrfFixture {
 protected:
  SippCall call(const std::string& scenario) { return sipp(ENGINE_SIPP_DIR, scenario); }
};

TEST_F(SrfPrackTest, UasSendsAReliable183WithSdpThenAnswers) {
  harness.run([&] {
    app->invite([&](srf::Request req, srf::Response res) {
      srf::ResponseOptions early;
      early.content_type = "application/sdp";
      early.body = kSdp;
      early.reliable = true;
      res.send(183, early);
      // The 200 is held by the engine until the PRACK of the 183 (it carried SDP).
      app->async_create_uas(req, res, srf::UasOptions{kSdp, {}},
                            [&](std::exception_ptr error, std::shared_ptr<srf::Dialog> dialog) {
                              log.add(error ? "uas failed" : "uas ok");
                              if (!dialog) return;
                              dialog->on_destroy([&](const srf::DestroyedInfo&) { log.add("destroyed"); });
                              dialogs.push_back(dialog);
                            });
    });
    return 0;
  });
  // sipp: an unknown RSeq gets 481, the right PRACK 200, then the 200 to the INVITE.
  auto result = astmrf_test::run_sipp(call("uac-invite-prack.xml"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(log.wait_for("uas ok")) << log.joined();
  EXPECT_TRUE(log.wait_for("destroyed")) << log.joined();
}

TEST_F(SrfPrackTest, UacOffers100relAndPracksOnce) {
  const std::uint16_t port = astmrf_test::free_port(Transport::udp);
  SippCall callee = call("uas-reliable-180.xml");
  callee.extra_args = {"-p", std::to_string(port)};
  auto sipp = std::make_unique<astmrf_test::SippProcess>(callee);
  ASSERT_TRUE(astmrf_test::wait_until_bound(Transport::udp, port));
  auto future = harness.run([&] {
    srf::UacOptions options;
    options.local_sdp = kSdp;
    options.on_provisional = [&](const astmrf::sip::Message& response) {
      log.add("provisional " + std::to_string(response.status()));
    };
    return app->async_create_uac("sip:sipp@127.0.0.1:" + std::to_string(port), options, asio::use_future);
  });
  auto dialog = future.get();
  ASSERT_TRUE(dialog);
  std::this_thread::sleep_for(100ms);  // let sipp see the ACK
  harness.run([&] {
    dialog->destroy();
    dialog.reset();
    return 0;
  });
  auto result = sipp->wait(20s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  auto events = log.events();
  EXPECT_EQ(std::count(events.begin(), events.end(), "provisional 180"), 1) << log.joined();
}

}  // namespace
