// Srf as a UAS over drachtio-server: the captured calls replayed by a scripted
// server, answered by ordinary Srf code (Srf::invite, async_create_uas, Dialog).
#include "harness.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

namespace astmrf_test::drachtio {
namespace {

asio::awaitable<void> play(ScriptedServer& server, const std::vector<CapturedFrame>& transcript, int from, int to,
                           std::set<int> skip) {
  co_await server.accept();
  co_await server.replay(transcript, from, to, skip);
}
asio::awaitable<void> play(ScriptedServer& server, const std::vector<CapturedFrame>& transcript, int from = 1,
                           int to = 0) {
  return play(server, transcript, from, to, std::set<int>{});
}

/// The SDP body of a captured app frame: the application under test sends the same.
std::string body_of(const std::vector<CapturedFrame>& transcript, int index) {
  const std::string sip = sip_of(transcript.at(static_cast<std::size_t>(index - 1)));
  return sip.substr(sip.find("\r\n\r\n") + 4);
}

// The call up to the CANCEL; once the application has given up, an OPTIONS: the
// next frame from the application must be its answer (no late 200 in between).
asio::awaitable<void> cancel_then_probe(ScriptedServer& server, const std::vector<CapturedFrame>& transcript,
                                        const std::vector<std::string>& outcomes) {
  co_await play(server, transcript, 1, 6);
  asio::steady_timer tick(co_await asio::this_coro::executor);
  while (outcomes.empty()) {
    tick.expires_after(1ms);
    co_await tick.async_wait(asio::use_awaitable);
  }
  const auto options = load_transcript("uas-options");
  co_await server.replay(options, 7, 7);  // OPTIONS, txn 6036d747-...
  auto next = co_await server.read();
  EXPECT_EQ(next.field(2), "6036d747-408b-4529-8c4a-2bb7249286f9");
  EXPECT_TRUE(next.sip.starts_with("SIP/2.0 200 OK")) << next.sip;
}

// The INVITE, then the application's 200 crossing the CANCEL, then drachtio's NOK.
asio::awaitable<void> race(ScriptedServer& server, const std::vector<CapturedFrame>& transcript) {
  co_await play(server, transcript, 1, 5);
  auto answer = co_await server.read();
  EXPECT_EQ(answer.field(2), "5fe83e0a-8a51-4f3f-b598-126de87119ce");
  EXPECT_TRUE(answer.sip.starts_with("SIP/2.0 200 OK"));
  server.ids["f44f0126-8aba-4384-9944-70067132f712"] = std::string(answer.id());
  co_await server.replay(transcript, 6, 6);  // the CANCEL
  co_await server.replay(transcript, 8, 8);  // NOK: unknown transaction
}

class DrachtioUas : public DrachtioScenario {
 protected:
  /// Answers, then waits for the end of the call (or ends it: `hang_up`).
  asio::awaitable<void> answer(srf::Request req, srf::Response res, srf::UasOptions options, bool hang_up) {
    auto dialog = co_await app->async_create_uas(req, res, options, asio::use_awaitable);
    dialogs.push_back(dialog);
    if (hang_up) dialog->destroy();
    auto info = co_await dialog->async_wait_destroyed(asio::use_awaitable);
    notes.push_back("ended by " + std::string(srf::to_string(info.who)));
  }

