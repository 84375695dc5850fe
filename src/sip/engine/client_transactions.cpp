// Client transactions (RFC 3261 17.1): requests the application sends, their
// retransmission over UDP (timers A/E), time-outs (B/F), absorption of
// retransmitted finals (D/K), ACK for non-2xx, and CANCEL (section 9.1).
#include "engine_core.hpp"
#include "timer_coalescing.hpp"

#include <astmrf/sip/builder.hpp>
#include <astmrf/sip/engine/tls_error.hpp>
#include <astmrf/sip/parser.hpp>
#include <astmrf/util/log.hpp>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <vector>

namespace astmrf::sip {

ClientRequest::ClientRequest(EngineKey /*key*/, std::weak_ptr<EngineCore> core, Message request,
                             PeerAddress destination, ResponseHandler handler)
    : core_(std::move(core)), request_(std::move(request)), destination_(destination), handler_(std::move(handler)) {}

ClientRequest::~ClientRequest() = default;

void ClientRequest::cancel() {
  if (auto core = core_.lock()) core->cancel(*this);
}

namespace {

bool creates_dialog_or_refreshes_target(std::string_view method) {
  return method == "INVITE" || method == "SUBSCRIBE" || method == "REFER" || method == "UPDATE" || method == "NOTIFY";
}

}  // namespace

namespace detail {

// RFC 3263 4.3: what a request sent to a host name needs to go to its next target: the spec
// (Call-ID and From tag fixed: a retry is the same request with a new branch) and the targets.
struct Failover {
  RequestSpec spec;
  std::vector<PeerAddress> targets;
  std::size_t next{0};
};

}  // namespace detail

namespace {

// The URI of the first Route header in `headers` (RFC 3261 8.1.2: the next hop), if any.
std::optional<std::string> first_route(const HeaderList& headers) {
  const std::string* route = detail::find_header(headers, "Route");
  if (route == nullptr) return std::nullopt;
  std::vector<NameAddr> list;
  if (detail::append_name_addrs(*route, list) || list.empty()) return std::nullopt;
  return std::string(list.front().uri_text);
}

}  // namespace

std::string EngineCore::build_request(const RequestSpec& spec, const PeerAddress& destination, std::string& via) {
  // Via, Contact and From name our point of the destination's family.
  const PeerAddress& local = local_for(destination.transport, destination.address).address;
  auto builder = MessageBuilder::request(spec.method, spec.uri);
  via = detail::make_via(local, ids_);
  builder.add(HeaderId::via, via);
  builder.add(HeaderId::max_forwards, "70");
  // Each header value is built in one reserved string: no a + b + c temporaries.
  std::string text;
  text.reserve(128);
  if (!spec.from_display.empty()) text.append("\"").append(spec.from_display).append("\" ");
  text += '<';
  if (spec.from.empty()) {
    text += "sip:astmrf@";
    detail::append_host(text, local.address);
  } else {
    text += spec.from;
  }
  text += ">;tag=";
  if (spec.from_tag.empty())
    text += ids_.tag();
  else
    text += spec.from_tag;
  builder.add(HeaderId::from, text);
  text.clear();
  text.append("<").append(spec.to.empty() ? spec.uri : spec.to).append(">");
  builder.add(HeaderId::to, text);
  builder.add(HeaderId::call_id, spec.call_id.empty() ? ids_.call_id() : spec.call_id);
  text.clear();
  detail::append_uint(text, spec.cseq == 0 ? 1 : spec.cseq);
  text.append(" ").append(spec.method);
  builder.add(HeaderId::cseq, text);
  if (creates_dialog_or_refreshes_target(spec.method) && detail::find_header(spec.headers, "Contact") == nullptr) {
    text.clear();
    text.append("<").append(local_contact(destination.transport, destination.address)).append(">");
    builder.add(HeaderId::contact, text);
  }
  if (detail::find_header(spec.headers, "User-Agent") == nullptr) builder.add("User-Agent", config_.user_agent);
  for (const auto& [name, value] : spec.headers) builder.add(name, value);
  if (!spec.body.empty() || !spec.content_type.empty()) builder.body(spec.content_type, spec.body);
  return builder.str();
}

std::shared_ptr<ClientRequest> EngineCore::send_request(RequestSpec spec, ResponseHandler handler,
                                                        InviteOptions options) {
  if (!running_) throw std::logic_error("the SIP engine is not running");
  // Another Supported line (e.g. "timer") stays: the header is a list, one more line adds to it.
  if (options.supported_100rel && spec.method == "INVITE" &&
      std::none_of(spec.headers.begin(), spec.headers.end(), [](const auto& header) {
        return iequals(header.first, "Supported") && header.second.find("100rel") != std::string::npos;
      })) {
    spec.headers.emplace_back("Supported", "100rel");
  }
  const Transport fallback = transport_.has(Transport::udp) ? Transport::udp : Transport::tcp;
  // The next hop: the destination, else the first Route (loose routing), else the Request-URI.
  const auto route = spec.destination.empty() ? first_route(spec.headers) : std::nullopt;
  const std::string& next_hop = !spec.destination.empty() ? spec.destination : route ? *route : spec.uri;
  auto destination =
      spec.destination.empty() ? detail::destination_from_uri(next_hop, fallback) : detail::parse_destination(next_hop);
  if (destination) {  // an IP address: no DNS
    std::string via;
    std::string wire = build_request(spec, *destination, via);
    auto message = parse_message(wire);
    // Without a point of the destination's family the request is built all the same (for the
    // handler's response) and refused.
    if (local_point(destination->transport, destination->address) == nullptr) {
      return refuse_request(std::move(message).value(), *destination, std::move(handler), nullptr,
                            no_listening_point_reason(*destination));
    }
    auto transaction = start_client_transaction(std::move(wire), std::move(message).value(), *destination,
                                                std::move(handler), nullptr, detail::own_via_branch(via));
    transaction->manual_ack_ = options.manual_ack;
    return transaction;
  }
  auto locate = spec.destination.empty() ? detail::locate_request_from_uri(next_hop)
                                         : detail::locate_request_from_destination(next_hop);
  if (!locate) {
    throw std::invalid_argument("cannot send to '" + next_hop +
                                "': a SIP URI or a destination \"transport:host[:port]\" is needed");
  }
  if (detail::is_invalid_host(locate->host)) {
    throw std::invalid_argument("cannot send to '" + next_hop +
                                "': an .invalid host is never resolved (it is reached over the connection it "
                                "came on, within its dialog)");
  }
  // Fixed now: every target gets the same request (a new branch each).
  if (spec.call_id.empty()) spec.call_id = ids_.call_id();
  if (spec.from_tag.empty()) spec.from_tag = ids_.tag();
  // Built once at once, so that request() and a local failure have a request to show; it is
  // built again for the transport of each target.
  const Transport guess = locate->transport ? *locate->transport : locate->secure ? Transport::tls : fallback;
  std::string via;
  std::string wire = build_request(spec, PeerAddress{guess, {}, 0, 0, {}}, via);
  auto message = parse_message(wire);
  auto transaction = std::make_shared<ClientRequest>(EngineKey{}, weak_from_this(), std::move(message).value(),
                                                     PeerAddress{}, std::move(handler));
  transaction->timer_ = new_timer();
  transaction->manual_ack_ = options.manual_ack;
  transaction->locating_ = true;
  auto state = std::make_shared<detail::Failover>();
  state->spec = std::move(spec);
  transaction->failover_ = state;
  locating_.insert(transaction);
  locator_->locate(std::move(*locate), [weak = std::weak_ptr<ClientRequest>(transaction)](detail::Locator::Result r) {
    auto t = weak.lock();
    if (!t) return;
    if (auto core = t->core_.lock()) core->located(t, std::move(r));
  });
  return transaction;
}

void EngineCore::located(const std::shared_ptr<ClientRequest>& transaction, detail::Locator::Result result) {
  locating_.erase(transaction);
  transaction->locating_ = false;
  if (transaction->final_status_ >= 200) return;  // cancelled meanwhile
  if (result.targets.empty()) {
    transaction->dns_error_ = result.error;
    transaction->dns_not_found_ = result.not_found;
    log_->warn("event=dns_failure call_id={} method={} error={}", util::quote(transaction->request_.call_id()),
               util::quote(transaction->request_.method()), util::quote(result.error));
    client_local_failure(*transaction, 503, "Service Unavailable (DNS: " + result.error + ")");
    return;
  }
  auto state = std::static_pointer_cast<detail::Failover>(transaction->failover_);
  state->targets = std::move(result.targets);
  state->next = 0;
  const auto first = state->targets.front();
  // False only when no target is of a family the engine listens on.
  if (!failover(*transaction, {})) client_local_failure(*transaction, 503, no_listening_point_reason(first));
}

bool EngineCore::failover(ClientRequest& transaction, std::string_view why) {
  auto state = std::static_pointer_cast<detail::Failover>(transaction.failover_);
  if (!state || transaction.cancel_requested_ || transaction.final_status_ >= 200) return false;
  // Targets of a family the engine has no listening point in are passed over.
  while (state->next < state->targets.size() &&
         local_point(state->targets[state->next].transport, state->targets[state->next].address) == nullptr) {
    ++state->next;
  }
  if (state->next >= state->targets.size()) return false;
  auto self = transaction.shared_from_this();
  if (!why.empty()) {
    log_->info("event=sip_failover call_id={} method={} from={} reason={}", util::quote(transaction.request_.call_id()),
               util::quote(transaction.request_.method()), util::quote(transaction.destination_.to_string()),
               util::quote(why));
  }
  // The previous attempt's transaction leaves the table (its late responses are strays).
  auto it = client_transactions_.find(transaction.key_);
  if (it != client_transactions_.end() && it->second.get() == &transaction) client_transactions_.erase(it);
  transaction.key_.clear();
  timer_of(transaction.timer_)->cancel();
  transaction.destination_ = state->targets[state->next++];
  std::string via;
  transaction.wire_ = build_request(state->spec, transaction.destination_, via);
  transaction.request_ = parse_message(transaction.wire_).value();
  transaction.provisional_seen_ = false;
  transaction.ack_.clear();
  transaction.terminated_ = false;
  launch(self, detail::own_via_branch(via));
  return true;
}

void EngineCore::fail_locating() {
  auto pending = std::move(locating_);
  locating_.clear();
  locator_.reset();  // its lookups end unanswered
  for (const auto& t : pending) {
    t->locating_ = false;
    client_local_failure(*t, 503, "Service Unavailable (engine stopped)");
  }
}

std::shared_ptr<ClientRequest> EngineCore::start_client_transaction(std::string wire, Message request,
                                                                    const PeerAddress& destination,
                                                                    ResponseHandler handler,
                                                                    const std::shared_ptr<Dialog>& dialog,
                                                                    std::string_view branch) {
  auto transaction = std::make_shared<ClientRequest>(EngineKey{}, weak_from_this(), std::move(request), destination,
                                                     std::move(handler));
  transaction->wire_ = std::move(wire);
  transaction->timer_ = new_timer();
  transaction->dialog_ = dialog;
  launch(transaction, branch);
  return transaction;
}

void EngineCore::launch(const std::shared_ptr<ClientRequest>& transaction, std::string_view branch) {
  // A Via we wrote gives its branch without a parse; a CANCEL's (copied from the INVITE) is parsed.
  if (branch.empty()) branch = transaction->request_.top_via()->branch;
  transaction->key_.reserve(branch.size() + 1 + transaction->request_.method().size());
  transaction->key_.append(branch).append("|").append(transaction->request_.method());
  insert_keyed(client_transactions_, transaction->key_, transaction);
  client_transactions_changed();
  count_request_sent(transaction->request_.method_id());

  const auto attempt = ++transaction->attempt_;
  auto failed = [weak = std::weak_ptr<ClientRequest>(transaction), attempt](boost::system::error_code ec) {
    if (!ec) return;
    auto t = weak.lock();
    if (!t || t->attempt_ != attempt) return;  // an earlier target's failure: moved on already
    auto core = t->core_.lock();
    if (!core) return;
    core->log_->warn("event=transport_error call_id={} method={} transport={} error={}",
                     util::quote(t->request_.call_id()), util::quote(t->request_.method()),
                     detail::transport_label(t->destination_.transport), util::quote(ec.message()));
    if (t->final_status_ < 200 && core->failover(*t, ec.message())) return;
    t->transport_error_ = ec;
    // A refused TLS peer says why (the certificate, the protocol), not just "transport error".
    core->client_local_failure(*t, 503,
                               is_tls_handshake_error(ec) ? ec.message() : "Service Unavailable (transport error)");
  };
  const PeerAddress& destination = transaction->destination_;
  if (destination.transport == Transport::udp) {
    // A datagram's failure is known at once: report it from the executor, as a
    // completion would, without a std::function per request.
    if (auto ec = send(destination, transaction->wire_)) boost::asio::post(executor_, [failed, ec] { failed(ec); });
  } else {
    send(destination, transaction->wire_, failed);
  }
  const bool udp = destination.transport == Transport::udp;
  schedule_client_timer(transaction, udp ? t1() : std::chrono::milliseconds(0), Clock::now() + 64 * t1());
}

std::shared_ptr<ClientRequest> EngineCore::refuse_request(Message request, const PeerAddress& destination,
                                                          ResponseHandler handler,
                                                          const std::shared_ptr<Dialog>& dialog, std::string reason) {
  auto transaction = std::make_shared<ClientRequest>(EngineKey{}, weak_from_this(), std::move(request), destination,
                                                     std::move(handler));
  transaction->dialog_ = dialog;  // not in the table: nothing can match it
  log_->warn("event=sip_request_refused call_id={} method={} transport={} peer={} reason={}",
             util::quote(transaction->request_.call_id()), util::quote(transaction->request_.method()),
             detail::transport_label(destination.transport), util::quote(destination.to_string()), util::quote(reason));
  // Reported from the executor, as a transport error is: the caller has its handle first.
  boost::asio::post(executor_, [transaction, reason = std::move(reason)] {
    if (auto core = transaction->core_.lock()) core->client_local_failure(*transaction, 503, reason);
  });
  return transaction;
}

void EngineCore::schedule_client_timer(const std::shared_ptr<ClientRequest>& transaction,
                                       std::chrono::milliseconds interval, Clock::time_point deadline) {
  arm_transaction_timer(transaction, interval, deadline,
                        [interval, deadline](EngineCore& core, const std::shared_ptr<ClientRequest>& t, bool expired) {
                          if (expired) {
                            if (t->final_status_ >= 200) {
                              core.terminate(*t);  // timer D / K: retransmitted finals no longer expected
                            } else if (t->cancel_requested_) {
                              core.client_local_failure(*t, 487, "Request Terminated (no final response after CANCEL)");
                            } else if (!core.failover(*t, "no response (timeout)")) {
                              core.client_local_failure(*t, 408, "Request Timeout");  // timer B / F
                            }
                            return;
                          }
                          // Timer A (INVITE, doubling) stops at the first provisional; timer E keeps
                          // going at T2 once a provisional arrived (RFC 3261 17.1.2.2).
                          const bool invite = t->request_.method_id() == MethodId::invite;
                          if (!(invite && t->provisional_seen_) && t->final_status_ < 200) {
                            core.count_retransmission_sent();
                            core.send(t->destination_, t->wire_);
                          }
                          auto next_interval = invite ? 2 * interval : std::min(2 * interval, core.t2());
                          if (!invite && t->provisional_seen_) next_interval = core.t2();
                          core.schedule_client_timer(t, next_interval, deadline);
                        });
}

bool EngineCore::prack_provisional(ClientRequest& transaction, const Message& response) {
  auto rseq_text = response.header(HeaderId::rseq);
  if (rseq_text.empty()) return true;
  auto require = response.require();
  const bool required = require && std::find(require->begin(), require->end(), "100rel") != require->end();
  auto to = response.to();
  if (!required || !to || to->tag.empty()) return true;
  std::uint32_t rseq = 0;
  for (char c : rseq_text) {
    if (c < '0' || c > '9') return true;  // unparsable: treated as unreliable
    rseq = rseq * 10 + static_cast<std::uint32_t>(c - '0');
  }
  auto& early = transaction.early_dialog_;
  if (!early || early->remote_tag_ != to->tag) {
    auto made = create_uac_dialog(transaction, response, false);
    if (!made) return true;
    if (early) leave_early(early);  // another fork: the latest early dialog is the one kept
    early = std::move(made);
    enter_early(early);
    transaction.last_rseq_ = 0;
  }
  if (transaction.last_rseq_ != 0 && rseq <= transaction.last_rseq_) {
    count_retransmission_absorbed();
    return false;  // a retransmission: already PRACKed, not passed up again
  }
  transaction.last_rseq_ = rseq;
  if (auto contact = detail::first_contact_uri(response, contacts_scratch_)) early->remote_target_ = *contact;
  auto cseq = transaction.request_.cseq();
  RequestSpec prack;
  prack.method = "PRACK";
  prack.headers.emplace_back("RAck", std::to_string(rseq) + " " + std::to_string(cseq ? cseq->number : 0) + " INVITE");
  dialog_request(*early, std::move(prack), {});
  return true;
}

void EngineCore::client_response(ClientRequest& transaction, Message&& response) {
  auto self = transaction.shared_from_this();
  const int status = response.status();
  const bool invite = transaction.request_.method_id() == MethodId::invite;
  const bool udp = transaction.destination_.transport == Transport::udp;

  if (status < 200) {
    if (transaction.final_status_ >= 200) return;  // a late provisional
    if (!transaction.provisional_seen_) {
      transaction.provisional_seen_ = true;
      if (invite) {
        // Proceeding: no retransmission, and no time limit until a CANCEL is sent.
        schedule_client_timer(self, std::chrono::milliseconds(0), Clock::now() + std::chrono::hours(24 * 365));
      }
    }
    if (transaction.cancel_requested_ && !transaction.cancel_sent_) send_cancel(transaction);
    if (invite && status > 100 && !prack_provisional(transaction, response)) return;
    if (transaction.handler_) transaction.handler_(response, nullptr);
    return;
  }

  if (transaction.final_status_ >= 200) {
    // A retransmitted final: re-ACK a non-2xx to an INVITE (17.1.1.2).
    count_retransmission_absorbed();
    if (invite && status >= 300 && !transaction.ack_.empty()) {
      count_retransmission_sent();
      send(transaction.destination_, transaction.ack_);
    }
    return;
  }
  if (status == 503 && !transaction.cancel_requested_ && transaction.failover_) {
    // RFC 3263 4.3: a 503 sends the request to the next target (the 503 ACKed first).
    auto state = std::static_pointer_cast<detail::Failover>(transaction.failover_);
    if (state->next < state->targets.size()) {
      if (invite) {
        count_request_sent(MethodId::ack);
        send(transaction.destination_, detail::build_non2xx_ack(transaction.request_, response));
      }
      if (failover(transaction, "503 " + std::string(response.reason()))) return;
    }
  }
  transaction.final_status_ = status;
  // The early dialog ends with the final response (kept: the 2xx's dialog takes its CSeqs).
  if (transaction.early_dialog_) leave_early(transaction.early_dialog_);
  auto dialog = transaction.dialog_.lock();

  if (invite && status < 300) {
    terminate(transaction);
    if (!dialog) dialog = create_uac_dialog(transaction, response);
    if (!dialog) {
      client_local_failure(transaction, 502, "Bad Gateway (unusable 2xx)");
      return;
    }
    dialog->outgoing_invite_pending_ = false;
    if (auto contact = detail::first_contact_uri(response, contacts_scratch_)) {
      dialog->remote_target_ = *contact;  // target refresh
    }
    auto cseq = transaction.request_.cseq();
    if (transaction.cancel_requested_) {
      // The 2xx raced our CANCEL: confirm the dialog and end it at once, so that
      // no call is left up that nobody wants.
      send_ack(*dialog, cseq->number, {}, {});
      bye(*dialog, {}, DialogEndReason::cancelled);
      transaction.final_status_ = 0;
      client_local_failure(transaction, 487, "Request Terminated (cancelled; the 2xx that raced it was ended)");
      return;
    }
    if (transaction.manual_ack_) {
      dialog->awaiting_manual_ack_ = true;
      dialog->last_ack_cseq_ = cseq->number;
    } else {
      send_ack(*dialog, cseq->number, {}, {});
    }
    if (transaction.handler_) transaction.handler_(response, dialog);
    return;
  }

  if (invite) {
    if (dialog) dialog->outgoing_invite_pending_ = false;
    transaction.ack_ = detail::build_non2xx_ack(transaction.request_, response);
    count_request_sent(MethodId::ack);
    send(transaction.destination_, transaction.ack_);
    // Timer D: absorb retransmitted finals for 32 s over UDP.
    schedule_client_timer(self, std::chrono::milliseconds(0),
                          Clock::now() + (udp ? std::chrono::milliseconds(32000) : std::chrono::milliseconds(0)));
  } else {
    // Timer K.
    schedule_client_timer(self, std::chrono::milliseconds(0),
                          Clock::now() + (udp ? t4() : std::chrono::milliseconds(0)));
  }
  if (transaction.handler_) transaction.handler_(response, nullptr);
  if (dialog && dialog->state_ != Dialog::State::terminated) {
    // RFC 3261 12.2.1.2: 481 and 408 to an in-dialog request end the dialog.
    if (status == 481)
      end(*dialog, DialogEndReason::remote_gone);
    else if (status == 408)
      end(*dialog, DialogEndReason::request_timeout);
  }
}

void EngineCore::client_local_failure(ClientRequest& transaction, int status, std::string_view reason) {
  if (transaction.final_status_ >= 200) return;
  transaction.final_status_ = status;
  transaction.local_failure_ = true;
  auto self = transaction.shared_from_this();
  terminate(transaction);
  Message response = MessageBuilder::response_to(transaction.request_, status, reason).build();
  auto dialog = transaction.dialog_.lock();
  if (dialog) dialog->outgoing_invite_pending_ = false;
  if (transaction.handler_) transaction.handler_(response, nullptr);
  if (dialog && dialog->state_ != Dialog::State::terminated && status == 408) {
    end(*dialog, DialogEndReason::request_timeout);
  }
}

void EngineCore::cancel(ClientRequest& transaction) {
  if (transaction.locating_ && transaction.final_status_ < 200) {  // nothing sent yet: nothing to CANCEL
    transaction.cancel_requested_ = true;
    client_local_failure(transaction, 487, "Request Terminated (cancelled before it was sent)");
    return;
  }
  if (transaction.request_.method_id() != MethodId::invite || transaction.terminated_ ||
      transaction.final_status_ >= 200 || transaction.cancel_requested_) {
    return;
  }
  transaction.cancel_requested_ = true;
  if (transaction.provisional_seen_) send_cancel(transaction);
  // else: RFC 3261 9.1 — wait for a provisional before sending CANCEL.
}

void EngineCore::send_cancel(ClientRequest& transaction) {
  transaction.cancel_sent_ = true;
  std::string wire = detail::build_cancel(transaction.request_);
  auto message = parse_message(wire);
  start_client_transaction(
      std::move(wire), std::move(message).value(), transaction.destination_,
      [](const Message&, const std::shared_ptr<Dialog>&) {}, nullptr);
  // No final response within 64*T1 after the CANCEL: give up on the INVITE.
  schedule_client_timer(transaction.shared_from_this(), std::chrono::milliseconds(0), Clock::now() + 64 * t1());
}

void EngineCore::terminate(ClientRequest& transaction) {
  if (transaction.terminated_) return;
  transaction.terminated_ = true;
  if (transaction.timer_) timer_of(transaction.timer_)->cancel();
  if (transaction.early_dialog_ && transaction.early_dialog_->early_) leave_early(transaction.early_dialog_);
  auto it = client_transactions_.find(transaction.key_);
  if (it != client_transactions_.end() && it->second.get() == &transaction) {
    client_transactions_.erase(it);
    client_transactions_changed();
  }
}

void EngineCore::on_2xx_retransmission(const Message& response) {
  auto from = response.from();
  auto to = response.to();
  auto cseq = response.cseq();
  if (!from || !to || !cseq) return;
  auto dialog = find_dialog(response.call_id(), from->tag, to->tag);
  if (dialog && dialog->last_ack_cseq_ == cseq->number && !dialog->last_ack_.empty()) {
    count_retransmission_absorbed();
    count_retransmission_sent();
    send(dialog->peer_, dialog->last_ack_);  // a lost ACK: the peer retransmits its 2xx
    return;
  }
  count_stray_response();
}

}  // namespace astmrf::sip
