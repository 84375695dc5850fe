// Server transactions (RFC 3261 17.2): INVITE and non-INVITE, retransmission of
// the last response over UDP, absorption of retransmitted requests, CANCEL.
#include "engine_core.hpp"
#include "timer_coalescing.hpp"

#include <astmrf/util/log.hpp>

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace astmrf::sip {

IncomingRequest::IncomingRequest(EngineKey /*key*/, std::weak_ptr<EngineCore> core, Message message, PeerAddress source)
    : core_(std::move(core)), message_(std::move(message)), source_(source) {}

IncomingRequest::~IncomingRequest() = default;

void IncomingRequest::on_cancel(std::function<void()> handler) { on_cancel_ = std::move(handler); }

std::shared_ptr<Dialog> IncomingRequest::respond(ResponseSpec response) {
  auto core = core_.lock();
  if (!core) return nullptr;
  return core->respond(*this, std::move(response));
}

std::shared_ptr<IncomingRequest> EngineCore::create_server_transaction(Message&& request, const PeerAddress& source,
                                                                       std::string key) {
  auto transaction = std::make_shared<IncomingRequest>(EngineKey{}, weak_from_this(), std::move(request), source);
  transaction->key_ = std::move(key);
  transaction->is_invite_ = transaction->message_.method_id() == MethodId::invite;
  transaction->timer_ = new_timer();
  insert_keyed(server_transactions_, transaction->key_, transaction);
  server_transactions_changed();
  ++pending_server_transactions_;
  return transaction;
}

bool EngineCore::absorb_retransmission(std::string_view key, const Message&) {
  auto it = server_transactions_.find(key);
  if (it == server_transactions_.end()) return false;
  auto& transaction = *it->second;
  count_retransmission_absorbed();
  if (!transaction.last_response_.empty()) {
    auto via = transaction.message_.top_via();
    if (via) {
      count_retransmission_sent();
      send(detail::response_destination(*via, transaction.source_), transaction.last_response_);
    }
  }
  return true;
}

void EngineCore::handle_cancel(Message&& cancel, const PeerAddress& source) {
  auto via = cancel.top_via();
  std::string invite_key;
  if (via->branch.starts_with("z9hG4bK")) {
    invite_key.append(via->branch).append("|").append(via->sent_by()).append("|INVITE");
  } else {
    auto from = cancel.from();
    auto cseq = cancel.cseq();
    invite_key.append("2543|").append(cancel.call_id()).append("|").append(from->tag).append("|");
    invite_key.append(std::to_string(cseq->number)).append("|INVITE");
  }
  auto it = server_transactions_.find(invite_key);
  std::shared_ptr<IncomingRequest> invite = it == server_transactions_.end() ? nullptr : it->second;

  std::string cancel_key;
  if (via->branch.starts_with("z9hG4bK")) {
    cancel_key.append(via->branch).append("|").append(via->sent_by()).append("|CANCEL");
  } else {
    cancel_key = invite_key.substr(0, invite_key.size() - 6) + "CANCEL";
  }
  auto transaction = create_server_transaction(std::move(cancel), source, std::move(cancel_key));
  if (!invite) {
    respond(*transaction, ResponseSpec{481, "Call/Transaction Does Not Exist", {}, {}, {}});
    return;
  }
  respond(*transaction, ResponseSpec{200, "OK", {}, {}, {}});
  if (invite->final_sent()) return;  // too late: the INVITE is already answered
  invite->cancelled_ = true;
  respond(*invite, ResponseSpec{487, "Request Terminated", {}, {}, {}});
  if (invite->on_cancel_) {
    auto handler = std::move(invite->on_cancel_);
    handler();
  }
}

void EngineCore::handle_ack_for_non2xx(IncomingRequest& transaction, const Message&) {
  if (transaction.confirmed_) {
    count_retransmission_absorbed();
    return;
  }
  transaction.confirmed_ = true;  // stops the retransmissions of timer G
  auto self = transaction.shared_from_this();
  // Timer I: absorb ACK retransmissions for T4 over UDP, none over TCP.
  auto wait = transaction.source_.transport == Transport::udp ? t4() : std::chrono::milliseconds(0);
  schedule_server_timer(self, std::chrono::milliseconds(0), Clock::now() + wait);
}

std::shared_ptr<Dialog> EngineCore::respond(IncomingRequest& transaction, ResponseSpec spec) {
  if (transaction.terminated_) return nullptr;
  if (transaction.final_sent()) {
    if (transaction.cancelled_) return nullptr;  // the CANCEL won the race; the caller got 487
    throw std::logic_error("a final response was already sent to this " + std::string(transaction.message_.method()));
  }
  if (spec.status < 100 || spec.status > 699) {
    throw std::invalid_argument("SIP status must be 100..699, not " + std::to_string(spec.status));
  }
  const bool dialog_creating = transaction.is_invite_ && spec.status >= 200 && spec.status < 300;
  // build_response parses the top Via anyway: it gives the destination too.
  std::optional<PeerAddress> destination;
  std::string wire = detail::build_response(
      transaction.message_, transaction.source_, spec, transaction.local_tag_, ids_,
      local_contact(transaction.source_.transport, transaction.source_.address), config_.user_agent, &destination);
  if (!destination) destination = detail::response_destination(*transaction.message_.top_via(), transaction.source_);
  count_response_sent(transaction.message_.method_id(), spec.status);
  send(*destination, wire);
  transaction.last_response_ = std::move(wire);

  std::shared_ptr<Dialog> dialog = transaction.dialog_.lock();
  if (spec.status < 200) return dialog;

  transaction.final_status_ = spec.status;
  --pending_server_transactions_;
  auto self = transaction.shared_from_this();
  const bool udp = transaction.source_.transport == Transport::udp;
  const auto timeout = 64 * t1();
  if (transaction.is_invite_) {
    if (dialog) dialog->incoming_invite_pending_ = false;  // a re-INVITE is answered
    if (dialog_creating) {
      if (!dialog) {
        dialog = create_uas_dialog(transaction, transaction.last_response_);
        transaction.dialog_ = dialog;
      } else if (auto contact = detail::first_contact_uri(transaction.message_, contacts_scratch_)) {
        dialog->remote_target_ = *contact;  // target refresh
      }
      auto cseq = transaction.message_.cseq();
      send_2xx_reliably(*dialog, transaction.last_response_, cseq ? cseq->number : 0);
      // "Accepted" (RFC 6026): absorb INVITE retransmissions (re-sending the 2xx).
      schedule_server_timer(self, std::chrono::milliseconds(0), Clock::now() + timeout);
    } else {
      // Completed: timer G retransmits over UDP until the ACK; timer H gives up.
      schedule_server_timer(self, udp ? t1() : std::chrono::milliseconds(0), Clock::now() + timeout);
    }
  } else {
    // Timer J: absorb request retransmissions for 64*T1 over UDP.
    schedule_server_timer(self, std::chrono::milliseconds(0),
                          Clock::now() + (udp ? timeout : std::chrono::milliseconds(0)));
  }
  return dialog;
}

void EngineCore::schedule_server_timer(const std::shared_ptr<IncomingRequest>& transaction,
                                       std::chrono::milliseconds interval, Clock::time_point deadline) {
  arm_transaction_timer(
      transaction, interval, deadline,
      [interval, deadline](EngineCore& core, const std::shared_ptr<IncomingRequest>& t, bool expired) {
        if (expired) {
          core.terminate(*t);
          return;
        }
        if (!t->confirmed_ && !t->last_response_.empty()) {
          auto via = t->message_.top_via();
          core.count_retransmission_sent();
          core.send(detail::response_destination(*via, t->source_), t->last_response_);
        }
        core.schedule_server_timer(t, std::min(2 * interval, core.t2()), deadline);
      });
}

// RFC 3261 17.2.1: a 100 Trying is owed only when the application has not responded within
// 200 ms. An INVITE answered sooner (the Mrf's, in a few ms) costs no 100: one message built,
// sent and received less per call. A response sent meanwhile re-arms or leaves the timer, and
// the check below then finds last_response_ set.
void EngineCore::schedule_trying(const std::shared_ptr<IncomingRequest>& transaction) {
  if (config_.timers.trying.count() <= 0) {
    respond(*transaction, ResponseSpec{100, "Trying", {}, {}, {}});
    return;
  }
  auto timer = timer_of(transaction->timer_);
  timer->expires_after(config_.timers.trying);
  timer->async_wait([weak = std::weak_ptr<IncomingRequest>(transaction)](boost::system::error_code ec) {
    auto t = weak.lock();
    if (ec || !t || t->terminated_ || !t->last_response_.empty()) return;
    if (auto core = t->core_.lock()) core->respond(*t, ResponseSpec{100, "Trying", {}, {}, {}});
  });
}

void EngineCore::terminate(IncomingRequest& transaction) {
  if (transaction.terminated_) return;
  transaction.terminated_ = true;
  if (transaction.final_status_ < 200 && pending_server_transactions_ > 0) --pending_server_transactions_;
  if (transaction.timer_) timer_of(transaction.timer_)->cancel();
  auto it = server_transactions_.find(transaction.key_);
  if (it != server_transactions_.end() && it->second.get() == &transaction) {
    server_transactions_.erase(it);
    server_transactions_changed();
  }
}

void EngineCore::deliver(const std::shared_ptr<IncomingRequest>& transaction,
                         const std::function<void(const std::shared_ptr<IncomingRequest>&)>& handler,
                         int default_status) {
  if (!handler) {
    respond(*transaction, ResponseSpec{default_status, {}, {}, {}, {}});
    return;
  }
  try {
    handler(transaction);
  } catch (const std::exception& e) {
    log_->warn("event=request_handler_failed call_id={} method={} error={}",
               util::quote(transaction->message_.call_id()), util::quote(transaction->message_.method()),
               util::quote(e.what()));
    // The peer must not wait on a transaction nobody will answer.
    if (!transaction->final_sent() && !transaction->terminated_) {
      respond(*transaction, ResponseSpec{500, "Server Internal Error", {}, {}, {}});
    }
  }
}

}  // namespace astmrf::sip
