// The engine's state and logic, shared by engine.cpp (input dispatch),
// server_transactions.cpp, client_transactions.cpp and dialogs.cpp.
#pragma once

#include "engine_metrics.hpp"
#include "locator.hpp"
#include "message_factory.hpp"
#include "timer_coalescing.hpp"
#include "transport_layer.hpp"

#include <astmrf/sip/engine/engine.hpp>

#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <memory_resource>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace astmrf::sip {

using Timer = boost::asio::steady_timer;
using Clock = std::chrono::steady_clock;

class EngineCore : public std::enable_shared_from_this<EngineCore> {
 public:
  EngineCore(boost::asio::any_io_executor executor, EngineConfig config);
  ~EngineCore();

  void start();
  void stop();

  // ---- input (engine.cpp)
  void on_input(std::string_view raw, Result<Message>* parsed, const PeerAddress& source);
  /// A connection is gone. A browser's (ws, wss) cannot be reached again: its unanswered
  /// INVITEs end as if cancelled (the application's on_cancel runs).
  void on_connection_lost(const PeerAddress& peer);
  void on_request(Message&& request, const PeerAddress& source);
  void on_response(Message&& response, const PeerAddress& source);
  void reject_unparsable(std::string_view raw, const ParseError& error, const PeerAddress& source);
  void send_stateless(const Message& request, const PeerAddress& source, ResponseSpec spec);
  boost::system::error_code send(const PeerAddress& destination, std::string_view data,
                                 detail::TransportLayer::SendHandler done = {});
  // A first send (not a retransmission) of a request or a response, for the metrics.
  void count_request_sent(MethodId method) {
    if (metrics_) metrics_->request_sent(method);
  }
  void count_response_sent(MethodId method, int status) {
    if (metrics_) metrics_->response_sent(method, status);
  }
  void count_retransmission_sent() {
    ++stats_.retransmissions_sent;
    if (metrics_) metrics_->retransmissions_sent->inc();
  }
  void count_retransmission_absorbed() {
    ++stats_.retransmissions_absorbed;
    if (metrics_) metrics_->retransmissions_absorbed->inc();
  }
  void count_parse_error() {
    ++stats_.parse_errors;
    if (metrics_) metrics_->dropped(detail::EngineMetrics::Drop::parse_error);
  }
  void count_stray_response() {
    ++stats_.stray_responses;
    if (metrics_) metrics_->dropped(detail::EngineMetrics::Drop::stray_response);
  }
  // The gauges follow the tables' sizes; called where an entry comes or goes.
  void server_transactions_changed() {
    if (metrics_) metrics_->server_transactions->set(static_cast<double>(server_transactions_.size()));
  }
  void client_transactions_changed() {
    if (metrics_) metrics_->client_transactions->set(static_cast<double>(client_transactions_.size()));
  }
  void dialogs_changed() {
    if (metrics_) metrics_->dialogs->set(static_cast<double>(dialogs_.size()));
  }
  // Log lines: `warn` for input that could not be parsed (no message text: it may hold secrets).
  void log_parse_error(const PeerAddress& source, std::string_view reason);
  void log_dialog_created(const Dialog& dialog);

  // ---- server transactions (server_transactions.cpp)
  std::shared_ptr<IncomingRequest> create_server_transaction(Message&& request, const PeerAddress& source,
                                                             std::string key);
  bool absorb_retransmission(std::string_view key, const Message& request);
  void handle_cancel(Message&& cancel, const PeerAddress& source);
  void handle_ack_for_non2xx(IncomingRequest& transaction, const Message& ack);
  std::shared_ptr<Dialog> respond(IncomingRequest& transaction, ResponseSpec spec);
  void deliver(const std::shared_ptr<IncomingRequest>& transaction,
               const std::function<void(const std::shared_ptr<IncomingRequest>&)>& handler, int default_status);
  void terminate(IncomingRequest& transaction);
  // RFC 3262 (UAS): reliable provisionals, their PRACKs, their time-out.
  bool reliable_wanted(const IncomingRequest& transaction, ResponseSpec& spec) const;
  void send_reliable(IncomingRequest& transaction, ResponseSpec spec);
  void schedule_reliable(const std::shared_ptr<IncomingRequest>& transaction, std::chrono::milliseconds interval,
                         Clock::time_point deadline);
  void reliable_timed_out(IncomingRequest& transaction);
  // A PRACK for one of our early dialogs: true when handled (answered).
  bool handle_prack(Message& prack, const PeerAddress& source, std::string& key);
  void forget_early(IncomingRequest& transaction);
  // RFC 3262 (UAC): PRACKs a reliable provisional; false for a duplicate (not passed up).
  bool prack_provisional(ClientRequest& transaction, const Message& response);
  void schedule_trying(const std::shared_ptr<IncomingRequest>& transaction);
  void schedule_server_timer(const std::shared_ptr<IncomingRequest>& transaction, std::chrono::milliseconds interval,
                             Clock::time_point deadline);

