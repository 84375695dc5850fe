// The engine's front: construction, start/stop, and the dispatch of every message
// received to a transaction, a dialog, or the application.
#include "engine_core.hpp"

#include <astmrf/sip/engine/engine.hpp>
#include <astmrf/sip/parser.hpp>
#include <astmrf/util/log.hpp>
#include <astmrf/util/metrics.hpp>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include <strings.h>

namespace astmrf::sip {

std::string PeerAddress::to_string() const {
  return std::string(uri_param(transport)) + ":" + detail::host_text(address) + ":" + std::to_string(port);
}

namespace {

// The server transaction key (RFC 3261 17.2.3), written to `key`.
void server_key(std::string& key, const Message& request, const Via& via) {
  std::string_view method = request.method_id() == MethodId::ack ? std::string_view("INVITE") : request.method();
  key.clear();
  if (via.branch.starts_with("z9hG4bK")) {
    key.append(via.branch).append("|");
    if (via.host_kind == HostKind::ipv6)
      key.append("[").append(via.host).append("]");
    else
      key.append(via.host);
    if (via.has_port) {
      key += ':';
      detail::append_uint(key, via.port);
    }
    key.append("|").append(method);
    return;
  }
  // RFC 2543 peers: no magic cookie, so match by dialog-ish fields.
  auto from = request.from();
  auto cseq = request.cseq();
  key.append("2543|").append(request.call_id()).append("|");
  if (from) key.append(from->tag);
  key.append("|");
  detail::append_uint(key, cseq ? cseq->number : 0);
  key.append("|").append(method);
}

// The Call-ID of a message's text (trace lines of messages sent: no parse).
std::string_view call_id_of(std::string_view wire) {
  std::size_t pos = 0;
  while (pos < wire.size()) {
    auto end = wire.find("\r\n", pos);
    if (end == std::string_view::npos) end = wire.size();
    auto line = wire.substr(pos, end - pos);
    if (line.empty()) break;  // end of the headers
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      auto name = line.substr(0, colon);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      if ((name.size() == 7 && strncasecmp(name.data(), "Call-ID", 7) == 0) ||
          (name.size() == 1 && (name[0] == 'i' || name[0] == 'I'))) {
        auto value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        return value;
      }
    }
    pos = end + 2;
  }
  return {};
}

std::string peer_text(const PeerAddress& peer) {
  std::string out = detail::host_text(peer.address);
  out += ':';
  out += std::to_string(peer.port);
  return out;
}

void trace_message(spdlog::logger& log, std::string_view event, std::string_view call_id, const PeerAddress& peer,
                   std::string_view text) {
  auto redacted = util::redact_sip(text);
  log.trace("event={} call_id={} transport={} peer={} message={}", event, util::quote(call_id),
            detail::transport_label(peer.transport), peer_text(peer), util::quote(redacted));
}

}  // namespace

// ------------------------------------------------------------------ EngineCore

EngineCore::EngineCore(boost::asio::any_io_executor executor, EngineConfig config)
    : executor_(executor),
      config_(std::move(config)),
      transport_(executor, config_,
                 detail::TransportLayer::Callbacks{[this](std::string_view raw, Result<Message>* parsed,
                                                          const PeerAddress& source) { on_input(raw, parsed, source); },
                                                   [this](const PeerAddress& peer) { on_connection_lost(peer); }}),
      log_(util::logger_or_default(config_.logger)) {
  if (config_.metrics) metrics_ = std::make_unique<detail::EngineMetrics>(*config_.metrics);
  transport_.observe(metrics_ ? metrics_->send_buffer_full : nullptr, metrics_ ? metrics_->tcp_connections : nullptr,
                     log_);
}

void EngineCore::log_parse_error(const PeerAddress& source, std::string_view reason) {
  log_->warn("event=sip_parse_error transport={} peer={} reason={}", detail::transport_label(source.transport),
             peer_text(source), util::quote(reason));
}

void EngineCore::log_dialog_created(const Dialog& dialog) {
  // Trace, beside sip_in/sip_out: at debug Srf logs the call's outcome and its dialog's end.
  if (!log_->should_log(spdlog::level::trace)) return;  // peer_text allocates
  log_->trace("event=sip_dialog_created call_id={} role={} transport={} peer={}", util::quote(dialog.call_id_),
              dialog.role_ == Dialog::Role::uac ? "uac" : "uas", detail::transport_label(dialog.peer_.transport),
              peer_text(dialog.peer_));
}

EngineCore::~EngineCore() = default;

