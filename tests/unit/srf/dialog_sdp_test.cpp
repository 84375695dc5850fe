// srf::Dialog's record of both SDPs across incoming re-offers: whoever answers a
// re-INVITE (or UPDATE), a 2xx makes its offer the remote SDP and the 2xx's body the
// local SDP; a rejection changes neither; an offerless re-INVITE takes the peer's
// answer from the ACK. Driven through a scripted backend dialog (no network).
#include "scripted_transaction.hpp"
#include "server_state.hpp"

#include <astmrf/sip/parser.hpp>
#include <astmrf/srf/dialog.hpp>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

namespace srf = astmrf::srf;
namespace sip = astmrf::sip;

astmrf::sip::Message message(const std::string& method, const std::string& body) {
  std::string text = method +
                     " sip:app@127.0.0.1 SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1\r\n"
                     "From: <sip:a@127.0.0.1>;tag=a\r\n"
                     "To: <sip:b@127.0.0.1>;tag=b\r\n"
                     "Call-ID: dialog-sdp-test\r\n"
                     "CSeq: 2 " +
                     method + "\r\n";
  if (!body.empty()) text += "Content-Type: application/sdp\r\n";
  text += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  auto parsed = sip::parse_message(text);
  if (!parsed) throw std::runtime_error("test message: " + parsed.error().message());
  return std::move(*parsed);
}

using astmrf_test::ScriptedTransaction;

class ScriptedDialog : public srf::BackendDialog {
 public:
  [[nodiscard]] std::string id() const override { return "dialog-sdp-test;a;b"; }
  [[nodiscard]] std::string call_id() const override { return "dialog-sdp-test"; }
  [[nodiscard]] std::string local_tag() const override { return "b"; }
  [[nodiscard]] std::string remote_tag() const override { return "a"; }
  [[nodiscard]] std::string local_uri() const override { return "sip:b@127.0.0.1"; }
  [[nodiscard]] std::string remote_uri() const override { return "sip:a@127.0.0.1"; }
  [[nodiscard]] bool terminated() const override { return terminated_; }
  void on_request(srf::BackendRequestHandler handler) override { request_ = std::move(handler); }
  void on_ack(std::function<void(const sip::Message&)> handler) override { ack_ = std::move(handler); }
  void on_end(std::function<void(srf::DialogEndReason)>) override {}
  std::shared_ptr<srf::BackendClientTransaction> request(srf::RequestSpec, srf::BackendResponseHandler) override {
    return nullptr;
  }
  void bye(srf::HeaderList) override { terminated_ = true; }
  void ack(std::string, std::string) override {}

  // The peer sends `method` with `body`; returns its transaction.
  std::shared_ptr<ScriptedTransaction> receive(const std::string& method, const std::string& body) {
    auto t = std::make_shared<ScriptedTransaction>(message(method, body));
    request_(t);
    return t;
  }
  void receive_ack(const std::string& body) { ack_(message("ACK", body)); }

 private:
  srf::BackendRequestHandler request_;
  std::function<void(const sip::Message&)> ack_;
  bool terminated_{false};
};

class DialogSdp : public ::testing::Test {
 protected:
  DialogSdp() {
    dialog = srf::detail::Access::dialog(backend, srf::Dialog::Role::uas, "local-0", "remote-0", ioc.get_executor());
    srf::detail::Access::attach(*dialog);
  }
  ~DialogSdp() override { dialog->destroy(); }

  boost::asio::io_context ioc;
  std::shared_ptr<ScriptedDialog> backend = std::make_shared<ScriptedDialog>();
  std::shared_ptr<srf::Dialog> dialog;
};

TEST_F(DialogSdp, TheHandlersAnswerBecomesTheLocalSdp) {
  dialog->on_modify([](srf::Request, srf::Response res) {
    res.send(200, srf::ResponseOptions{{}, {}, "application/sdp", "answer-1"});
  });
  auto t = backend->receive("INVITE", "offer-1");
  ASSERT_EQ(t->responses.back().status, 200);
  EXPECT_EQ(dialog->remote_sdp(), "offer-1");
  EXPECT_EQ(dialog->local_sdp(), "answer-1");
}

TEST_F(DialogSdp, ALaterAnswerIsRecordedWhenItIsSent) {
  std::optional<srf::Response> pending;
  dialog->on_modify([&](srf::Request, srf::Response res) { pending = res; });
  backend->receive("INVITE", "offer-1");
  EXPECT_EQ(dialog->remote_sdp(), "remote-0");  // not accepted yet
  EXPECT_EQ(dialog->local_sdp(), "local-0");
  pending->send(200, srf::ResponseOptions{{}, {}, "application/sdp", "answer-1"});
  EXPECT_EQ(dialog->remote_sdp(), "offer-1");
  EXPECT_EQ(dialog->local_sdp(), "answer-1");
}

TEST_F(DialogSdp, ARejectedOfferChangesNothing) {
  dialog->on_modify([](srf::Request, srf::Response res) { res.send(488); });
  auto t = backend->receive("INVITE", "offer-1");
  ASSERT_EQ(t->responses.back().status, 488);
  EXPECT_EQ(dialog->remote_sdp(), "remote-0");
  EXPECT_EQ(dialog->local_sdp(), "local-0");
}

TEST_F(DialogSdp, WithoutAHandlerTheCurrentSdpAnswers) {
  auto t = backend->receive("INVITE", "offer-1");
  ASSERT_EQ(t->responses.back().status, 200);
  EXPECT_EQ(t->responses.back().body, "local-0");
  EXPECT_EQ(dialog->remote_sdp(), "offer-1");
  EXPECT_EQ(dialog->local_sdp(), "local-0");
}

TEST_F(DialogSdp, AnOfferlessReInviteTakesTheAnswerFromTheAck) {
  dialog->on_modify([](srf::Request, srf::Response res) {
    res.send(200, srf::ResponseOptions{{}, {}, "application/sdp", "offer-in-2xx"});
  });
  backend->receive("INVITE", "");
  EXPECT_EQ(dialog->local_sdp(), "offer-in-2xx");
  EXPECT_EQ(dialog->remote_sdp(), "remote-0");
  backend->receive_ack("answer-in-ack");
  EXPECT_EQ(dialog->remote_sdp(), "answer-in-ack");
}

TEST_F(DialogSdp, AnUpdateWithAnOfferIsAnsweredAndRecorded) {
  auto t = backend->receive("UPDATE", "offer-u");
  ASSERT_EQ(t->responses.back().status, 200);
  EXPECT_EQ(t->responses.back().body, "local-0");  // an offer needs an answer
  EXPECT_EQ(dialog->remote_sdp(), "offer-u");
  dialog->on("UPDATE", [](srf::Request, srf::Response res) {
    res.send(200, srf::ResponseOptions{{}, {}, "application/sdp", "answer-u"});
  });
  backend->receive("UPDATE", "offer-u2");
  EXPECT_EQ(dialog->remote_sdp(), "offer-u2");
  EXPECT_EQ(dialog->local_sdp(), "answer-u");
  auto plain = backend->receive("UPDATE", "");  // a refresh without SDP changes nothing
  EXPECT_EQ(plain->responses.back().status, 200);
  EXPECT_EQ(dialog->remote_sdp(), "offer-u2");
}

}  // namespace
