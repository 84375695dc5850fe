// Dialogs (RFC 3261 section 12): creation from a 2xx on either side, reliable
// 2xx until ACK (13.3.1.4), ACK for a received 2xx, in-dialog requests both ways,
// re-INVITE glare (14.1/14.2), BYE, and the one end report every dialog gives.
#include "engine_core.hpp"

#include <astmrf/sip/builder.hpp>
#include <astmrf/sip/parser.hpp>
#include <astmrf/util/log.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace astmrf::sip {

Dialog::Dialog(EngineKey /*key*/, std::weak_ptr<EngineCore> core) : core_(std::move(core)) {}
Dialog::~Dialog() = default;

std::string Dialog::id() const { return call_id_ + ";local=" + local_tag_ + ";remote=" + remote_tag_; }

void Dialog::on_request(std::function<void(const std::shared_ptr<IncomingRequest>&)> handler) {
  on_request_ = std::move(handler);
}
void Dialog::on_ack(std::function<void(const Message&)> handler) { on_ack_ = std::move(handler); }
void Dialog::on_end(std::function<void(DialogEndReason)> handler) { on_end_ = std::move(handler); }

std::shared_ptr<ClientRequest> Dialog::request(RequestSpec spec, ResponseHandler handler) {
  auto core = core_.lock();
  if (!core || state_ == State::terminated) return nullptr;
  return core->dialog_request(*this, std::move(spec), std::move(handler));
}

void Dialog::bye(HeaderList headers) {
  if (auto core = core_.lock()) core->bye(*this, std::move(headers), DialogEndReason::local_bye);
}

void Dialog::ack(std::string content_type, std::string body) {
  auto core = core_.lock();
  if (!core || !awaiting_manual_ack_ || state_ == State::terminated) return;
  awaiting_manual_ack_ = false;
  core->send_ack(*this, last_ack_cseq_, content_type, body);
}

namespace {

// Where in-dialog requests go: the first route if there is a route set (loose
// routing), else the remote target.
PeerAddress dialog_destination(const Dialog& dialog, const PeerAddress& fallback) {
  std::string_view target = dialog.remote_target();
  std::optional<NameAddr> route;  // holds views into the route set: no copy of the target
  if (!dialog.route_set().empty()) {
    if (auto parsed = parse_name_addr(dialog.route_set().front())) {
      route = std::move(*parsed);
      target = route->uri_text;
    }
  }
  auto destination = detail::destination_from_uri(target, fallback.transport);
  if (!destination) return fallback;
  if (destination->transport != Transport::udp) destination->connection = fallback.connection;
  return *destination;
}

// Via, Max-Forwards, From, To, Call-ID and CSeq of a request within `dialog`
// (RFC 3261 12.2.1.1), each value built in one string.
// Returns the Via value (its branch keys the client transaction).
std::string add_dialog_headers(MessageBuilder& builder, const Dialog& dialog, const PeerAddress& local,
                               detail::SipIds& ids, std::uint32_t cseq, std::string_view method) {
  std::string via = detail::make_via(local, ids);
  builder.add(HeaderId::via, via);
  builder.add(HeaderId::max_forwards, "70");
  std::string text;
  text.reserve(std::max(dialog.local_uri().size() + dialog.local_tag().size(),
                        dialog.remote_uri().size() + dialog.remote_tag().size()) +
               8);
  text.append("<").append(dialog.local_uri()).append(">;tag=").append(dialog.local_tag());
  builder.add(HeaderId::from, text);
  text.clear();
  text.append("<").append(dialog.remote_uri()).append(">;tag=").append(dialog.remote_tag());
  builder.add(HeaderId::to, text);
  builder.add(HeaderId::call_id, dialog.call_id());
  text.clear();
  detail::append_uint(text, cseq);
  text.append(" ").append(method);
  builder.add(HeaderId::cseq, text);
  return via;
}

}  // namespace

std::shared_ptr<Dialog> EngineCore::find_dialog(std::string_view call_id, std::string_view local_tag,
                                                std::string_view remote_tag) const {
  lookup_key_.clear();
  append_dialog_key(lookup_key_, call_id, local_tag, remote_tag);
  auto it = dialogs_.find(lookup_key_);
  return it == dialogs_.end() ? nullptr : it->second;
}

