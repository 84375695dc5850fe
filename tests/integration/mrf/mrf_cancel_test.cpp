// Cancelling Mrf operations through the completion token's cancellation slot (issue 14),
// right after the start and while the setup waits for Asterisk (at its StasisStart, with
// the answer and the 200 OK still to come). Each operation completes once, with
// operation_aborted; the caller of connect_caller gets 487; nothing is left on Asterisk.
#include "astmrf_test/ari_probe.hpp"
#include "astmrf_test/sandbox.hpp"
#include "astmrf_test/sipp.hpp"
#include "mrf_support.hpp"

#include <astmrf/mrf/mrf.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace mrf = astmrf::mrf;
namespace srf = astmrf::srf;
namespace ari = astmrf::ari;
using astmrf::sip::Transport;
using astmrf_test::channels_of;

std::string outcome(std::exception_ptr error) {
  if (!error) return "ok";
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    if (e.code() == asio::error::operation_aborted) return "aborted";
  } catch (...) {
  }
  return astmrf_test::describe(error);
}

enum class When { at_once, at_stasis_start };

class MrfCancelBase : public astmrf_test::MrfFixture {
 protected:
  MrfCancelBase() {
    server = connect(astmrf_test::sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port));
  }

  ~MrfCancelBase() override {
    expect_nothing_left(server, probe);
    harness.run([&] {
      stasis.reset();
      held.clear();
      server.reset();
      return 0;
    });
  }

  // Emits `signal` at once, or when a channel of the server enters Stasis (engine thread only).
  void cancel_at(When when, const std::shared_ptr<asio::cancellation_signal>& signal) {
    if (when == When::at_once) {
      signal->emit(asio::cancellation_type::terminal);
      return;
    }
    stasis = server->ari().on_event(ari::EventType::stasis_start,
                                    [signal](const ari::Event&) { signal->emit(asio::cancellation_type::terminal); });
  }

  // How many completions `prefix` logged, after a pause that would let a second one in.
  std::size_t completions(const std::string& prefix) {
    std::this_thread::sleep_for(300ms);
    auto events = log.events();
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [&](const std::string& e) { return e.rfind(prefix, 0) == 0; }));
  }

  astmrf_test::AriProbe probe = astmrf_test::AriProbe::for_sandbox();
  std::shared_ptr<mrf::MediaServer> server;
  ari::Subscription stasis;
};

class MrfCancelTest : public MrfCancelBase, public testing::WithParamInterface<When> {};
using MrfWaitCancelTest = MrfCancelBase;

TEST_P(MrfCancelTest, CreateEndpoint) {
  auto signal = std::make_shared<asio::cancellation_signal>();
  harness.run([&] {
    held.push_back(signal);
    server->async_create_endpoint(
        {},
        asio::bind_cancellation_slot(signal->slot(), [&](std::exception_ptr error, std::shared_ptr<mrf::Endpoint> e) {
          log.add("create_endpoint " + outcome(error));
          if (e) held.push_back(e);
        }));
    cancel_at(GetParam(), signal);
    return 0;
  });
  EXPECT_TRUE(log.wait_for("create_endpoint aborted")) << log.joined();
  EXPECT_EQ(completions("create_endpoint"), 1u) << log.joined();
}

TEST_P(MrfCancelTest, ConnectCaller) {
  auto signal = std::make_shared<asio::cancellation_signal>();
  harness.run([&] {
    held.push_back(signal);
    app->invite([&, signal](srf::Request req, srf::Response res) {
      server->async_connect_caller(
          req, res, {},
          asio::bind_cancellation_slot(signal->slot(), [&](std::exception_ptr error, mrf::ConnectedCaller call) {
            log.add("connect_caller " + outcome(error));
            if (call.endpoint) held.push_back(call.endpoint);
            if (call.dialog) held.push_back(call.dialog);
          }));
      cancel_at(GetParam(), signal);
    });
    return 0;
  });
  astmrf_test::SippCall call;
  call.scenario = std::string(MRF_SIPP_DIR) + "/uac-invite-487.xml";
  call.remote = harness.address(Transport::udp);
  auto result = astmrf_test::run_sipp(call);
  EXPECT_EQ(result.exit_code, 0) << result.output;  // the caller got 487
  EXPECT_TRUE(log.wait_for("connect_caller aborted")) << log.joined();
  EXPECT_EQ(completions("connect_caller"), 1u) << log.joined();
}

TEST_F(MrfWaitCancelTest, WaitDestroyedEndsTheWaitOnly) {
  auto endpoint = harness.run([&] { return server->async_create_endpoint({}, asio::use_future); }).get();
  ASSERT_TRUE(endpoint);
  asio::cancellation_signal signal;
  harness.run([&] {
    endpoint->async_wait_destroyed(asio::bind_cancellation_slot(
        signal.slot(), [&](std::exception_ptr error, mrf::EndpointEnd) { log.add("wait " + outcome(error)); }));
    signal.emit(asio::cancellation_type::terminal);
    return 0;
  });
  EXPECT_TRUE(log.wait_for("wait aborted")) << log.joined();
  EXPECT_FALSE(harness.run([&] { return endpoint->destroyed(); }));  // the endpoint stays up
  EXPECT_EQ(channels_of(probe, server->app()), 1u);
  harness.run([&] {
    endpoint->destroy();
    endpoint.reset();
    return 0;
  });
  EXPECT_EQ(completions("wait"), 1u) << log.joined();
}

INSTANTIATE_TEST_SUITE_P(Steps, MrfCancelTest, testing::Values(When::at_once, When::at_stasis_start),
                         [](const testing::TestParamInfo<When>& param_info) {
                           return param_info.param == When::at_once ? std::string("AtOnce")
                                                                    : std::string("AtStasisStart");
                         });

using MrfConnectCancelTest = astmrf_test::MrfFixture;

TEST_F(MrfConnectCancelTest, ConnectCancelledAtOnceLeavesNoServer) {
  auto options = astmrf_test::sandbox_options(astmrf_test::sandbox().ari_port, astmrf_test::sandbox().sip_port);
  asio::cancellation_signal signal;
  harness.run([&] {
    media->async_connect(options, asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr error, auto s) {
                           log.add("connect " + outcome(error) + (s ? " with a server" : ""));
                         }));
    signal.emit(asio::cancellation_type::terminal);
    return 0;
  });
  EXPECT_TRUE(log.wait_for("connect aborted")) << log.joined();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(log.events().size(), 1u) << log.joined();
  EXPECT_EQ(harness.run([&] { return media->media_servers().size(); }), 0u);
}

}  // namespace
