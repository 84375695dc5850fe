// The embedded SIP engine: transports (UDP, TCP), the RFC 3261 transaction layer
// and dialogs, in process, on one executor. It is the default signaling backend of
// astmrf::srf (the drachtio-server client is the other one).
//
// Threading: every object here belongs to the engine's executor. Run it on one
// thread (or a strand); call the engine and its handles from that executor only.
// Handles (IncomingRequest, ClientRequest, Dialog) stay safe to hold and call after
// the engine is gone: calls then do nothing.
#pragma once

#include <astmrf/sip/engine/config.hpp>
#include <astmrf/sip/engine/tls_error.hpp>
#include <astmrf/sip/engine/transport.hpp>
#include <astmrf/sip/message.hpp>
#include <astmrf/sip/spec.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::sip {

class EngineCore;

/// The engine's key to the constructors of the objects it hands out (requests, dialogs):
/// only EngineCore can make one, so applications cannot construct them while the engine
/// still makes each with one std::make_shared allocation.
class EngineKey {
  friend class EngineCore;
  EngineKey() = default;
};
class Dialog;

/// Called for each response to a request the application sent: provisional ones,
/// then exactly one final. `dialog` is set for a 2xx to an INVITE. When no
/// response arrives (timer B/F) or the transport fails, the engine reports a local
/// 408 or 503 (ClientRequest::local_failure() tells them apart from real ones).
using ResponseHandler = std::function<void(const Message& response, const std::shared_ptr<Dialog>& dialog)>;

/// A request received by the engine, with its server transaction.
class IncomingRequest : public std::enable_shared_from_this<IncomingRequest> {
 public:
  /// The request as received.
  [[nodiscard]] const Message& message() const noexcept { return message_; }
  /// Where it came from (transport, address, port).
  [[nodiscard]] const PeerAddress& source() const noexcept { return source_; }
  /// The dialog the request belongs to (in-dialog requests), or the one a 2xx created.
  [[nodiscard]] std::shared_ptr<Dialog> dialog() const { return dialog_.lock(); }
  /// True once the peer CANCELled it (the engine answered 487).
  [[nodiscard]] bool cancelled() const noexcept { return cancelled_; }
  /// True once a final response was sent.
  [[nodiscard]] bool final_sent() const noexcept { return final_status_ >= 200; }
  /// The final response's status, 0 before one.
  [[nodiscard]] int final_status() const noexcept { return final_status_; }

  /// Runs when the peer CANCELs this INVITE before a final response; the engine
  /// has already answered the CANCEL 200 and the INVITE 487.
  void on_cancel(std::function<void()> handler);
  /// INVITE: runs for each PRACK that acknowledges one of our reliable provisional
  /// responses (RFC 3262), after the engine answered it 200; its body may hold the SDP
  /// answer to an offer in the provisional (or a new offer).
  void on_prack(std::function<void(const Message& prack)> handler);
  /// INVITE: the early dialog made by our first reliable provisional response (RFC 3262),
  /// null before one. Through it the application sends an UPDATE (RFC 3311) before the
  /// final response and, with Dialog::on_request, receives the caller's. It ends (without
  /// an on_end report) when the final response is sent; the 2xx's dialog goes on from its CSeqs.
  [[nodiscard]] std::shared_ptr<Dialog> early_dialog() const { return early_dialog_; }
  /// True when the INVITE has `Supported: 100rel` or `Require: 100rel`: its provisional
  /// responses may be sent reliably.
  [[nodiscard]] bool supports_100rel() const;

  /// Sends a provisional (101-199) or final response. A 2xx to an INVITE creates
  /// the dialog (returned; confirmed when the ACK arrives).
  /// Reliable provisionals (RFC 3262): a 101-199 to an INVITE that supports 100rel is sent
  /// reliably when `response` has a `Require: 100rel` header, or always when the INVITE
  /// requires 100rel: an RSeq is added and it is retransmitted (T1 doubling) until its
  /// PRACK; the engine answers the PRACK 200 (481 for one matching nothing). Provisionals
  /// sent meanwhile wait for it (queued, in order). A 2xx waits for the PRACK of a
  /// reliable provisional that carried a body (RFC 3262 3): the dialog is returned at once,
  /// the 2xx goes out when the PRACK arrives. Without a PRACK for 64*T1 the INVITE is
  /// answered 500 (a held 2xx is dropped and its dialog ends, reason no_ack) and later
  /// responses are ignored. Throws std::logic_error
  /// after a final response, sip::HeaderInjectionError on CR/LF/NUL in a header.
  std::shared_ptr<Dialog> respond(ResponseSpec response);

  /// Made by the engine only (an EngineKey is needed).
  IncomingRequest(EngineKey key, std::weak_ptr<EngineCore> core, Message message, PeerAddress source);
  /// Ends with the last reference.
  ~IncomingRequest();