std::shared_ptr<Dialog> EngineCore::create_uas_dialog(IncomingRequest& invite, const std::string&, bool table) {
  const Message& request = invite.message_;
  auto from = request.from();
  auto to = request.to();
  auto dialog = std::make_shared<Dialog>(EngineKey{}, weak_from_this());
  dialog->role_ = Dialog::Role::uas;
  dialog->call_id_ = std::string(request.call_id());
  dialog->local_tag_ = invite.local_tag_;
  dialog->remote_tag_ = std::string(from->tag);
  dialog->local_uri_ = std::string(to->uri_text);
  dialog->remote_uri_ = std::string(from->uri_text);
  auto contact = detail::first_contact_uri(request, contacts_scratch_);
  dialog->remote_target_ = contact ? *contact : from->uri_text;
  detail::for_each_value(request, HeaderId::record_route,
                         [&](std::string_view rr) { dialog->route_set_.emplace_back(rr); });
  if (auto cseq = request.cseq()) {
    dialog->remote_cseq_ = cseq->number;
    dialog->remote_cseq_set_ = true;
  }
  if (invite.early_dialog_) {  // it sent UPDATEs or saw the caller's: the dialog goes on from there
    dialog->local_cseq_ = invite.early_dialog_->local_cseq_;
    dialog->remote_cseq_ = std::max(dialog->remote_cseq_, invite.early_dialog_->remote_cseq_);
  }
  dialog->local_contact_ = local_contact(invite.source_.transport, invite.source_.address);
  dialog->peer_ = dialog_destination(*dialog, invite.source_);
  dialog->timer_ = new_timer();
  append_dialog_key(dialog->key_, dialog->call_id_, dialog->local_tag_, dialog->remote_tag_);
  if (!table) return dialog;
  insert_keyed(dialogs_, dialog->key_, dialog);
  dialogs_changed();
  log_dialog_created(*dialog);
  return dialog;
}

std::shared_ptr<Dialog> EngineCore::create_uac_dialog(ClientRequest& invite, const Message& response, bool table) {
  const Message& request = invite.request_;
  auto from = request.from();
  auto to = response.to();
  if (!from || !to || to->tag.empty()) return nullptr;
  auto dialog = std::make_shared<Dialog>(EngineKey{}, weak_from_this());
  dialog->role_ = Dialog::Role::uac;
  dialog->call_id_ = std::string(request.call_id());
  dialog->local_tag_ = std::string(from->tag);
  dialog->remote_tag_ = std::string(to->tag);
  dialog->local_uri_ = std::string(from->uri_text);
  dialog->remote_uri_ = std::string(to->uri_text);
  auto contact = detail::first_contact_uri(response, contacts_scratch_);
  dialog->remote_target_ = contact ? *contact : request.request_uri();
  auto record_routes = response.values(HeaderId::record_route);
  for (auto it = record_routes.rbegin(); it != record_routes.rend(); ++it) dialog->route_set_.emplace_back(*it);
  if (auto cseq = request.cseq()) dialog->local_cseq_ = cseq->number;
  // PRACKs and early UPDATEs used CSeqs after the INVITE's: the dialog goes on from there.
  if (invite.early_dialog_) {
    dialog->local_cseq_ = std::max(dialog->local_cseq_, invite.early_dialog_->local_cseq_);
    dialog->remote_cseq_ = invite.early_dialog_->remote_cseq_;
    dialog->remote_cseq_set_ = invite.early_dialog_->remote_cseq_set_;
  }
  dialog->local_contact_ = local_contact(invite.destination_.transport, invite.destination_.address);
  dialog->peer_ = dialog_destination(*dialog, invite.destination_);
  dialog->timer_ = new_timer();
  append_dialog_key(dialog->key_, dialog->call_id_, dialog->local_tag_, dialog->remote_tag_);
  if (!table) return dialog;
  insert_keyed(dialogs_, dialog->key_, dialog);
  dialogs_changed();
  log_dialog_created(*dialog);
  return dialog;
}

void EngineCore::enter_early(const std::shared_ptr<Dialog>& dialog) {
  dialog->early_ = true;
  early_dialogs_[dialog->key_] = dialog;
}

void EngineCore::leave_early(const std::shared_ptr<Dialog>& dialog) {
  if (!dialog) return;
  auto it = early_dialogs_.find(dialog->key_);
  if (it != early_dialogs_.end() && it->second.lock() == dialog) early_dialogs_.erase(it);
  // Ended without a report: the final response (or the 2xx's dialog) tells the application.
  dialog->state_ = Dialog::State::terminated;
  dialog->on_request_ = nullptr;
  dialog->on_ack_ = nullptr;
  dialog->on_end_ = nullptr;
}

std::shared_ptr<Dialog> EngineCore::find_early_dialog(std::string_view call_id, std::string_view local_tag,
                                                      std::string_view remote_tag) const {
  if (early_dialogs_.empty()) return nullptr;
  lookup_key_.clear();
  append_dialog_key(lookup_key_, call_id, local_tag, remote_tag);
  auto it = early_dialogs_.find(lookup_key_);
  return it == early_dialogs_.end() ? nullptr : it->second.lock();
}