  // ---- client transactions (client_transactions.cpp)
  std::shared_ptr<ClientRequest> send_request(RequestSpec spec, ResponseHandler handler, InviteOptions options);
  std::shared_ptr<ClientRequest> start_client_transaction(std::string wire, Message request,
                                                          const PeerAddress& destination, ResponseHandler handler,
                                                          const std::shared_ptr<Dialog>& dialog,
                                                          std::string_view branch = {});
  // The text of an out-of-dialog request for `spec` sent over `transport`; `via` gets its Via.
  std::string build_request(const RequestSpec& spec, const PeerAddress& destination, std::string& via);
  // Sends (or resends, with a new branch) a request over its transaction, to its destination_.
  void launch(const std::shared_ptr<ClientRequest>& transaction, std::string_view branch);
  // RFC 3263: the targets of a request sent to a host name are known (or not).
  void located(const std::shared_ptr<ClientRequest>& transaction, detail::Locator::Result result);
  // RFC 3263 4.3: the request goes to its next target; false when there is none (or it was cancelled).
  bool failover(ClientRequest& transaction, std::string_view why);
  // stop(): requests still waiting for DNS get a local 503.
  void fail_locating();
  void client_response(ClientRequest& transaction, Message&& response);
  void client_final(ClientRequest& transaction, const Message& response, const std::shared_ptr<Dialog>& dialog);
  void client_local_failure(ClientRequest& transaction, int status, std::string_view reason);
  void cancel(ClientRequest& transaction);
  void send_cancel(ClientRequest& transaction);
  void terminate(ClientRequest& transaction);
  void schedule_client_timer(const std::shared_ptr<ClientRequest>& transaction, std::chrono::milliseconds interval,
                             Clock::time_point deadline);
  void on_2xx_retransmission(const Message& response);

  // ---- dialogs (dialogs.cpp)
  std::shared_ptr<Dialog> create_uas_dialog(IncomingRequest& invite, const std::string& response_wire,
                                            bool table = true);
  // `table`: entered in the dialog table (false: an early dialog, for PRACK/UPDATE only).
  std::shared_ptr<Dialog> create_uac_dialog(ClientRequest& invite, const Message& response, bool table = true);
  // RFC 3262/3311: early dialogs (UPDATE reaches them); leave_early ends one silently.
  void enter_early(const std::shared_ptr<Dialog>& dialog);
  void leave_early(const std::shared_ptr<Dialog>& dialog);
  std::shared_ptr<Dialog> find_early_dialog(std::string_view call_id, std::string_view local_tag,
                                            std::string_view remote_tag) const;
  std::shared_ptr<Dialog> find_dialog(std::string_view call_id, std::string_view local_tag,
                                      std::string_view remote_tag) const;
  void in_dialog_request(const std::shared_ptr<Dialog>& dialog, Message&& request, const PeerAddress& source,
                         std::string key);
  void send_2xx_reliably(Dialog& dialog, std::string wire, std::uint32_t cseq);
  void dialog_ack(Dialog& dialog, const Message& ack);
  void send_ack(Dialog& dialog, std::uint32_t cseq, std::string_view content_type, std::string_view body);
  std::shared_ptr<ClientRequest> dialog_request(Dialog& dialog, RequestSpec spec, ResponseHandler handler);
  void bye(Dialog& dialog, HeaderList headers, DialogEndReason reason);
  void end(Dialog& dialog, DialogEndReason reason);