 private:
  friend class EngineCore;
  std::weak_ptr<EngineCore> core_;
  Message message_;
  PeerAddress source_;
  std::string key_;        // transaction key
  std::string local_tag_;  // To tag of our responses
  std::string last_response_;
  std::weak_ptr<Dialog> dialog_;
  std::function<void()> on_cancel_;
  std::function<void(const Message&)> on_prack_;
  std::shared_ptr<void> timer_;  // transaction timers (engine-owned type)
  // RFC 3262 (UAS): the reliable provisional awaiting its PRACK, the ones waiting behind it.
  std::string reliable_wire_;  // empty: none unacknowledged
  std::vector<ResponseSpec> reliable_queue_;
  std::shared_ptr<void> prack_timer_;
  std::string early_key_;  // its entry in the engine's early-dialog table, when it has one
  std::shared_ptr<Dialog> early_dialog_;
  std::uint32_t rseq_{0};
  int final_status_{0};
  bool reliable_has_body_{false};
  bool held_2xx_{false};      // a 2xx built, sent once the PRACK arrives
  bool prack_failed_{false};  // no PRACK came: answered 500
  bool cancelled_{false};
  bool is_invite_{false};
  bool confirmed_{false};  // ACK to a non-2xx final seen
  bool terminated_{false};
};

/// A request the application sent, with its client transaction.
class ClientRequest : public std::enable_shared_from_this<ClientRequest> {
 public:
  /// The request as sent.
  [[nodiscard]] const Message& request() const noexcept { return request_; }
  /// True once a final response arrived (or was made up locally).
  [[nodiscard]] bool completed() const noexcept { return final_status_ >= 200; }
  /// The final response's status, 0 before one.
  [[nodiscard]] int final_status() const noexcept { return final_status_; }
  /// True when the final response was made up locally (timeout, transport error).
  [[nodiscard]] bool local_failure() const noexcept { return local_failure_; }
  /// Why the request's target could not be located by DNS (RFC 3263: "cannot resolve
  /// 'example.com': Domain name not found", no SRV target with an address...); empty when
  /// it was (or needed no DNS). When set, the final response was a local 503 whose reason
  /// says "DNS: " and this text, and the request was never sent.
  [[nodiscard]] const std::string& dns_error() const noexcept { return dns_error_; }
  /// True when dns_error() is the DNS saying the name or its records do not exist (NXDOMAIN,
  /// no data), as opposed to no DNS answer at all.
  [[nodiscard]] bool dns_not_found() const noexcept { return dns_not_found_; }
  /// Where the request went (its current target: a failover moves it); the default
  /// PeerAddress while its host name is being resolved.
  [[nodiscard]] const PeerAddress& destination() const noexcept { return destination_; }
  /// The transport's error when the request could not be sent (local 503): e.g. a TLS
  /// handshake failure (is_tls_handshake_error(), <astmrf/sip/engine/tls_error.hpp>).
  [[nodiscard]] const boost::system::error_code& transport_error() const noexcept { return transport_error_; }

  /// INVITE: the early dialog of the last reliable provisional response (RFC 3262; the
  /// engine PRACKed it), e.g. to send an UPDATE with a new offer (RFC 3311) before the
  /// final response, and (Dialog::on_request) to receive the callee's; null when none came.
  /// It ends (without an on_end report) with the final response; the 2xx's dialog goes on
  /// from its CSeqs.
  [[nodiscard]] std::shared_ptr<Dialog> early_dialog() const { return early_dialog_; }

  /// INVITE only: sends CANCEL now, or as soon as a provisional response arrives
  /// (RFC 3261 9.1). A 2xx that races the CANCEL is ACKed and BYEd by the engine
  /// and reported to the handler as a local 487. Idempotent.
  void cancel();

  /// Made by the engine only (an EngineKey is needed).
  ClientRequest(EngineKey key, std::weak_ptr<EngineCore> core, Message request, PeerAddress destination,
                ResponseHandler handler);
  /// Ends with the last reference.
  ~ClientRequest();