void EngineCore::append_dialog_key(std::string& out, std::string_view call_id, std::string_view local_tag,
                                   std::string_view remote_tag) {
  out.reserve(out.size() + call_id.size() + local_tag.size() + remote_tag.size() + 2);
  out.append(call_id).append("|").append(local_tag).append("|").append(remote_tag);
}

void EngineCore::start() {
  transport_.start();
  for (std::size_t i = 0; i < transport_count; ++i) {
    const auto transport = static_cast<Transport>(i);
    for (const bool v6 : {false, true}) {
      auto& point = local_points_[index(transport, v6)];
      auto bound = transport_.bound_address(transport, v6);
      point.bound = bound.has_value();
      point.address = bound ? *bound : transport_.local_address(transport);
    }
  }
  // tcp and tls connect without listening: without a point of their own in a family,
  // they advertise another transport's address of that family (as before: UDP's).
  for (const auto transport : {Transport::tcp, Transport::tls}) {
    for (const bool v6 : {false, true}) {
      auto& point = local_points_[index(transport, v6)];
      if (point.bound) continue;
      for (std::size_t i = 0; i < transport_count; ++i) {
        const auto& other = local_points_[index(static_cast<Transport>(i), v6)];
        if (!other.bound) continue;
        point.address = other.address;
        point.address.transport = transport;
        point.bound = true;
        break;
      }
    }
  }
  for (auto& point : local_points_) point.contact = detail::contact_uri(point.address);
  detail::TransportSet available{};
  for (std::size_t i = 0; i < transport_count; ++i) available[i] = transport_.has(static_cast<Transport>(i));
  locator_ = std::make_unique<detail::Locator>(executor_, config_.dns, available);
  running_ = true;
}

const EngineCore::LocalPoint* EngineCore::local_point(Transport transport, const boost::asio::ip::address& peer) const {
  const auto& point = local_points_[index(transport, peer.is_v6())];
  return point.bound ? &point : nullptr;
}

const EngineCore::LocalPoint& EngineCore::local_for(Transport transport, const boost::asio::ip::address& peer) const {
  if (const auto* point = local_point(transport, peer)) return *point;
  const auto& other = local_points_[index(transport, !peer.is_v6())];
  return other.bound ? other : local_points_[index(transport, peer.is_v6())];
}

std::string EngineCore::no_listening_point_reason(const PeerAddress& destination) {
  return std::string("Service Unavailable (no ") + (destination.address.is_v6() ? "IPv6" : "IPv4") +
         " listening point for " + std::string(uri_param(destination.transport)) + ")";
}

void EngineCore::stop() {
  if (!running_) return;
  running_ = false;
  transport_.stop();
  fail_locating();
  auto servers = std::move(server_transactions_);
  auto clients = std::move(client_transactions_);
  auto dialogs = std::move(dialogs_);
  server_transactions_.clear();
  client_transactions_.clear();
  pending_server_transactions_ = 0;
  dialogs_.clear();
  for (auto& [key, t] : servers) {
    t->terminated_ = true;
    t->on_cancel_ = nullptr;
    if (t->timer_) timer_of(t->timer_)->cancel();
  }
  for (auto& [key, t] : clients) {
    // A request still waiting for its final response gets one (local 503), so that
    // no operation above waits forever; then nothing it holds stays referenced.
    if (t->final_status_ < 200) client_local_failure(*t, 503, "Service Unavailable (engine stopped)");
    t->terminated_ = true;
    t->handler_ = nullptr;
    if (t->timer_) timer_of(t->timer_)->cancel();
  }
  for (auto& [key, d] : dialogs) end(*d, DialogEndReason::backend_stopped);
  server_transactions_changed();
  client_transactions_changed();
  dialogs_changed();
}

boost::system::error_code EngineCore::send(const PeerAddress& destination, std::string_view data,
                                           detail::TransportLayer::SendHandler done) {
  ++stats_.messages_sent;
  if (log_->should_log(spdlog::level::trace)) trace_message(*log_, "sip_out", call_id_of(data), destination, data);
  return transport_.send(destination, data, std::move(done));
}