void EngineCore::in_dialog_request(const std::shared_ptr<Dialog>& dialog, Message&& request, const PeerAddress& source,
                                   std::string key) {
  auto cseq = request.cseq();
  if (dialog->remote_cseq_set_ && cseq->number <= dialog->remote_cseq_) {
    send_stateless(request, source, ResponseSpec{500, "CSeq Out of Order", {}, {}, {}});
    return;
  }
  dialog->remote_cseq_ = cseq->number;
  dialog->remote_cseq_set_ = true;
  const MethodId method = request.method_id();
  auto transaction = create_server_transaction(std::move(request), source, std::move(key));
  transaction->dialog_ = dialog;

  if (method == MethodId::bye) {
    respond(*transaction, ResponseSpec{200, "OK", {}, {}, {}});
    end(*dialog, DialogEndReason::remote_bye);
    return;
  }
  if (method == MethodId::invite) {
    if (dialog->outgoing_invite_pending_) {  // glare (RFC 3261 14.2)
      respond(*transaction, ResponseSpec{491, "Request Pending", {}, {}, {}});
      return;
    }
    if (dialog->incoming_invite_pending_) {
      respond(*transaction, ResponseSpec{500, "Server Internal Error", {{"Retry-After", "1"}}, {}, {}});
      return;
    }
    dialog->incoming_invite_pending_ = true;
    respond(*transaction, ResponseSpec{100, "Trying", {}, {}, {}});
    auto handler = dialog->on_request_;  // a copy: the handler may replace itself
    deliver(transaction, handler, 488);
    return;
  }
  auto handler = dialog->on_request_;
  // An early dialog without a handler cannot answer an offer in an UPDATE (RFC 3311 5.2).
  deliver(transaction, handler, dialog->early_ && !transaction->message_.body().empty() ? 488 : 200);
}

void EngineCore::send_2xx_reliably(Dialog& dialog, std::string wire, std::uint32_t cseq) {
  dialog.pending_2xx_ = std::move(wire);
  dialog.pending_2xx_cseq_ = cseq;
  const bool udp = dialog.peer_.transport == Transport::udp;
  const auto deadline = Clock::now() + 64 * t1();
  auto timer = timer_of(dialog.timer_);
  // Retransmit with T1 doubling up to T2 (UDP only) until the ACK; give up at 64*T1.
  struct Tick {
    std::weak_ptr<Dialog> weak;
    std::chrono::milliseconds interval;
    Clock::time_point deadline;
    void operator()(boost::system::error_code ec) const {
      auto d = weak.lock();
      if (ec || !d || d->pending_2xx_.empty() || d->state_ == Dialog::State::terminated) return;
      auto core = d->core_.lock();
      if (!core) return;
      if (Clock::now() >= deadline) {
        d->pending_2xx_.clear();
        core->bye(*d, {}, DialogEndReason::no_ack);
        return;
      }
      core->count_retransmission_sent();
      core->send(d->peer_, d->pending_2xx_);
      auto next_interval = std::min(2 * interval, core->t2());
      auto t = core->timer_of(d->timer_);
      t->expires_at(std::min(deadline, Clock::now() + next_interval));
      t->async_wait(Tick{weak, next_interval, deadline});
    }
  };
  timer->expires_at(udp ? std::min(deadline, Clock::now() + t1()) : deadline);
  timer->async_wait(Tick{dialog.weak_from_this(), udp ? t1() : 64 * t1(), deadline});
}

void EngineCore::dialog_ack(Dialog& dialog, const Message& ack) {
  auto cseq = ack.cseq();
  if (!cseq || dialog.pending_2xx_.empty() || cseq->number != dialog.pending_2xx_cseq_) {
    count_retransmission_absorbed();  // a retransmitted ACK
    return;
  }
  dialog.pending_2xx_.clear();
  timer_of(dialog.timer_)->cancel();
  if (dialog.state_ == Dialog::State::confirming) dialog.state_ = Dialog::State::confirmed;
  auto handler = dialog.on_ack_;  // a copy: the handler may replace itself
  if (handler) handler(ack);
}