 private:
  friend class EngineCore;
  std::weak_ptr<EngineCore> core_;
  Message request_;
  std::string wire_;  // request text for retransmissions
  PeerAddress destination_;
  ResponseHandler handler_;
  std::string key_;
  std::string ack_;  // the ACK for a non-2xx final, resent on retransmissions
  std::shared_ptr<void> timer_;
  std::weak_ptr<Dialog> dialog_;  // in-dialog requests: the dialog they belong to
  std::string dns_error_;
  std::shared_ptr<Dialog> early_dialog_;  // RFC 3262: made for the PRACKs, not in the dialog table
  std::uint32_t last_rseq_{0};            // of the reliable provisionals PRACKed (duplicates are not)
  std::shared_ptr<void> failover_;        // RFC 3263: the spec and the targets left (engine-owned type)
  std::uint32_t attempt_{0};              // which target; a late transport error of an earlier one is ignored
  int final_status_{0};
  bool provisional_seen_{false};
  bool cancel_requested_{false};
  bool cancel_sent_{false};
  boost::system::error_code transport_error_{};
  bool local_failure_{false};
  bool manual_ack_{false};
  bool terminated_{false};
  bool locating_{false};  // its host name is being resolved: nothing sent yet
  bool dns_not_found_{false};
};

/// A SIP dialog (RFC 3261 section 12) created by a 2xx to an INVITE.
class Dialog : public std::enable_shared_from_this<Dialog> {
 public:
  /// Which side sent the INVITE: this engine (uac) or the peer (uas).
  enum class Role : std::uint8_t { uac, uas };
  /// The dialog's life: waiting for the ACK of its 2xx, confirmed, terminated.
  enum class State : std::uint8_t {
    confirming,  ///< 2xx sent or received, ACK not yet
    confirmed,
    terminated,
  };

  /// UAC or UAS.
  [[nodiscard]] Role role() const noexcept { return role_; }
  /// Its current state.
  [[nodiscard]] State state() const noexcept { return state_; }
  /// The Call-ID.
  [[nodiscard]] const std::string& call_id() const noexcept { return call_id_; }
  /// Our tag.
  [[nodiscard]] const std::string& local_tag() const noexcept { return local_tag_; }
  /// The peer's tag.
  [[nodiscard]] const std::string& remote_tag() const noexcept { return remote_tag_; }
  /// Our URI (From as UAC, To as UAS).
  [[nodiscard]] const std::string& local_uri() const noexcept { return local_uri_; }
  /// The peer's URI.
  [[nodiscard]] const std::string& remote_uri() const noexcept { return remote_uri_; }
  /// Where in-dialog requests go: the peer's Contact (refreshed by re-INVITE).
  [[nodiscard]] const std::string& remote_target() const noexcept { return remote_target_; }
  /// The route set from Record-Route, in the order of the Route headers to send.
  [[nodiscard]] const std::vector<std::string>& route_set() const noexcept { return route_set_; }
  /// The transport address requests are sent to.
  [[nodiscard]] const PeerAddress& peer() const noexcept { return peer_; }
  /// True for an early dialog (RFC 3262/3311: made by a reliable provisional response,
  /// for PRACK and UPDATE only): IncomingRequest::early_dialog(), ClientRequest::early_dialog().
  [[nodiscard]] bool early() const noexcept { return early_; }
  /// Why it ended, once it has.
  [[nodiscard]] std::optional<DialogEndReason> end_reason() const noexcept { return end_reason_; }
  /// "<Call-ID>;local=<tag>;remote=<tag>": unique per dialog.
  [[nodiscard]] std::string id() const;

  /// In-dialog requests from the peer (re-INVITE, INFO, UPDATE, NOTIFY, REFER,
  /// MESSAGE, OPTIONS...). BYE is answered by the engine and reported by on_end.
  /// Without a handler the engine answers 200, and 488 to a re-INVITE.
  void on_request(std::function<void(const std::shared_ptr<IncomingRequest>&)> handler);
  /// The ACK that confirms a 2xx this side sent (initial INVITE or re-INVITE).
  void on_ack(std::function<void(const Message& ack)> handler);
  /// The dialog ended; runs once.
  void on_end(std::function<void(DialogEndReason reason)> handler);

  /// Sends a request in the dialog (method, headers and body of `spec`; its URI,
  /// From, To and Call-ID are the dialog's). Returns null once the dialog ended.
  std::shared_ptr<ClientRequest> request(RequestSpec spec, ResponseHandler handler);
  /// Sends BYE and ends the dialog (reason local_bye). Idempotent.
  void bye(HeaderList headers = {});
  /// UAC with InviteOptions::manual_ack: sends the ACK for the 2xx (e.g. with the
  /// SDP answer of a late offer). Later 2xx retransmissions get the same ACK.
  void ack(std::string content_type = {}, std::string body = {});

  /// Made by the engine only (an EngineKey is needed).
  Dialog(EngineKey key, std::weak_ptr<EngineCore> core);
  /// Ends with the last reference.
  ~Dialog();

