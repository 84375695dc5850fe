// Srf as a UAC over drachtio-server: async_create_uac, in-dialog requests and
// CANCEL against the captured calls. drachtio-srf also sent an ACK for non-2xx
// finals (refused with NOK: the server ACKs those itself); Srf does not, so those
// captured frames are skipped.
#include "harness.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

namespace astmrf_test::drachtio {
namespace {

const std::string kCallee = "sip:test@127.0.0.1:5090";

asio::awaitable<void> play(ScriptedServer& server, const std::vector<CapturedFrame>& transcript, std::set<int> skip) {
  co_await server.accept();
  co_await server.replay(transcript, 1, 0, skip);
}
asio::awaitable<void> play(ScriptedServer& server, const std::vector<CapturedFrame>& transcript) {
  return play(server, transcript, std::set<int>{});
}

std::string body_of(const std::vector<CapturedFrame>& transcript, int index) {
  const std::string sip = sip_of(transcript.at(static_cast<std::size_t>(index - 1)));
  return sip.substr(sip.find("\r\n\r\n") + 4);
}

class DrachtioUac : public DrachtioScenario {
 protected:
  srf::UacOptions options_like_the_capture(const std::vector<CapturedFrame>& transcript) {
    srf::UacOptions options;
    options.local_sdp = body_of(transcript, 3);
    options.headers = {{"User-Agent", "drachtio"}};
    options.from = "sip:abc-uuid@localhost";
    return options;
  }

  asio::awaitable<void> call(srf::UacOptions options, bool send_info) {
    co_await backend->async_connect(asio::use_awaitable);  // no server, no call: a local 503
    std::string uri = kCallee;
    auto dialog = co_await app->async_create_uac(uri, options, asio::use_awaitable);
    dialogs.push_back(dialog);
    notes.push_back("remote tag " + std::string(dialog->remote_sdp().empty() ? "no sdp" : "sdp"));
    if (send_info) {
      std::string method = "INFO";
      srf::RequestOptions info{{}, "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"};
      auto response = co_await dialog->async_request(method, info, asio::use_awaitable);
      notes.push_back("INFO " + std::to_string(response.status()));
    }
    dialog->destroy();
  }

  asio::awaitable<void> call_then_cancel(srf::UacOptions options) {
    co_await backend->async_connect(asio::use_awaitable);
    std::string uri = kCallee;
    options.on_provisional = [this](const astmrf::sip::Message&) { cancel.emit(asio::cancellation_type::terminal); };
    auto token = asio::bind_cancellation_slot(cancel.slot(), asio::use_awaitable);
    auto dialog = co_await app->async_create_uac(uri, options, token);
    dialogs.push_back(dialog);
  }

  asio::cancellation_signal cancel;
};

TEST_F(DrachtioUac, CallThenHangUp) {
  const auto transcript = load_transcript("uac-invite-bye");
  make_app();
  spawn_app(call(options_like_the_capture(transcript), false));
  run(play(server, transcript), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  ASSERT_EQ(dialogs.size(), 1U);
  // The dialog's identity comes from drachtio's frames.
  EXPECT_EQ(dialogs[0]->call_id(), "2a354513-643a-1240-5eb7-b641734f23c4");
  EXPECT_EQ(dialogs[0]->id(), "2a354513-643a-1240-5eb7-b641734f23c4;from-tag=25Zjar29QcX6D");
  EXPECT_EQ(dialogs[0]->local_tag(), "25Zjar29QcX6D");
  EXPECT_EQ(dialogs[0]->remote_tag(), "31747SIPpTag011");
}

TEST_F(DrachtioUac, InfoInDialog) {
  const auto transcript = load_transcript("uac-invite-info-bye");
  make_app();
  spawn_app(call(options_like_the_capture(transcript), true));
  run(play(server, transcript), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  EXPECT_EQ(notes, (std::vector<std::string>{"remote tag sdp", "INFO 200"}));
}

TEST_F(DrachtioUac, CancelAfterRinging) {
  const auto transcript = load_transcript("uac-invite-cancel");
  make_app();
  spawn_app(call_then_cancel(options_like_the_capture(transcript)));
  run(play(server, transcript, {9, 10}), [&] { return outcomes.size() == 1; });
  // Cancelled through the token's slot: operation_aborted at once; the CANCEL still goes out.
  EXPECT_EQ(outcomes, std::vector<std::string>{"aborted"});
}

TEST_F(DrachtioUac, Rejected) {
  const auto transcript = load_transcript("uac-invite-reject-486");
  make_app();
  spawn_app(call(options_like_the_capture(transcript), false));
  run(play(server, transcript, {6, 7}), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"SipFailure 486"});
}

TEST_F(DrachtioUac, UnreachableIsALocalFailure) {
  const auto transcript = load_transcript("uac-invite-unreachable-503");
  make_app();
  spawn_app(call(options_like_the_capture(transcript), false));
  run(play(server, transcript, {6, 7}), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"SipFailure 503 local"});
}

asio::awaitable<void> call_now(srf::Srf& app, std::vector<std::string>& notes) {
  std::string uri = kCallee;
  srf::UacOptions options;
  try {
    auto dialog = co_await app.async_create_uac(uri, options, asio::use_awaitable);
  } catch (const srf::SipFailure& failure) {
    notes.push_back(std::to_string(failure.status()) + (failure.local() ? " local" : ""));
  }
}

// No drachtio-server connected: the call fails at once with a local 503, nothing waits.
TEST_F(DrachtioUac, NoServerIsALocal503) {
  make_app();
  spawn_app(call_now(*app, notes));
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (outcomes.empty() && ioc.run_one_until(deadline) > 0) {
  }
  EXPECT_EQ(notes, std::vector<std::string>{"503 local"});
}

// UacOptions::proxy cannot be honoured over drachtio: refused, not ignored.
TEST_F(DrachtioUac, ProxyOptionIsRefused) {
  make_app();
  bool refused = false;
  srf::UacOptions options;
  options.proxy = "udp:127.0.0.1:5060";
  app->async_create_uac(kCallee, options, [&](std::exception_ptr error, std::shared_ptr<srf::Dialog>) {
    refused = describe(error).find("not supported over drachtio") != std::string::npos;
  });
  ioc.run_for(1s);
  EXPECT_TRUE(refused);
}

}  // namespace
}  // namespace astmrf_test::drachtio