void EngineCore::on_input(std::string_view raw, Result<Message>* parsed, const PeerAddress& source) {
  if (!running_) return;
  ++stats_.messages_received;
  if (parsed == nullptr) {
    // A datagram: skip keep-alive CRLFs (RFC 5626), then parse.
    auto start = raw.find_first_not_of("\r\n");
    if (start == std::string_view::npos) return;
    ParseOptions options;
    options.max_message_size = config_.max_message_size;
    auto message = parse_message(raw.substr(start), options);
    if (!message) {
      reject_unparsable(raw.substr(start), message.error(), source);
      return;
    }
    if (log_->should_log(spdlog::level::trace))
      trace_message(*log_, "sip_in", message->call_id(), source, raw.substr(start));
    if (message->is_request())
      on_request(std::move(*message), source);
    else
      on_response(std::move(*message), source);
    return;
  }
  if (!*parsed) {
    count_parse_error();  // the stream is closed by the transport
    log_parse_error(source, parsed->error().message());
    return;
  }
  if (log_->should_log(spdlog::level::trace))
    trace_message(*log_, "sip_in", (*parsed)->call_id(), source, (*parsed)->raw());
  if ((*parsed)->is_request())
    on_request(std::move(**parsed), source);
  else
    on_response(std::move(**parsed), source);
}

void EngineCore::on_connection_lost(const PeerAddress& peer) {
  if (!running_ || (peer.transport != Transport::ws && peer.transport != Transport::wss)) return;
  std::vector<std::shared_ptr<IncomingRequest>> lost;
  for (const auto& [key, t] : server_transactions_) {
    if (t->is_invite_ && t->source_.connection == peer.connection && !t->final_sent() && !t->terminated_)
      lost.push_back(t);
  }
  for (const auto& t : lost) {
    if (t->final_sent() || t->terminated_) continue;  // a handler below may have answered it
    t->cancelled_ = true;
    respond(*t, ResponseSpec{487, "Request Terminated", {}, {}, {}});  // goes nowhere: it ends the transaction
    if (t->on_cancel_) {
      auto handler = std::move(t->on_cancel_);
      handler();
    }
  }
}

void EngineCore::reject_unparsable(std::string_view raw, const ParseError& error, const PeerAddress& source) {
  count_parse_error();
  log_parse_error(source, error.message());
  // Answer 400 when the headers a response needs can be read (RFC 3261 8.2.2.x
  // asks for a response where one can be built); drop everything else.
  ParseOptions lenient;
  lenient.require_mandatory_headers = false;
  lenient.max_message_size = config_.max_message_size;
  auto message = parse_message(raw, lenient);
  if (!message || !message->is_request() || message->method_id() == MethodId::ack) return;
  if (!message->top_via() || !message->cseq() || !message->from() || !message->to() || message->call_id().empty()) {
    return;
  }
  ResponseSpec spec;
  spec.status = 400;
  std::string warning = error.message();
  for (auto& c : warning) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '\'';
  }
  spec.headers.emplace_back("Warning", "399 astmrf \"" + warning + "\"");
  send_stateless(*message, source, std::move(spec));
}

void EngineCore::send_stateless(const Message& request, const PeerAddress& source, ResponseSpec spec) {
  auto via = request.top_via();
  if (!via) return;
  std::string wire;
  try {
    std::string to_tag;
    wire = detail::build_response(request, source, spec, to_tag, ids_, {}, config_.user_agent);
  } catch (const SipError&) {
    return;  // the request's own headers cannot be echoed safely
  }
  count_response_sent(request.method_id(), spec.status);
  send(detail::response_destination(*via, source), std::move(wire));
}