  // ---- helpers
  std::shared_ptr<Timer> timer_of(const std::shared_ptr<void>& slot) const {
    return std::static_pointer_cast<Timer>(slot);
  }
  std::shared_ptr<void> new_timer() { return std::make_shared<Timer>(executor_); }
  // Arms a transaction's one timer for its next retransmission (`interval` from now; none
  // when 0) or its `deadline`, whichever comes first, and runs `fire(core, transaction,
  // deadline_reached)` when it expires while both the transaction and the engine live.
  // Server and client transactions differ only in what `fire` does.
  template <typename Transaction, typename Fire>
  void arm_transaction_timer(const std::shared_ptr<Transaction>& transaction, std::chrono::milliseconds interval,
                             Clock::time_point deadline, Fire fire) {
    auto timer = timer_of(transaction->timer_);
    const auto now = Clock::now();
    auto next = deadline;
    if (interval.count() > 0) next = std::min(deadline, now + interval);
    if (next == deadline) next = detail::coalesced<Clock>(deadline, now);  // a bound, not a retransmission
    timer->expires_at(next);
    timer->async_wait([weak = std::weak_ptr<Transaction>(transaction), deadline,
                       fire = std::move(fire)](boost::system::error_code ec) {
      auto t = weak.lock();
      if (ec || !t || t->terminated_) return;
      auto core = t->core_.lock();
      if (!core) return;
      fire(*core, t, Clock::now() >= deadline);
    });
  }
  std::chrono::milliseconds t1() const { return config_.timers.t1; }
  std::chrono::milliseconds t2() const { return config_.timers.t2; }
  std::chrono::milliseconds t4() const { return config_.timers.t4; }
  // The sockets are bound by start(): their addresses are asked for once, not per message.
  struct LocalPoint {
    PeerAddress address;
    std::string contact;  // contact_uri(address)
    bool bound{false};    // the engine listens on this transport and family
  };
  // What messages toward `peer` carry in Via, Contact and From: the listening point of
  // the same transport and address family (a caller on IPv6 is given an IPv6 Contact while
  // Asterisk on IPv4 gets an IPv4 one); for tcp and tls, which connect without listening,
  // another transport's point of that family. Null: the engine listens on no point of that
  // family usable for the transport (a request there fails: no_listening_point_reason).
  const LocalPoint* local_point(Transport transport, const boost::asio::ip::address& peer) const;
  // local_point, or (never expected for a peer that reached us) the transport's first point.
  const LocalPoint& local_for(Transport transport, const boost::asio::ip::address& peer) const;
  const std::string& local_contact(Transport transport, const boost::asio::ip::address& peer) const {
    return local_for(transport, peer).contact;
  }
  static std::string no_listening_point_reason(const PeerAddress& destination);
  static std::size_t index(Transport transport) { return static_cast<std::size_t>(transport); }
  static std::size_t index(Transport transport, bool v6) { return index(transport) * 2 + (v6 ? 1 : 0); }
  // A request that cannot be sent (no listening point of its family): the handler gets a
  // local 503 carrying `reason`, from the executor, as for a transport error.
  std::shared_ptr<ClientRequest> refuse_request(Message request, const PeerAddress& destination,
                                                ResponseHandler handler, const std::shared_ptr<Dialog>& dialog,
                                                std::string reason);
  static void append_dialog_key(std::string& out, std::string_view call_id, std::string_view local_tag,
                                std::string_view remote_tag);
  // Puts `value` under `key` (a view of value's own key_), replacing any entry with that key.
  template <class Map, class Value>
  static void insert_keyed(Map& map, std::string_view key, Value value) {
    auto [it, inserted] = map.try_emplace(key, value);
    if (!inserted) {
      map.erase(it);  // the old key views the old value's text: replace the whole entry
      map.emplace(key, std::move(value));
    }
  }

  boost::asio::any_io_executor executor_;
  EngineConfig config_;
  detail::TransportLayer transport_;
  detail::SipIds ids_;
  std::function<void(const std::shared_ptr<IncomingRequest>&)> request_handler_;
  // The tables' nodes come from a pool (declared first: it outlives them), so an entry
  // costs no malloc once the pool has grown to the number of calls up at once.
  std::pmr::unsynchronized_pool_resource table_pool_;
  // Each key views the key_ text of the object its entry holds (alive while the entry
  // is): no key copied per insert. Look-ups build their key in lookup_key_.
  std::pmr::unordered_map<std::string_view, std::shared_ptr<IncomingRequest>> server_transactions_{&table_pool_};
  std::pmr::unordered_map<std::string_view, std::shared_ptr<ClientRequest>> client_transactions_{&table_pool_};
  std::pmr::unordered_map<std::string_view, std::shared_ptr<Dialog>> dialogs_{&table_pool_};
  // INVITEs with a reliable provisional sent (RFC 3262), by "<Call-ID>|<our tag>": PRACKs find them.
  std::unordered_map<std::string, std::weak_ptr<IncomingRequest>> early_uas_;
  // Early dialogs (both roles) by their dialog key: an UPDATE before the final response finds them.
  std::unordered_map<std::string, std::weak_ptr<Dialog>> early_dialogs_;
  mutable std::string lookup_key_;          // reused: a look-up allocates nothing once it has grown
  std::vector<NameAddr> contacts_scratch_;  // first_contact_uri's list, reused: no allocation once grown
  std::array<LocalPoint, transport_count * 2> local_points_;     // by index(transport, v6)
  std::unique_ptr<detail::Locator> locator_;                     // from start() to stop(): host names (RFC 3263)
  std::unordered_set<std::shared_ptr<ClientRequest>> locating_;  // sent to a name, target not known yet
  EngineStats stats_;
  std::unique_ptr<detail::EngineMetrics> metrics_;  // null: metrics off
  std::shared_ptr<spdlog::logger> log_;             // never null
  std::size_t pending_server_transactions_{0};      // created and not finally answered
  bool running_{false};
};

}  // namespace astmrf::sip