  void answer_every_invite(const std::string& sdp, bool hang_up = false,
                           srf::HeaderList headers = {{"X-App", "ref-uas"}}) {
    app->invite([this, sdp, hang_up, headers](srf::Request req, srf::Response res) {
      spawn_app(answer(req, res, srf::UasOptions{sdp, headers}, hang_up));
    });
  }
};

TEST_F(DrachtioUas, AnswerThenCallerHangsUp) {
  const auto transcript = load_transcript("uas-invite-answer-bye");
  make_app();
  answer_every_invite(body_of(transcript, 6));
  run(play(server, transcript), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(connect_result, "ok");
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  EXPECT_EQ(notes, std::vector<std::string>{"ended by remote"});
  // The dialog's identity is drachtio's: its id, our tag from the 200 as sent.
  ASSERT_EQ(dialogs.size(), 1U);
  EXPECT_EQ(dialogs[0]->id(), "1-25391@127.0.0.1;from-tag=25391SIPpTag001");
  EXPECT_EQ(dialogs[0]->local_tag(), "SmvKt4aajvmyN");
  EXPECT_EQ(dialogs[0]->remote_tag(), "25391SIPpTag001");
}

TEST_F(DrachtioUas, RingThenAnswer) {
  const auto transcript = load_transcript("uas-invite-ring-answer-bye");
  make_app();
  const std::string sdp = body_of(transcript, 8);
  app->invite([this, sdp](srf::Request req, srf::Response res) {
    res.send(180, srf::ResponseOptions{{}, {{"X-Ring", "yes"}}, {}, {}});
    spawn_app(answer(req, res, srf::UasOptions{sdp, {{"X-App", "ref-uas"}}}, false));
  });
  run(play(server, transcript), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  EXPECT_EQ(notes, std::vector<std::string>{"ended by remote"});
}

TEST_F(DrachtioUas, ApplicationHangsUp) {
  const auto transcript = load_transcript("uas-answer-app-bye");
  make_app();
  answer_every_invite(body_of(transcript, 6), true);
  run(play(server, transcript), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  EXPECT_EQ(notes, std::vector<std::string>{"ended by local"});
}

TEST_F(DrachtioUas, Reject) {
  const auto transcript = load_transcript("uas-reject-486");
  make_app();
  app->invite([this](srf::Request, srf::Response res) {
    res.send(486, srf::ResponseOptions{{}, {{"X-Reason", "ref-test"}}, {}, {}});
    notes.push_back("rejected");
  });
  run(play(server, transcript), [&] { return notes.size() == 1; });
}

TEST_F(DrachtioUas, CallerCancels) {
  const auto transcript = load_transcript("uas-cancel");
  make_app();
  std::vector<srf::Request> held;  // an application holds the requests it has not answered yet
  app->invite([this, &held](srf::Request req, srf::Response) {
    held.push_back(req);
    req.on_cancel([this] { notes.push_back("cancelled"); });
  });
  run(play(server, transcript), [&] { return notes.size() == 1; });
  EXPECT_EQ(notes, std::vector<std::string>{"cancelled"});
}

// drachtio-srf sent its 200 after the CANCEL (and got NOK); Srf knows the caller
// got 487 already and sends nothing: the captured frames [7] and [8] never happen.
TEST_F(DrachtioUas, AnswerAfterCancelIsNotSent) {
  const auto transcript = load_transcript("uas-cancel-late-answer");
  make_app();
  app->invite([this](srf::Request req, srf::Response res) {
    req.on_cancel([this, req, res] { spawn_app(answer(req, res, srf::UasOptions{"v=0\r\n", {}}, false)); });
  });
  run(cancel_then_probe(server, transcript, outcomes), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"RequestCancelled"});
}

// The race the other way: the 200 is on its way when the CANCEL arrives, and
// drachtio refuses it. The dialog never comes up.
TEST_F(DrachtioUas, AnswerRacingTheCancelIsRefused) {
  const auto transcript = load_transcript("uas-cancel-late-answer");
  make_app();
  answer_every_invite(body_of(transcript, 7));
  run(race(server, transcript), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"DialogGone"});
}

TEST_F(DrachtioUas, InfoAndReinviteInDialog) {
  const auto transcript = load_transcript("uas-indialog-info-reinvite");
  make_app();
  answer_every_invite(body_of(transcript, 6));
  run(play(server, transcript), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  EXPECT_EQ(notes, std::vector<std::string>{"ended by remote"});
}

TEST_F(DrachtioUas, NoAckEndsTheCall) {
  const auto transcript = load_transcript("uas-answer-no-ack-server-bye");
  make_app();
  answer_every_invite(body_of(transcript, 6));
  run(play(server, transcript), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"AckTimeout"});
}

TEST_F(DrachtioUas, Options) {
  const auto transcript = load_transcript("uas-options");
  make_app();
  app->invite([](srf::Request, srf::Response res) { res.send(500); });
  app->options([this](srf::Request, srf::Response res) {
    res.send(200, srf::ResponseOptions{{}, {{"allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"}}, {}, {}});
    notes.push_back("options");
  });
  run(play(server, transcript), [&] { return notes.size() == 1; });
}

// A method handled only once the connection is up is routed then.
TEST_F(DrachtioUas, RouteAddedWhileConnected) {
  const auto transcript = load_transcript("uas-options");
  make_app();
  app->invite([](srf::Request, srf::Response res) { res.send(500); });
  backend->async_connect([this](std::exception_ptr error) {
    connect_result = describe(error);
    app->options([this](srf::Request, srf::Response res) {
      res.send(200, srf::ResponseOptions{{}, {{"allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"}}, {}, {}});
      notes.push_back("options");
    });
  });
  run(
      play(server, transcript), [&] { return notes.size() == 1; }, false);
  EXPECT_EQ(connect_result, "ok");
}

TEST_F(DrachtioUas, CallDetailRecords) {
  const auto transcript = load_transcript("uas-invite-answer-bye-with-cdr");
  dr::Options options;
  options.cdrs = true;
  make_app(options);
  std::vector<std::string> cdrs;
  backend->on_cdr([&](const dr::Cdr& cdr) { cdrs.push_back(cdr.type + " " + cdr.source + " " + cdr.extra); });
  answer_every_invite(body_of(transcript, 13));
  run(play(server, transcript), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  EXPECT_EQ(cdrs, (std::vector<std::string>{"cdr:attempt network ", "cdr:start application uas",
                                            "cdr:stop network normal-release"}));
}

}  // namespace
}  // namespace astmrf_test::drachtio