void EngineCore::send_ack(Dialog& dialog, std::uint32_t cseq, std::string_view content_type, std::string_view body) {
  const PeerAddress destination = dialog_destination(dialog, dialog.peer_);
  auto builder = MessageBuilder::request("ACK", dialog.remote_target_);
  add_dialog_headers(builder, dialog, local_for(destination.transport, destination.address).address, ids_, cseq, "ACK");
  for (const auto& route : dialog.route_set_) builder.add(HeaderId::route, route);
  if (!body.empty() || !content_type.empty()) builder.body(content_type, body);
  dialog.last_ack_ = builder.str();
  dialog.last_ack_cseq_ = cseq;
  if (dialog.state_ == Dialog::State::confirming) dialog.state_ = Dialog::State::confirmed;
  count_request_sent(MethodId::ack);
  send(destination, dialog.last_ack_);
}

std::shared_ptr<ClientRequest> EngineCore::dialog_request(Dialog& dialog, RequestSpec spec, ResponseHandler handler) {
  if (dialog.state_ == Dialog::State::terminated) return nullptr;
  const bool invite = spec.method == "INVITE";
  if (invite && (dialog.outgoing_invite_pending_ || dialog.incoming_invite_pending_)) {
    throw std::logic_error("a re-INVITE is already in progress in dialog " + dialog.id());
  }
  if (spec.method == "ACK" || spec.method == "CANCEL") {
    throw std::invalid_argument(spec.method + " is sent by the engine, not as a dialog request");
  }
  const PeerAddress destination = dialog_destination(dialog, dialog.peer_);
  auto builder = MessageBuilder::request(spec.method, dialog.remote_target_);
  // The remote target may be of a family we do not listen on (a Contact changed it): refused below.
  const LocalPoint* point = local_point(destination.transport, destination.address);
  const std::string via = add_dialog_headers(
      builder, dialog, (point ? *point : local_for(destination.transport, destination.address)).address, ids_,
      ++dialog.local_cseq_, spec.method);
  for (const auto& route : dialog.route_set_) builder.add(HeaderId::route, route);
  const bool target_refresh = invite || spec.method == "UPDATE" || spec.method == "SUBSCRIBE" ||
                              spec.method == "REFER" || spec.method == "NOTIFY";
  if (target_refresh && detail::find_header(spec.headers, "Contact") == nullptr) {
    std::string contact;
    contact.reserve(dialog.local_contact_.size() + 2);
    contact.append("<").append(dialog.local_contact_).append(">");
    builder.add(HeaderId::contact, contact);
  }
  if (detail::find_header(spec.headers, "User-Agent") == nullptr) builder.add("User-Agent", config_.user_agent);
  for (const auto& [name, value] : spec.headers) builder.add(name, value);
  if (!spec.body.empty() || !spec.content_type.empty()) builder.body(spec.content_type, spec.body);
  std::string wire = builder.str();
  auto message = parse_message(wire);
  if (point == nullptr) {
    return refuse_request(std::move(message).value(), destination, std::move(handler), dialog.shared_from_this(),
                          no_listening_point_reason(destination));
  }
  auto transaction =
      start_client_transaction(std::move(wire), std::move(message).value(), destination, std::move(handler),
                               dialog.shared_from_this(), detail::own_via_branch(via));
  if (invite) dialog.outgoing_invite_pending_ = true;
  return transaction;
}

void EngineCore::bye(Dialog& dialog, HeaderList headers, DialogEndReason reason) {
  if (dialog.state_ == Dialog::State::terminated) return;
  auto keep = dialog.shared_from_this();
  RequestSpec spec;
  spec.method = "BYE";
  spec.headers = std::move(headers);
  dialog.outgoing_invite_pending_ = false;
  dialog.incoming_invite_pending_ = false;
  dialog_request(dialog, std::move(spec), {});
  end(dialog, reason);
}

void EngineCore::end(Dialog& dialog, DialogEndReason reason) {
  if (dialog.state_ == Dialog::State::terminated) return;
  auto keep = dialog.shared_from_this();
  dialog.state_ = Dialog::State::terminated;
  dialog.end_reason_ = reason;
  dialog.pending_2xx_.clear();
  dialog.awaiting_manual_ack_ = false;
  if (dialog.timer_) timer_of(dialog.timer_)->cancel();
  auto it = dialogs_.find(dialog.key_);
  if (it != dialogs_.end() && it->second.get() == &dialog) {
    dialogs_.erase(it);
    dialogs_changed();
  }
  log_->trace("event=sip_dialog_ended call_id={} role={} reason={}", util::quote(dialog.call_id_),
              dialog.role_ == Dialog::Role::uac ? "uac" : "uas", to_string(reason));
  // Handlers often capture the dialog: drop them so nothing keeps it alive.
  dialog.on_request_ = nullptr;
  dialog.on_ack_ = nullptr;
  auto on_end = std::move(dialog.on_end_);
  dialog.on_end_ = nullptr;
  if (on_end) on_end(reason);
}

}  // namespace astmrf::sip
