// Dialogs and transactions as drachtio-server keeps them: the server owns the SIP
// state (Via, tags, CSeq, retransmissions, ACK of non-2xx, CANCEL answers); these
// objects only map it onto the SignalingBackend interface.
#include "backend_impl.hpp"
#include "sip_text.hpp"

#include <astmrf/sip/parser.hpp>

namespace astmrf::srf::drachtio {

namespace {

// Fields of `response|<appMsgId>|OK|application|bytes|transport|addr|port|time|txnId|...`.
constexpr std::size_t kVerdict = 3;
constexpr std::size_t kReason = 4;
constexpr std::size_t kSentTxnId = 10;

std::string tag_of(const sip::Message& message, bool to) {
  auto addr = to ? message.to() : message.from();
  return addr ? std::string(addr->tag) : std::string{};
}

}  // namespace

// ------------------------------------------------------------------ dialog

DrachtioDialog::DrachtioDialog(std::weak_ptr<DrachtioBackend> backend, std::weak_ptr<Connection> connection,
                               std::string id, Identity identity)
    : backend_(std::move(backend)),
      connection_(std::move(connection)),
      id_(std::move(id)),
      identity_(std::move(identity)) {}

std::shared_ptr<BackendClientTransaction> DrachtioDialog::request(RequestSpec spec, BackendResponseHandler handler) {
  if (terminated_) return nullptr;
  auto transaction = std::make_shared<DrachtioClientTransaction>(backend_, connection_, spec.method, "",
                                                                 std::move(handler), true, shared_from_this());
  auto connection = connection_.lock();
  std::string text = in_dialog_request(spec.method, spec.headers, spec.content_type, spec.body);
  if (!connection || !connection->send({"sip", "", id_}, std::move(text),
                                       [transaction](const wire::Frame* frame) { transaction->confirmed(frame); })) {
    transaction->fail_locally(503, "drachtio-server not connected");
  }
  return transaction;
}

void DrachtioDialog::bye(HeaderList headers) {
  if (terminated_) return;
  if (auto connection = connection_.lock()) {
    // Fire and forget: the dialog ends now; drachtio deals with the 200.
    connection->send({"sip", "", id_}, in_dialog_request("BYE", headers, {}, {}), nullptr);
  }
  end(DialogEndReason::local_bye);
}

void DrachtioDialog::ack(std::string content_type, std::string body) {
  if (terminated_) return;
  if (auto connection = connection_.lock()) {
    std::string text = in_dialog_request("ACK", {}, content_type, body);
    if (!ack_uri_.empty()) text.replace(4, std::string_view("sip:placeholder").size(), ack_uri_);
    connection->send({"sip", "", id_}, std::move(text), nullptr);
  }
}

void DrachtioDialog::acked(const sip::Message& ack) {
  acked_ = true;
  if (ack_handler_) {
    auto handler = ack_handler_;
    handler(ack);
  }
}

void DrachtioDialog::incoming(const std::shared_ptr<BackendServerTransaction>& transaction) {
  if (request_handler_) {
    auto handler = request_handler_;
    handler(transaction);
    return;
  }
  // As the engine: without a handler, 200 (and 488 to a re-INVITE).
  const bool invite = transaction->message().method() == "INVITE";
  transaction->respond(ResponseSpec{invite ? 488 : 200, {}, {}, {}, {}});
}

void DrachtioDialog::end(DialogEndReason reason) {
  if (terminated_) return;
  terminated_ = true;
  auto keep = shared_from_this();
  auto handler = std::move(end_handler_);
  end_handler_ = nullptr;
  request_handler_ = nullptr;
  ack_handler_ = nullptr;
  if (auto backend = backend_.lock()) backend->remove_dialog(id_);
  if (handler) handler(reason);
}

// ------------------------------------------------------------------ server transaction

DrachtioServerTransaction::DrachtioServerTransaction(std::weak_ptr<DrachtioBackend> backend,
                                                     std::weak_ptr<Connection> connection, std::string txn_id,
                                                     sip::Message message, std::string source,
                                                     std::shared_ptr<DrachtioDialog> dialog)
    : backend_(std::move(backend)),
      connection_(std::move(connection)),
      txn_id_(std::move(txn_id)),
      message_(std::move(message)),
      source_(std::move(source)),
      dialog_(std::move(dialog)) {}

void DrachtioServerTransaction::cancel_received() {
  if (cancelled_ || final_sent_) return;
  cancelled_ = true;
  final_sent_ = true;  // drachtio answered 487 itself
  if (auto backend = backend_.lock()) backend->remove_server_transaction(txn_id_);
  auto handler = std::move(cancel_handler_);
  cancel_handler_ = nullptr;
  if (handler) handler();
}

std::shared_ptr<BackendDialog> DrachtioServerTransaction::respond(ResponseSpec response) {
  if (final_sent_) return dialog_;
  const int status = response.status;
  std::string text = bare_response(message_, response);  // throws on header injection
  const bool creates_dialog = !dialog_ && message_.method() == "INVITE" && status >= 200 && status < 300;
  std::shared_ptr<DrachtioDialog> created;
  if (creates_dialog) {
    // drachtio's dialog id is known already: Call-ID;from-tag=<the caller's tag>.
    const std::string remote_tag = tag_of(message_, false);
    DrachtioDialog::Identity identity;
    identity.call_id = std::string(message_.call_id());
    identity.remote_tag = remote_tag;
    if (auto from = message_.from()) identity.remote_uri = std::string(from->uri_text);
    if (auto to = message_.to()) identity.local_uri = std::string(to->uri_text);
    created = std::make_shared<DrachtioDialog>(backend_, connection_, identity.call_id + ";from-tag=" + remote_tag,
                                               std::move(identity));
  }
  if (status >= 200) {
    final_sent_ = true;
    if (auto backend = backend_.lock()) backend->remove_server_transaction(txn_id_);
  }
  auto connection = connection_.lock();
  std::weak_ptr<DrachtioDialog> weak_dialog = created;
  const bool sent =
      connection && connection->send({"sip", txn_id_, ""}, std::move(text), [weak_dialog](const wire::Frame* frame) {
        auto dialog = weak_dialog.lock();
        if (!dialog) return;
        if (frame && frame->field(kVerdict) == "OK") {
          // The 2xx as sent carries our To-tag.
          sip::ParseOptions options;
          options.require_mandatory_headers = false;
          if (auto sent_message = sip::parse_message(frame->sip, options))
            dialog->set_local_tag(tag_of(*sent_message, true));
          return;
        }
        // Refused (e.g. the CANCEL won the race: "unknown transaction") or lost.
        dialog->end(DialogEndReason::cancelled);
      });
  if (!created) return dialog_;
  if (auto backend = backend_.lock()) backend->add_dialog(created);
  if (!sent) {
    auto backend = backend_.lock();
    if (backend) {
      backend->defer([created] { created->end(DialogEndReason::connection_lost); });
    }
  }
  return created;
}

// ------------------------------------------------------------------ client transaction

DrachtioClientTransaction::DrachtioClientTransaction(std::weak_ptr<DrachtioBackend> backend,
                                                     std::weak_ptr<Connection> connection, std::string method,
                                                     std::string uri, BackendResponseHandler handler, bool manual_ack,
                                                     std::shared_ptr<DrachtioDialog> dialog)
    : backend_(std::move(backend)),
      connection_(std::move(connection)),
      method_(std::move(method)),
      uri_(std::move(uri)),
      handler_(std::move(handler)),
      manual_ack_(manual_ack),
      in_dialog_(std::move(dialog)) {}

void DrachtioClientTransaction::confirmed(const wire::Frame* frame) {
  if (done_) return;
  if (!frame) return fail_locally(503, "connection to drachtio-server lost");
  if (frame->field(kVerdict) != "OK") return fail_locally(503, std::string(frame->field(kReason)));
  txn_id_ = std::string(frame->field(kSentTxnId));
  if (auto backend = backend_.lock()) backend->add_client_transaction(shared_from_this());
  if (cancel_requested_) send_cancel();
}

void DrachtioClientTransaction::cancel() {
  // Only an initial INVITE is cancelled (a re-INVITE runs to its final response).
  if (done_ || method_ != "INVITE" || in_dialog_ || cancel_requested_) return;
  cancel_requested_ = true;
  if (!txn_id_.empty()) send_cancel();
}

void DrachtioClientTransaction::send_cancel() {
  if (cancel_sent_) return;
  cancel_sent_ = true;
  if (auto connection = connection_.lock()) {
    // drachtio answers the 200 to the CANCEL itself; the 487 reaches response().
    connection->send({"sip", txn_id_, ""}, "CANCEL " + uri_ + " SIP/2.0\r\nContent-Length: 0\r\n\r\n", nullptr);
  }
}

void DrachtioClientTransaction::fail_locally(int status, const std::string& reason) {
  if (done_) return;
  done_ = true;
  local_failure_ = true;
  auto self = shared_from_this();
  auto backend = backend_.lock();
  if (backend && !txn_id_.empty()) backend->remove_client_transaction(txn_id_);
  auto handler = std::move(handler_);
  handler_ = nullptr;
  if (!handler) return;
  sip::Message message = local_response(status, reason, method_);
  auto deliver = [handler, message = std::move(message)] { handler(message, nullptr); };
  // Never inside the caller's send_request/request call.
  if (backend) {
    backend->defer(std::move(deliver));
  } else {
    deliver();
  }
}

void DrachtioClientTransaction::response(const sip::Message& message, const wire::Frame& frame) {
  if (done_) return;
  const int status = message.status();
  auto self = shared_from_this();
  std::shared_ptr<DrachtioDialog> dialog = in_dialog_;
  if (status >= 200) {
    done_ = true;
    if (auto backend = backend_.lock()) backend->remove_client_transaction(txn_id_);
    // drachtio made it up (e.g. unreachable: 0 bytes, no address).
    if (frame.field(3) == "0" && frame.field(5).empty()) local_failure_ = true;
  }
  if (method_ == "INVITE" && !in_dialog_ && status >= 200 && status < 300) {
    DrachtioDialog::Identity identity;
    identity.call_id = std::string(message.call_id());
    identity.local_tag = tag_of(message, false);
    identity.remote_tag = tag_of(message, true);
    if (auto from = message.from()) identity.local_uri = std::string(from->uri_text);
    if (auto to = message.to()) identity.remote_uri = std::string(to->uri_text);
    dialog = std::make_shared<DrachtioDialog>(backend_, connection_, std::string(frame.field(9)), std::move(identity));
    dialog->set_ack_uri(uri_);
    if (auto backend = backend_.lock()) backend->add_dialog(dialog);
    // The application ACKs a 2xx itself over drachtio (non-2xx: the server does).
    if (!manual_ack_) dialog->ack({}, {});
  } else if (method_ == "INVITE" && in_dialog_ && status >= 200 && status < 300) {
    in_dialog_->ack({}, {});  // the 2xx to our re-INVITE
  }
  auto handler = handler_;
  if (status >= 200) handler_ = nullptr;
  if (handler) handler(message, status >= 200 && status < 300 ? dialog : nullptr);
  // A 481 or 408 to an in-dialog request means the dialog is gone.
  if (in_dialog_ && (status == 481 || status == 408)) {
    in_dialog_->end(status == 481 ? DialogEndReason::remote_gone : DialogEndReason::request_timeout);
  }
}

}  // namespace astmrf::srf::drachtio