void EngineCore::on_request(Message&& request, const PeerAddress& source) {
  auto via = request.top_via();
  auto cseq = request.cseq();
  auto from = request.from();
  auto to = request.to();
  if (metrics_) metrics_->request_received(request.method_id());
  if (!via || !cseq || !from || !to || request.call_id().empty()) {
    count_parse_error();
    const ParseError& error = !via ? via.error() : !cseq ? cseq.error() : !from ? from.error() : to.error();
    if (via && cseq && from && to)
      log_parse_error(source, "no Call-ID");
    else
      log_parse_error(source, error.message());
    if (via && request.method_id() != MethodId::ack) {
      ResponseSpec spec;
      spec.status = 400;
      spec.headers.emplace_back("Warning", "399 astmrf \"bad header: " + error.header + "\"");
      send_stateless(request, source, std::move(spec));
    }
    return;
  }
  if (cseq->method != request.method()) {
    if (request.method_id() != MethodId::ack) {
      send_stateless(request, source, ResponseSpec{400, "CSeq Method Mismatch", {}, {}, {}});
    }
    return;
  }

  server_key(lookup_key_, request, *via);
  if (request.method_id() == MethodId::ack) {
    auto it = server_transactions_.find(lookup_key_);
    if (it != server_transactions_.end()) {
      auto transaction = it->second;
      if (transaction->final_status_ >= 300) {
        handle_ack_for_non2xx(*transaction, request);
        return;
      }
    }
    if (!to->tag.empty()) {
      if (auto dialog = find_dialog(request.call_id(), to->tag, from->tag)) dialog_ack(*dialog, request);
    }
    return;  // an ACK matching nothing is dropped (RFC 3261 17.2.3)
  }
  if (absorb_retransmission(lookup_key_, request)) return;
  std::string key = lookup_key_;  // the new transaction's own copy
  if (request.method_id() == MethodId::cancel) {
    handle_cancel(std::move(request), source);
    return;
  }
  if (!to->tag.empty()) {
    if (request.method_id() == MethodId::prack && handle_prack(request, source, key)) return;
    auto dialog = find_dialog(request.call_id(), to->tag, from->tag);
    // RFC 3311: an UPDATE may come in an early dialog (one made by a reliable provisional).
    if (!dialog && request.method_id() == MethodId::update)
      dialog = find_early_dialog(request.call_id(), to->tag, from->tag);
    if (!dialog) {
      send_stateless(request, source, ResponseSpec{481, "Call/Transaction Does Not Exist", {}, {}, {}});
      return;
    }
    in_dialog_request(dialog, std::move(request), source, std::move(key));
    return;
  }
  if (pending_server_transactions_ >= config_.max_pending_server_transactions ||
      server_transactions_.size() >= config_.max_server_transactions) {
    ++stats_.rejected_overload;
    if (metrics_) metrics_->overload_rejections->inc();
    log_->debug("event=sip_overload call_id={} method={} pending={} transactions={}", util::quote(request.call_id()),
                util::quote(request.method()), pending_server_transactions_, server_transactions_.size());
    send_stateless(
        request, source,
        ResponseSpec{
            503, "Service Unavailable", {{"Retry-After", std::to_string(config_.retry_after_seconds)}}, {}, {}});
    return;
  }
  auto transaction = create_server_transaction(std::move(request), source, std::move(key));
  if (transaction->message_.method_id() == MethodId::unknown) {
    respond(*transaction, ResponseSpec{501, "Not Implemented", {}, {}, {}});
    return;
  }
  auto handler = request_handler_;  // a copy: the handler may replace itself
  deliver(transaction, handler, 501);
  if (transaction->is_invite_ && transaction->last_response_.empty() && !transaction->terminated_) {
    schedule_trying(transaction);
  }
}

void EngineCore::on_response(Message&& response, const PeerAddress& source) {
  auto via = response.top_via();
  auto cseq = response.cseq();
  if (!via || !cseq) {
    count_parse_error();
    log_parse_error(source, !via ? via.error().message() : cseq.error().message());
    return;
  }
  if (metrics_) metrics_->response_received(method_id(cseq->method), response.status());
  lookup_key_.clear();
  lookup_key_.append(via->branch).append("|").append(cseq->method);
  auto it = client_transactions_.find(lookup_key_);
  if (it != client_transactions_.end()) {
    auto transaction = it->second;  // keeps it alive through the handler
    client_response(*transaction, std::move(response));
    return;
  }
  if (cseq->method == "INVITE" && response.status() >= 200 && response.status() < 300) {
    on_2xx_retransmission(response);
    return;
  }
  count_stray_response();
}

// ------------------------------------------------------------------ Engine

Engine::Engine(boost::asio::any_io_executor executor, EngineConfig config)
    : core_(std::make_shared<EngineCore>(std::move(executor), std::move(config))) {}

Engine::~Engine() { core_->stop(); }

void Engine::start() { core_->start(); }
void Engine::stop() { core_->stop(); }

PeerAddress Engine::local_address(Transport transport) const { return core_->transport_.local_address(transport); }

void Engine::on_request(std::function<void(const std::shared_ptr<IncomingRequest>&)> handler) {
  core_->request_handler_ = std::move(handler);
}

std::shared_ptr<ClientRequest> Engine::send_request(RequestSpec spec, ResponseHandler handler, InviteOptions options) {
  return core_->send_request(std::move(spec), std::move(handler), options);
}

EngineStats Engine::stats() const {
  EngineStats stats = core_->stats_;
  stats.server_transactions = core_->server_transactions_.size();
  stats.client_transactions = core_->client_transactions_.size();
  stats.dialogs = core_->dialogs_.size();
  stats.tcp_connections = core_->transport_.tcp_connections();
  stats.udp_send_dropped = core_->transport_.udp_send_dropped();
  return stats;
}

boost::asio::any_io_executor Engine::get_executor() const { return core_->executor_; }

}  // namespace astmrf::sip
