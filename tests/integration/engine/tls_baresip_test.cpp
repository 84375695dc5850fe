// SIP over TLS with a peer that is not ours: baresip (ctrl_tcp) calls the engine and is
// called by it, and calls through connect_caller to the Asterisk sandbox; the engine refuses
// baresip's certificate when another CA signed it.
#include "../mrf/mrf_support.hpp"
#include "baresip_peer.hpp"
#include "engine_harness.hpp"
#include "tls_pki.hpp"

#include <astmrf/mrf/mrf.hpp>
#include <astmrf/sip/engine/engine.hpp>
#include <astmrf/srf/engine_backend.hpp>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <future>

namespace {

using namespace std::chrono_literals;
namespace sip = astmrf::sip;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
using astmrf_test::BaresipPeer;
using astmrf_test::EngineHarness;
using astmrf_test::EventLog;
using astmrf_test::TestPki;
using sip::Transport;

// An answer that takes PCMU toward a port where nothing listens (the test checks signaling).
const std::string kSdp =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 39998 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

class TlsBaresipTest : public testing::Test {
 protected:
  TlsBaresipTest() {
    engine_leaf = pki.issue("engine", {"IP:127.0.0.1"});
    baresip_leaf = pki.issue("baresip", {"IP:127.0.0.1"});
  }

  sip::EngineConfig config() {
    auto c = EngineHarness::test_config();
    sip::ListenPoint tls{Transport::tls, "127.0.0.1", 0};
    tls.tls.certificate_file = engine_leaf.certificate;
    tls.tls.key_file = engine_leaf.key;
    c.listen = {{Transport::udp, "127.0.0.1", 0}, tls};
    c.tls_client.ca_file = pki.ca_file();
    c.tls_client.use_default_verify_paths = false;
    // baresip's timers are the standard ones.
    c.timers = {};
    return c;
  }

