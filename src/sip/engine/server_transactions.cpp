// Server transactions (RFC 3261 17.2): INVITE and non-INVITE, retransmission of
// the last response over UDP, absorption of retransmitted requests, CANCEL.
#include "engine_core.hpp"
#include "timer_coalescing.hpp"

#include <astmrf/util/log.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace astmrf::sip {

IncomingRequest::IncomingRequest(EngineKey /*key*/, std::weak_ptr<EngineCore> core, Message message, PeerAddress source)
    : core_(std::move(core)), message_(std::move(message)), source_(source) {}

IncomingRequest::~IncomingRequest() = default;

void IncomingRequest::on_cancel(std::function<void()> handler) { on_cancel_ = std::move(handler); }
void IncomingRequest::on_prack(std::function<void(const Message&)> handler) { on_prack_ = std::move(handler); }

namespace {

// Whether a Require/Supported header of `message` lists `option` (unparsable: no).
bool lists_option(const Message& message, HeaderId id, std::string_view option) {
  auto tokens = id == HeaderId::require ? message.require() : message.supported();
  if (!tokens) return false;
  return std::any_of(tokens->begin(), tokens->end(), [&](std::string_view token) { return iequals(token, option); });
}

bool header_lists(const HeaderList& headers, std::string_view name, std::string_view option) {
  for (const auto& [n, v] : headers) {
    if (!iequals(n, name)) continue;
    if (v.find(option) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

bool IncomingRequest::supports_100rel() const {
  return is_invite_ &&
         (lists_option(message_, HeaderId::supported, "100rel") || lists_option(message_, HeaderId::require, "100rel"));
}

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
  // A held 2xx is not sent yet: the reliable provisional is the last response on the wire.
  const std::string& last = transaction.held_2xx_ ? transaction.reliable_wire_ : transaction.last_response_;
  if (!last.empty()) {
    auto via = transaction.message_.top_via();
    if (via) {
      count_retransmission_sent();
      send(detail::response_destination(*via, transaction.source_), last);
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
    // The CANCEL won the race (the caller got 487), or no PRACK came (500).
    if (transaction.cancelled_ || transaction.prack_failed_) return nullptr;
    throw std::logic_error("a final response was already sent to this " + std::string(transaction.message_.method()));
  }
  if (spec.status < 100 || spec.status > 699) {
    throw std::invalid_argument("SIP status must be 100..699, not " + std::to_string(spec.status));
  }
  if (transaction.is_invite_ && spec.status > 100 && spec.status < 200 && reliable_wanted(transaction, spec)) {
    send_reliable(transaction, std::move(spec));
    return transaction.dialog_.lock();
  }
  const bool dialog_creating = transaction.is_invite_ && spec.status >= 200 && spec.status < 300;
  // RFC 3262 3: no 2xx before the PRACK of a reliable provisional that carried a body.
  const bool hold = dialog_creating && !transaction.reliable_wire_.empty() && transaction.reliable_has_body_;
  // build_response parses the top Via anyway: it gives the destination too.
  std::optional<PeerAddress> destination;
  std::string wire = detail::build_response(
      transaction.message_, transaction.source_, spec, transaction.local_tag_, ids_,
      local_contact(transaction.source_.transport, transaction.source_.address), config_.user_agent, &destination);
  if (!destination) destination = detail::response_destination(*transaction.message_.top_via(), transaction.source_);
  if (!hold) {
    count_response_sent(transaction.message_.method_id(), spec.status);
    send(*destination, wire);
  }
  transaction.last_response_ = std::move(wire);

  std::shared_ptr<Dialog> dialog = transaction.dialog_.lock();
  if (spec.status < 200) return dialog;
  if (!hold && !transaction.early_key_.empty()) {
    // The final ends the early dialog: reliable provisionals still pending are dropped.
    transaction.reliable_wire_.clear();
    transaction.reliable_queue_.clear();
    if (transaction.prack_timer_) timer_of(transaction.prack_timer_)->cancel();
    forget_early(transaction);
    leave_early(transaction.early_dialog_);
  }
  transaction.held_2xx_ = hold;

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
      if (hold) return dialog;  // handle_prack sends it
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
  if (transaction.prack_timer_) timer_of(transaction.prack_timer_)->cancel();
  forget_early(transaction);
  if (transaction.early_dialog_ && transaction.early_dialog_->early_) leave_early(transaction.early_dialog_);
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

// ---- RFC 3262, UAS side

bool EngineCore::reliable_wanted(const IncomingRequest& transaction, ResponseSpec& spec) const {
  const bool asked = header_lists(spec.headers, "Require", "100rel");
  if (lists_option(transaction.message_, HeaderId::require, "100rel")) {
    if (!asked) spec.headers.emplace_back("Require", "100rel");
    return true;
  }
  if (!asked) return false;
  if (lists_option(transaction.message_, HeaderId::supported, "100rel")) return true;
  // The caller cannot PRACK: the provisional goes unreliably, without the Require.
  std::erase_if(spec.headers, [](const auto& h) {
    return h.first.size() == 7 && (h.first[0] == 'R' || h.first[0] == 'r') &&
           h.second.find("100rel") != std::string::npos;
  });
  return false;
}

void EngineCore::send_reliable(IncomingRequest& transaction, ResponseSpec spec) {
  if (!transaction.reliable_wire_.empty()) {  // one unacknowledged at a time (RFC 3262 3)
    transaction.reliable_queue_.push_back(std::move(spec));
    return;
  }
  transaction.rseq_ = transaction.rseq_ == 0
                          ? static_cast<std::uint32_t>(std::stoul(ids_.tag().substr(0, 7), nullptr, 16)) + 1
                          : transaction.rseq_ + 1;
  spec.headers.emplace_back("RSeq", std::to_string(transaction.rseq_));
  transaction.reliable_has_body_ = !spec.body.empty();
  std::optional<PeerAddress> destination;
  transaction.reliable_wire_ = detail::build_response(
      transaction.message_, transaction.source_, spec, transaction.local_tag_, ids_,
      local_contact(transaction.source_.transport, transaction.source_.address), config_.user_agent, &destination);
  if (!destination) destination = detail::response_destination(*transaction.message_.top_via(), transaction.source_);
  count_response_sent(transaction.message_.method_id(), spec.status);
  send(*destination, transaction.reliable_wire_);
  transaction.last_response_ = transaction.reliable_wire_;
  if (transaction.early_key_.empty()) {
    if (!transaction.early_dialog_) {
      transaction.early_dialog_ = create_uas_dialog(transaction, {}, false);
      enter_early(transaction.early_dialog_);
    }
    transaction.early_key_.append(transaction.message_.call_id()).append("|").append(transaction.local_tag_);
    early_uas_[transaction.early_key_] = transaction.weak_from_this();
  }
  if (!transaction.prack_timer_) transaction.prack_timer_ = new_timer();
  // Retransmitted over every transport (RFC 3262 3: the UAS's own reliability), T1 doubling.
  schedule_reliable(transaction.shared_from_this(), t1(), Clock::now() + 64 * t1());
}

void EngineCore::schedule_reliable(const std::shared_ptr<IncomingRequest>& transaction,
                                   std::chrono::milliseconds interval, Clock::time_point deadline) {
  auto timer = timer_of(transaction->prack_timer_);
  timer->expires_at(std::min(deadline, Clock::now() + interval));
  timer->async_wait(
      [weak = std::weak_ptr<IncomingRequest>(transaction), interval, deadline](boost::system::error_code ec) {
        auto t = weak.lock();
        if (ec || !t || t->terminated_ || t->reliable_wire_.empty()) return;
        auto core = t->core_.lock();
        if (!core) return;
        if (Clock::now() >= deadline) {
          core->reliable_timed_out(*t);
          return;
        }
        core->count_retransmission_sent();
        core->send(detail::response_destination(*t->message_.top_via(), t->source_), t->reliable_wire_);
        core->schedule_reliable(t, 2 * interval, deadline);
      });
}

void EngineCore::reliable_timed_out(IncomingRequest& transaction) {
  log_->info("event=sip_prack_timeout call_id={} rseq={}", util::quote(transaction.message_.call_id()),
             transaction.rseq_);
  transaction.reliable_wire_.clear();
  transaction.reliable_queue_.clear();
  auto self = transaction.shared_from_this();
  std::shared_ptr<Dialog> held = transaction.held_2xx_ ? transaction.dialog_.lock() : nullptr;
  if (held) {
    // The 2xx never went out: answer 500 instead and end its dialog.
    transaction.held_2xx_ = false;
    transaction.final_status_ = 0;
    ++pending_server_transactions_;
  }
  if (!transaction.final_sent()) {
    respond(transaction, ResponseSpec{500, "Reliable Provisional Response Not Acknowledged", {}, {}, {}});
  }
  transaction.prack_failed_ = true;
  if (held) end(*held, DialogEndReason::no_ack);
}

void EngineCore::forget_early(IncomingRequest& transaction) {
  if (transaction.early_key_.empty()) return;
  auto it = early_uas_.find(transaction.early_key_);
  if (it != early_uas_.end() && it->second.lock().get() == &transaction) early_uas_.erase(it);
  transaction.early_key_.clear();
}

bool EngineCore::handle_prack(Message& prack, const PeerAddress& source, std::string& key) {
  auto to = prack.to();
  std::string early_key;
  early_key.append(prack.call_id()).append("|").append(to->tag);
  auto it = early_uas_.find(early_key);
  if (it == early_uas_.end()) return false;
  auto invite = it->second.lock();
  if (!invite || invite->terminated_) return false;
  // RAck: "<RSeq> <CSeq number> <method>" (RFC 3262 7.2).
  std::uint32_t rseq = 0, cseq = 0;
  std::string method;
  {
    std::string text(prack.header(HeaderId::rack));
    std::istringstream in(text);
    in >> rseq >> cseq >> method;
  }
  auto invite_cseq = invite->message_.cseq();
  const bool match = !invite->reliable_wire_.empty() && rseq == invite->rseq_ && invite_cseq &&
                     cseq == invite_cseq->number && method == "INVITE";
  auto transaction = create_server_transaction(std::move(prack), source, std::move(key));
  transaction->local_tag_ = invite->local_tag_;
  if (!match) {
    respond(*transaction, ResponseSpec{481,
                                       "Call/Transaction Does Not Exist",
                                       {{"Warning", "399 astmrf \"RAck matches no reliable provisional response\""}},
                                       {},
                                       {}});
    return true;
  }
  timer_of(invite->prack_timer_)->cancel();
  invite->reliable_wire_.clear();
  auto dialog = invite->dialog_.lock();
  // The PRACK's CSeq is the peer's latest: in the early dialog, and in a held 2xx's dialog.
  for (auto* d : {dialog.get(), invite->early_dialog_.get()}) {
    if (auto c = transaction->message_.cseq(); d && c) {
      d->remote_cseq_ = std::max(d->remote_cseq_, c->number);
      d->remote_cseq_set_ = true;
    }
  }
  respond(*transaction, ResponseSpec{200, "OK", {}, {}, {}});
  if (auto handler = invite->on_prack_) handler(transaction->message_);
  if (invite->terminated_) return true;
  if (invite->held_2xx_) {
    invite->held_2xx_ = false;
    forget_early(*invite);
    leave_early(invite->early_dialog_);
    count_response_sent(MethodId::invite, invite->final_status_);
    send(detail::response_destination(*invite->message_.top_via(), invite->source_), invite->last_response_);
    if (dialog) {
      send_2xx_reliably(*dialog, invite->last_response_, invite_cseq->number);
      schedule_server_timer(invite, std::chrono::milliseconds(0), Clock::now() + 64 * t1());
    }
    return true;
  }
  if (!invite->reliable_queue_.empty() && !invite->final_sent()) {
    auto next = std::move(invite->reliable_queue_.front());
    invite->reliable_queue_.erase(invite->reliable_queue_.begin());
    send_reliable(*invite, std::move(next));
  }
  return true;
}

}  // namespace astmrf::sip