 private:
  friend class EngineCore;
  std::weak_ptr<EngineCore> core_;
  Role role_{Role::uas};
  State state_{State::confirming};
  std::string call_id_, local_tag_, remote_tag_;
  std::string local_uri_, remote_uri_, remote_target_, local_contact_;
  std::string key_;                     // the engine's dialog table key (its entry views this text)
  std::vector<std::string> route_set_;  // in the order to put in Route headers
  PeerAddress peer_;
  std::uint32_t local_cseq_{0};
  std::uint32_t remote_cseq_{0};
  bool remote_cseq_set_{false};
  std::optional<DialogEndReason> end_reason_;
  std::function<void(const std::shared_ptr<IncomingRequest>&)> on_request_;
  std::function<void(const Message&)> on_ack_;
  std::function<void(DialogEndReason)> on_end_;
  // 2xx retransmission until ACK (UAS), per INVITE CSeq.
  std::string pending_2xx_;
  std::uint32_t pending_2xx_cseq_{0};
  std::shared_ptr<void> timer_;
  // ACK for the latest 2xx we received (UAC), resent on 2xx retransmissions.
  std::string last_ack_;
  std::uint32_t last_ack_cseq_{0};
  bool awaiting_manual_ack_{false};
  bool early_{false};
  bool outgoing_invite_pending_{false};  // for glare detection (491)
  bool incoming_invite_pending_{false};
};

/// Options of Engine::send_request for an INVITE.
struct InviteOptions {
  /// Leave the ACK for the 2xx to the application (Dialog::ack), e.g. to carry
  /// the SDP answer when the INVITE had no offer. Default: the engine ACKs at once.
  bool manual_ack{false};
  /// Adds `Supported: 100rel` (RFC 3262) unless the request has a Supported header. A
  /// reliable provisional response is PRACKed by the engine whatever this says.
  bool supported_100rel{false};
};

/// Counters and gauges of an Engine.
struct EngineStats {
  /// Messages parsed from the network.
  std::uint64_t messages_received{0};
  /// Messages sent, retransmissions included.
  std::uint64_t messages_sent{0};
  /// Retransmissions this engine sent (UDP timers).
  std::uint64_t retransmissions_sent{0};
  /// Retransmitted requests absorbed by a transaction (its last response re-sent).
  std::uint64_t retransmissions_absorbed{0};
  std::uint64_t parse_errors{0};       ///< unparsable input (dropped or answered 400)
  std::uint64_t rejected_overload{0};  ///< answered 503: too many pending (or kept) server transactions
  std::uint64_t stray_responses{0};    ///< responses matching no transaction
  /// Datagrams dropped because the socket's send buffer was full (the event loop never waits
  /// to send; UDP retransmissions cover the loss).
  std::uint64_t udp_send_dropped{0};
  /// Server transactions alive.
  std::size_t server_transactions{0};
  /// Client transactions alive.
  std::size_t client_transactions{0};
  /// Dialogs alive.
  std::size_t dialogs{0};
  /// TCP connections open.
  std::size_t tcp_connections{0};
};

/// The embedded SIP engine: transports (UDP, TCP), RFC 3261 transactions and
/// dialogs, in process. It runs on the executor it is given, starts no thread,
/// and does nothing until start().
class Engine {
 public:
  /// An engine on `executor` with `config`'s listen points and timers (nothing opened yet).
  Engine(boost::asio::any_io_executor executor, EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Opens every listen point. Throws boost::system::system_error when a socket
  /// cannot be bound (port in use...).
  void start();
  /// Closes the sockets and ends every dialog (backend_stopped) without sending.
  void stop();

  /// The address a listen point of that transport is bound to (port resolved).
  [[nodiscard]] PeerAddress local_address(Transport transport) const;

  /// New requests outside any dialog. The engine sends 100 Trying to an INVITE that
  /// got no response within TimerConfig::trying (100 ms; RFC 3261 17.2.1). Without a
  /// handler the engine answers 501.
  void on_request(std::function<void(const std::shared_ptr<IncomingRequest>&)> handler);

  /// Sends a request outside any dialog, to RequestSpec::destination, else the first Route
  /// header's URI, else the Request-URI. A host name there is located by DNS (RFC 3263:
  /// NAPTR, SRV, A/AAAA, see EngineConfig::dns) before the request is built and sent; on a
  /// transport error, a time-out or a 503 the next target is tried. When no target is found,
  /// the handler gets a local 503 and ClientRequest::dns_error() says why. Throws
  /// std::invalid_argument for a destination that is not a SIP URI or "transport:host[:port]",
  /// or whose host ends in ".invalid", and sip::HeaderInjectionError.
  std::shared_ptr<ClientRequest> send_request(RequestSpec spec, ResponseHandler handler, InviteOptions options = {});

  /// Its counters.
  [[nodiscard]] EngineStats stats() const;
  /// The executor it runs on.
  [[nodiscard]] boost::asio::any_io_executor get_executor() const;

 private:
  std::shared_ptr<EngineCore> core_;
};

}  // namespace astmrf::sip