  TestPki pki;
  std::shared_ptr<sip::Dialog> held;            // engine thread only
  std::shared_ptr<sip::ClientRequest> request;  // engine thread only
  TestPki::Leaf engine_leaf;
  TestPki::Leaf baresip_leaf;
  EventLog log;
};

TEST_F(TlsBaresipTest, BaresipCallsTheEngineAndTheEngineHangsUp) {
  EngineHarness engine(config());
  BaresipPeer baresip({baresip_leaf.combined, pki.ca_file()});
  engine.run([&] {
    engine.engine().on_request([&](const std::shared_ptr<sip::IncomingRequest>& req) {
      if (req->message().method() != "INVITE") return void(req->respond({405, "Method Not Allowed", {}, {}, {}}));
      log.add("invite over " + std::string(sip::uri_param(req->source().transport)));
      auto dialog = req->respond({200, "OK", {}, "application/sdp", kSdp});
      dialog->on_ack([&, weak = std::weak_ptr<sip::Dialog>(dialog)](const sip::Message&) {
        log.add("ack");
        if (auto d = weak.lock()) d->bye();
      });
      dialog->on_end([&](sip::DialogEndReason reason) {
        log.add(reason == sip::DialogEndReason::local_bye ? "ended by us" : "ended otherwise");
      });
      held = dialog;
    });
    return 0;
  });
  ASSERT_TRUE(
      baresip.command("dial", "sip:app@127.0.0.1:" + std::to_string(engine.port(Transport::tls)) + ";transport=tls"))
      << baresip.output();
  EXPECT_NE(baresip.wait_event("CALL_ESTABLISHED"), "") << baresip.output();
  EXPECT_TRUE(log.wait_for("invite over tls")) << log.joined();
  EXPECT_TRUE(log.wait_for("ack")) << log.joined();
  EXPECT_NE(baresip.wait_event("CALL_CLOSED"), "") << baresip.output();
  EXPECT_TRUE(log.wait_for("ended by us")) << log.joined();
  engine.run([&] {
    held.reset();
    return 0;
  });
}

TEST_F(TlsBaresipTest, TheEngineCallsBaresipAndBaresipHangsUp) {
  EngineHarness engine(config());
  BaresipPeer baresip({baresip_leaf.combined, pki.ca_file()});
  engine.run([&] {
    sip::RequestSpec invite;
    invite.uri = "sip:bob@127.0.0.1:" + std::to_string(baresip.tls_port()) + ";transport=tls";
    invite.content_type = "application/sdp";
    invite.body = kSdp;
    request = engine.engine().send_request(
        invite, [&](const sip::Message& response, const std::shared_ptr<sip::Dialog>& dialog) {
          if (response.status() < 200) return;
          log.add("final " + std::to_string(response.status()));
          if (!dialog) return;
          held = dialog;
          dialog->on_end([&](sip::DialogEndReason reason) {
            log.add(reason == sip::DialogEndReason::remote_bye ? "ended by baresip" : "ended otherwise");
          });
        });
    return 0;
  });
  EXPECT_NE(baresip.wait_event("CALL_ESTABLISHED"), "") << baresip.output() << log.joined();
  EXPECT_TRUE(log.wait_for("final 200")) << log.joined();
  EXPECT_TRUE(baresip.command("hangup"));
  EXPECT_TRUE(log.wait_for("ended by baresip")) << log.joined() << baresip.output();
  engine.run([&] {
    held.reset();
    request.reset();
    return 0;
  });
}

TEST_F(TlsBaresipTest, TheEngineRefusesBaresipsCertificateFromAnotherCa) {
  EngineHarness engine(config());
  auto stranger = pki.issue("stranger", {"IP:127.0.0.1"}, true);
  BaresipPeer baresip({stranger.combined, pki.ca_file()});
  engine.run([&] {
    sip::RequestSpec options;
    options.method = "OPTIONS";
    options.uri = "sip:bob@127.0.0.1:" + std::to_string(baresip.tls_port()) + ";transport=tls";
    request =
        engine.engine().send_request(options, [&](const sip::Message& response, const std::shared_ptr<sip::Dialog>&) {
          if (response.status() >= 200)
            log.add(std::to_string(response.status()) + " " + std::string(response.reason()) +
                    (sip::is_tls_handshake_error(request->transport_error()) ? " (typed)" : ""));
        });
    return 0;
  });
  EXPECT_TRUE(log.wait_for(
      "503 TLS handshake failed: certificate verify failed (unable to get local issuer certificate) (typed)"))
      << log.joined();
  engine.run([&] {
    request.reset();
    return 0;
  });
}

TEST_F(TlsBaresipTest, BaresipThroughConnectCallerToAsterisk) {
  EngineHarness engine(config());
  std::unique_ptr<srf::Srf> app;
  std::unique_ptr<mrf::Mrf> media;
  engine.run([&] {
    app = std::make_unique<srf::Srf>(srf::make_engine_backend(engine.engine()));
    media = std::make_unique<mrf::Mrf>(*app, mrf::MrfOptions{});
    return 0;
  });
  const auto& box = astmrf_test::sandbox();
  auto connecting = engine.run([&] {
    return media->async_connect(astmrf_test::sandbox_options(box.ari_port, box.sip_port), boost::asio::use_future);
  });
  auto server = connecting.get();
  std::vector<std::shared_ptr<void>> kept;
  engine.run([&] {
    app->invite([&, server](srf::Request req, srf::Response res) {
      log.add("invite over " + req.source().substr(0, req.source().find(':')));
      server->async_connect_caller(req, res, {}, [&](std::exception_ptr error, mrf::ConnectedCaller call) {
        log.add("connect_caller " + astmrf_test::describe(error));
        if (!call.endpoint) return;
        kept.push_back(call.endpoint);
        kept.push_back(call.dialog);
        call.endpoint->on_destroy(
            [&](mrf::EndpointEnd end) { log.add("endpoint " + std::string(mrf::to_string(end))); });
      });
    });
    return 0;
  });
  {
    BaresipPeer baresip({baresip_leaf.combined, pki.ca_file()});
    ASSERT_TRUE(
        baresip.command("dial", "sip:app@127.0.0.1:" + std::to_string(engine.port(Transport::tls)) + ";transport=tls"));
    EXPECT_NE(baresip.wait_event("CALL_ESTABLISHED", 20s), "") << baresip.output() << log.joined();
    EXPECT_TRUE(log.wait_for("invite over tls")) << log.joined();
    EXPECT_TRUE(log.wait_for("connect_caller ok")) << log.joined();
    std::this_thread::sleep_for(500ms);  // some audio both ways
    EXPECT_TRUE(baresip.command("hangup"));
    EXPECT_NE(baresip.wait_event("CALL_CLOSED"), "") << baresip.output();
    EXPECT_TRUE(log.wait_for("endpoint destroyed")) << log.joined();
  }
  // The leak check: nothing left on either side.
  astmrf_test::AriProbe probe = astmrf_test::AriProbe::for_sandbox();
  bool clean = false;
  std::string state;
  for (int i = 0; i < 250 && !clean; ++i) {
    state = engine.run([&] {
      return std::to_string(server->endpoints().size()) + " endpoints, " + std::to_string(server->bridges()) +
             " bridges, " + std::to_string(engine.engine().stats().dialogs) + " dialogs";
    });
    clean = state == "0 endpoints, 0 bridges, 0 dialogs" && astmrf_test::channels_of(probe, server->app()) == 0 &&
            astmrf_test::bridges_on_asterisk(probe) == 0;
    if (!clean) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(clean) << state;
  engine.run([&] {
    kept.clear();
    server->disconnect();
    media.reset();
    app.reset();
    return 0;
  });
}

}  // namespace
