// Transfer signaling over drachtio-server: REFER received (202 and the NOTIFYs go out
// as in-dialog requests), REFER sent (NOTIFYs answered, one before the 202) and
// INVITEs with Replaces. The captured calls set the dialogs up; the transfer frames
// are built from the wire facts (docs/drachtio.md, FIELD-NOTES): a server `sip`
// frame `sip|network|bytes|transport|addr|port|time|txnId|dialogId|`, a confirmation
// `response|appMsgId|OK|application|bytes|transport|addr|port|time|txnId|Msg sent:|`.
#include "harness.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

namespace astmrf_test::drachtio {
namespace {

std::string body_of(const std::vector<CapturedFrame>& transcript, int index) {
  const std::string sip = sip_of(transcript.at(static_cast<std::size_t>(index - 1)));
  return sip.substr(sip.find("\r\n\r\n") + 4);
}

/// Builds the frames drachtio-server would send.
class Frames {
 public:
  /// A SIP message from the network (a request, or a response to one of ours).
  std::string network(const std::string& txn, const std::string& dialog_id, const std::string& sip) {
    wire::Frame f;
    f.fields = {next_id(), "sip",       "network", std::to_string(sip.size()),
                "udp",     "127.0.0.1", "5070",    "12:00:00.000000",
                txn,       dialog_id,   ""};
    f.has_sip = true;
    f.sip = sip;
    return wire::encode(f);
  }
  /// The confirmation of the application's `sip` frame; `txn` is the id later responses carry.
  std::string sent(const wire::Frame& app_frame, const std::string& txn) {
    wire::Frame f;
    f.fields = {next_id(),   "response", std::string(app_frame.id()), "OK", "application", "0", "udp",
                "127.0.0.1", "5080",     "12:00:00.000000",           txn,  "Msg sent:",   ""};
    f.has_sip = true;
    f.sip = app_frame.sip;  // close enough: the application reads only the txnId (and tags of a 2xx)
    return wire::encode(f);
  }

 private:
  std::string next_id() { return "a0b1c2d3-0000-4000-8000-" + std::to_string(100000000000 + ++n_); }
  int n_{0};
};

std::string sipfrag_notify(const std::string& from, const std::string& to, const std::string& call_id, int cseq,
                           const std::string& state, const std::string& frag) {
  return "NOTIFY sip:127.0.0.1:5080 SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-n" +
         std::to_string(cseq) + ";rport=5070\r\nFrom: " + from + "\r\nTo: " + to + "\r\nCall-ID: " + call_id +
         "\r\nCSeq: " + std::to_string(cseq) +
         " NOTIFY\r\nContact: <sip:127.0.0.1:5070>\r\nEvent: refer\r\nSubscription-State: " + state +
         "\r\nContent-Type: message/sipfrag;version=2.0\r\nContent-Length: " + std::to_string(frag.size()) +
         "\r\n\r\n" + frag;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Waits (on the test's io_context) until `ready`: the application installs its dialog's
/// handlers once async_create_uas has completed, which is posted after the ACK.
asio::awaitable<void> until(std::function<bool()> ready) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  while (!ready()) {
    tick.expires_after(1ms);
    co_await tick.async_wait(asio::use_awaitable);
  }
}

// ------------------------------------------------------------------ REFER in

const std::string kUasDialog = "1-25391@127.0.0.1;from-tag=25391SIPpTag001";

// The captured call up to its ACK; a REFER from the caller; the application's 202 and
// NOTIFYs (100, then 200 once the first is answered); then the caller's BYE.
asio::awaitable<void> refer_in(ScriptedServer& server, const std::vector<CapturedFrame>& transcript, Frames& frames,
                               std::function<bool()> answered, std::function<bool()> notified) {
  co_await server.accept();
  co_await server.replay(transcript, 1, 8);
  co_await until(std::move(answered));
  const std::string refer =
      "REFER sip:test@127.0.0.1:5080 SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-refer;rport=5070\r\n"
      "From: sipp <sip:sipp@127.0.0.1:5070>;tag=25391SIPpTag001\r\n"
      "To: test <sip:test@127.0.0.1:5080>;tag=SmvKt4aajvmyN\r\n"
      "Call-ID: 1-25391@127.0.0.1\r\nCSeq: 2 REFER\r\nContact: sip:sipp@127.0.0.1:5070\r\n"
      "Refer-To: <sip:carol@example.com?Replaces=x%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>\r\n"
      "Referred-By: <sip:sipp@127.0.0.1:5070>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  co_await server.write(frames.network("txn-refer", kUasDialog, refer));

  auto accepted = co_await server.read();
  EXPECT_EQ(accepted.type(), "sip");
  EXPECT_EQ(accepted.field(2), "txn-refer");
  EXPECT_TRUE(accepted.sip.starts_with("SIP/2.0 202 Accepted\r\n")) << accepted.sip;
  EXPECT_TRUE(contains(accepted.sip, "cseq: 2 REFER")) << accepted.sip;
  co_await server.write(frames.sent(accepted, "txn-refer"));

  const std::vector<std::pair<std::string, std::string>> expected{
      {"active;expires=60", "SIP/2.0 100 Trying\r\n"}, {"terminated;reason=noresource", "SIP/2.0 200 OK\r\n"}};
  int cseq = 101;
  for (const auto& [state, frag] : expected) {
    auto notify = co_await server.read();
    EXPECT_EQ(notify.type(), "sip");
    EXPECT_EQ(notify.field(2), "");
    EXPECT_EQ(notify.field(3), kUasDialog);  // an in-dialog request
    EXPECT_TRUE(notify.sip.starts_with("NOTIFY sip:placeholder SIP/2.0\r\n")) << notify.sip;
    EXPECT_TRUE(contains(notify.sip, "Event: refer\r\n")) << notify.sip;
    EXPECT_TRUE(contains(notify.sip, "Subscription-State: " + state + "\r\n")) << notify.sip;
    EXPECT_TRUE(contains(notify.sip, "Content-Type: message/sipfrag;version=2.0\r\n")) << notify.sip;
    EXPECT_TRUE(notify.sip.ends_with("\r\n\r\n" + frag)) << notify.sip;
    const std::string txn = "txn-notify-" + std::to_string(cseq);
    co_await server.write(frames.sent(notify, txn));
    const std::string ok =
        "SIP/2.0 200 OK\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5080;rport;branch=z9hG4bK" +
        txn +
        "\r\n"
        "From: test <sip:test@127.0.0.1:5080>;tag=SmvKt4aajvmyN\r\n"
        "To: sipp <sip:sipp@127.0.0.1:5070>;tag=25391SIPpTag001\r\n"
        "Call-ID: 1-25391@127.0.0.1\r\nCSeq: " +
        std::to_string(cseq++) + " NOTIFY\r\nContent-Length: 0\r\n\r\n";
    co_await server.write(frames.network(txn, kUasDialog, ok));
  }
  co_await until(std::move(notified));        // the final NOTIFY's completion
  co_await server.replay(transcript, 9, 11);  // the caller hangs up
}

class DrachtioTransfer : public DrachtioScenario {
 protected:
  /// Answers like the capture; with `take_refer`, a REFER is accepted and completed with 200.
  asio::awaitable<void> answer(srf::Request req, srf::Response res, std::string sdp, bool take_refer) {
    srf::UasOptions options{sdp, {{"X-App", "ref-uas"}}};
    auto dialog = co_await app->async_create_uas(req, res, options, asio::use_awaitable);
    dialogs.push_back(dialog);
    std::weak_ptr<srf::Dialog> weak = dialog;
    if (take_refer) {
      dialog->on("REFER", [this, weak](srf::Request r, srf::Response a) {
        auto notifier = srf::accept_refer(weak.lock(), r, a);
        if (!notifier) return notes.push_back("refused");
        notes.push_back(
            "refer to " + notifier->refer_to().uri +
            (notifier->refer_to().replaces ? " replacing " + notifier->refer_to().replaces->call_id : std::string()));
        notes.push_back("referred by " + notifier->referred_by());
        notifier->async_notify(200, "OK", [this, notifier](std::exception_ptr error) {
          notes.push_back("final notify " + describe(error));
        });
      });
    }
    auto info = co_await dialog->async_wait_destroyed(asio::use_awaitable);
    if (take_refer) notes.push_back("ended by " + std::string(srf::to_string(info.who)));
  }

  /// Places the captured call, asks the callee to transfer to carol, hangs up.
  asio::awaitable<void> call_and_refer(std::string sdp, std::chrono::milliseconds timeout = 32s) {
    co_await backend->async_connect(asio::use_awaitable);
    srf::UacOptions options;
    options.local_sdp = sdp;
    options.headers = {{"User-Agent", "drachtio"}};
    options.from = "sip:abc-uuid@localhost";
    std::string uri = "sip:test@127.0.0.1:5090";
    auto dialog = co_await app->async_create_uac(uri, options, asio::use_awaitable);
    dialogs.push_back(dialog);
    srf::ReferOptions refer;
    refer.referred_by = "sip:abc-uuid@localhost";
    refer.on_progress = [this](int status, const std::string& reason) {
      notes.push_back("progress " + std::to_string(status) + " " + reason);
    };
    refer.timeout = timeout;
    std::string target = "sip:carol@example.com";
    try {
      auto outcome = co_await dialog->async_refer(target, refer, asio::use_awaitable);
      notes.push_back("outcome " + std::to_string(outcome.status) + " " + outcome.reason);
    } catch (...) {
      notes.push_back("refer failed: " + describe(std::current_exception()));
    }
    dialog->destroy();
  }

  Frames frames;
};

TEST_F(DrachtioTransfer, ReferInIsAcceptedAndNotified) {
  const auto transcript = load_transcript("uas-invite-answer-bye");
  make_app();
  const std::string sdp = body_of(transcript, 6);
  app->invite([this, sdp](srf::Request req, srf::Response res) { spawn_app(answer(req, res, sdp, true)); });
  run(refer_in(
          server, transcript, frames, [this] { return !dialogs.empty(); }, [this] { return notes.size() == 3; }),
      [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  EXPECT_EQ(notes,
            (std::vector<std::string>{"refer to sip:carol@example.com replacing x@h",
                                      "referred by <sip:sipp@127.0.0.1:5070>", "final notify ok", "ended by remote"}));
}

// ------------------------------------------------------------------ REFER out

const std::string kUacDialog = "2a354513-643a-1240-5eb7-b641734f23c4;from-tag=25Zjar29QcX6D";
const std::string kUacCallId = "2a354513-643a-1240-5eb7-b641734f23c4";
const std::string kCalleeTagged = "<sip:test@127.0.0.1:5090>;tag=31747SIPpTag011";
const std::string kUsTagged = "<sip:abc-uuid@127.0.0.1:5080>;tag=25Zjar29QcX6D";

// The captured call up to its ACK; the application's REFER; a NOTIFY 100 that overtakes
// the 202; the 202; the final NOTIFY; then the application's BYE as captured.
asio::awaitable<void> refer_out(ScriptedServer& server, const std::vector<CapturedFrame>& transcript, Frames& frames) {
  co_await server.accept();
  co_await server.replay(transcript, 1, 8);
  auto refer = co_await server.read();
  EXPECT_EQ(refer.field(3), kUacDialog);
  EXPECT_TRUE(refer.sip.starts_with("REFER sip:placeholder SIP/2.0\r\n")) << refer.sip;
  EXPECT_TRUE(contains(refer.sip, "Refer-To: <sip:carol@example.com>\r\n")) << refer.sip;
  EXPECT_TRUE(contains(refer.sip, "Referred-By: <sip:abc-uuid@localhost>\r\n")) << refer.sip;
  co_await server.write(frames.sent(refer, "txn-refer-out"));

  co_await server.write(frames.network(
      "txn-n1", kUacDialog,
      sipfrag_notify(kCalleeTagged, kUsTagged, kUacCallId, 1, "active;expires=60", "SIP/2.0 100 Trying\r\n")));
  auto ok1 = co_await server.read();
  EXPECT_EQ(ok1.field(2), "txn-n1");
  EXPECT_TRUE(ok1.sip.starts_with("SIP/2.0 200 OK\r\n")) << ok1.sip;
  co_await server.write(frames.sent(ok1, "txn-n1"));

  const std::string accepted =
      "SIP/2.0 202 Accepted\r\n"
      "Via: SIP/2.0/UDP 127.0.0.1:5080;rport;branch=z9hG4bKrefer\r\n"
      "From: " +
      kUsTagged + "\r\nTo: " + kCalleeTagged + "\r\nCall-ID: " + kUacCallId +
      "\r\nCSeq: 123294787 REFER\r\nContent-Length: 0\r\n\r\n";
  co_await server.write(frames.network("txn-refer-out", kUacDialog, accepted));

  co_await server.write(frames.network("txn-n2", kUacDialog,
                                       sipfrag_notify(kCalleeTagged, kUsTagged, kUacCallId, 2,
                                                      "terminated;reason=noresource", "SIP/2.0 180 Ringing\r\n")));
  auto ok2 = co_await server.read();
  EXPECT_EQ(ok2.field(2), "txn-n2");
  co_await server.write(frames.sent(ok2, "txn-n2"));
  // (A terminated subscription with a provisional sipfrag: the last status is the outcome.)
  co_await server.replay(transcript, 9, 11);  // the application hangs up
}

TEST_F(DrachtioTransfer, ReferOutHandlesNotifiesBeforeAndAfterThe202) {
  const auto transcript = load_transcript("uac-invite-bye");
  make_app();
  spawn_app(call_and_refer(body_of(transcript, 3)));
  run(refer_out(server, transcript, frames), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  EXPECT_EQ(notes, (std::vector<std::string>{"progress 100 Trying", "progress 180 Ringing", "outcome 180 Ringing"}));
}

// The REFER is accepted, and no NOTIFY ever says the subscription ended.
asio::awaitable<void> refer_out_silent(ScriptedServer& server, const std::vector<CapturedFrame>& transcript,
                                       Frames& frames) {
  co_await server.accept();
  co_await server.replay(transcript, 1, 8);
  auto refer = co_await server.read();
  EXPECT_TRUE(refer.sip.starts_with("REFER sip:placeholder SIP/2.0\r\n")) << refer.sip;
  co_await server.write(frames.sent(refer, "txn-refer-silent"));
  const std::string accepted =
      "SIP/2.0 202 Accepted\r\n"
      "Via: SIP/2.0/UDP 127.0.0.1:5080;rport;branch=z9hG4bKrefer\r\n"
      "From: " +
      kUsTagged + "\r\nTo: " + kCalleeTagged + "\r\nCall-ID: " + kUacCallId +
      "\r\nCSeq: 123294787 REFER\r\nContent-Length: 0\r\n\r\n";
  co_await server.write(frames.network("txn-refer-silent", kUacDialog, accepted));
  co_await server.replay(transcript, 9, 11);  // the application gives up and hangs up
}

TEST_F(DrachtioTransfer, ReferOutTimesOutWithoutAFinalNotify) {
  const auto transcript = load_transcript("uac-invite-bye");
  make_app();
  spawn_app(call_and_refer(body_of(transcript, 3), 200ms));
  run(refer_out_silent(server, transcript, frames), [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
  EXPECT_EQ(notes, std::vector<std::string>{"refer failed: SipFailure 408 local"});
}

// ------------------------------------------------------------------ Replaces

std::string invite_with_replaces(const std::string& replaces) {
  return "INVITE sip:test@127.0.0.1:5080 SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 127.0.0.1:5072;branch=z9hG4bK-replacing;rport=5072\r\n"
         "From: carol <sip:carol@127.0.0.1:5072>;tag=carol1\r\n"
         "To: test <sip:test@127.0.0.1:5080>\r\n"
         "Call-ID: replacing-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: sip:carol@127.0.0.1:5072\r\n"
         "Replaces: " +
         replaces + "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
}

asio::awaitable<void> replaces_refused(ScriptedServer& server, const std::vector<CapturedFrame>& transcript,
                                       Frames& frames, std::string replaces, int from, int to, std::string expected,
                                       bool hang_up) {
  co_await server.accept();
  co_await server.replay(transcript, from, to);
  co_await server.write(frames.network("txn-replacing", "", invite_with_replaces(replaces)));
  auto answer = co_await server.read();
  EXPECT_EQ(answer.field(2), "txn-replacing");
  EXPECT_TRUE(answer.sip.starts_with(expected)) << answer.sip;
  co_await server.write(frames.sent(answer, "txn-replacing"));
  if (hang_up) co_await server.replay(transcript, 9, 11);
}

TEST_F(DrachtioTransfer, ReplacesMatchingNoDialogGets481) {
  const auto transcript = load_transcript("uas-invite-answer-bye");
  make_app();
  app->invite([this](srf::Request, srf::Response res) {
    notes.push_back("invite handler");
    res.send(500);
  });
  app->replaces([this](srf::Request, srf::Response res) {
    notes.push_back("replaces handler");
    res.send(500);
  });
  bool done = false;
  auto script = [&]() -> asio::awaitable<void> {
    co_await replaces_refused(server, transcript, frames, "nosuch@h;to-tag=a;from-tag=b", 1, 4,
                              "SIP/2.0 481 Call/Transaction Does Not Exist\r\n", false);
    done = true;
  };
  run(script(), [&] { return done; });
  EXPECT_TRUE(notes.empty());
}

// Over drachtio our tag is known only from the 2xx as sent: the match still finds the dialog.
TEST_F(DrachtioTransfer, ReplacesMatchingAnAnsweredCallWithoutAHandlerGets420) {
  const auto transcript = load_transcript("uas-invite-answer-bye");
  make_app();
  const std::string sdp = body_of(transcript, 6);
  app->invite([this, sdp](srf::Request req, srf::Response res) { spawn_app(answer(req, res, sdp, false)); });
  run(replaces_refused(server, transcript, frames, "1-25391@127.0.0.1;to-tag=SmvKt4aajvmyN;from-tag=25391SIPpTag001", 1,
                       8, "SIP/2.0 420 Bad Extension\r\n", true),
      [&] { return outcomes.size() == 1; });
  EXPECT_EQ(outcomes, std::vector<std::string>{"ok"});
}

}  // namespace
}  // namespace astmrf_test::drachtio
