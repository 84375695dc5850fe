// The SignalingBackend over drachtio connections: what drachtio-server's frames
// mean for transactions and dialogs (see docs/drachtio.md, "Semantics").
#pragma once

#include "connection.hpp"

#include <astmrf/detail/async.hpp>
#include <astmrf/srf/drachtio.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace astmrf::srf::drachtio {

class DrachtioBackend;

class DrachtioDialog final : public BackendDialog, public std::enable_shared_from_this<DrachtioDialog> {
 public:
  /// What identifies the dialog, known from the INVITE and its 2xx.
  struct Identity {
    std::string call_id, local_tag, remote_tag, local_uri, remote_uri;
  };

  DrachtioDialog(std::weak_ptr<DrachtioBackend> backend, std::weak_ptr<Connection> connection, std::string id,
                 Identity identity);

  std::string id() const override { return id_; }
  std::string call_id() const override { return identity_.call_id; }
  std::string local_tag() const override { return identity_.local_tag; }
  std::string remote_tag() const override { return identity_.remote_tag; }
  std::string local_uri() const override { return identity_.local_uri; }
  std::string remote_uri() const override { return identity_.remote_uri; }
  bool terminated() const override { return terminated_; }
  void on_request(BackendRequestHandler handler) override { request_handler_ = std::move(handler); }
  void on_ack(std::function<void(const sip::Message&)> handler) override { ack_handler_ = std::move(handler); }
  void on_end(std::function<void(DialogEndReason)> handler) override { end_handler_ = std::move(handler); }
  std::shared_ptr<BackendClientTransaction> request(RequestSpec spec, BackendResponseHandler handler) override;
  void bye(HeaderList headers) override;
  void ack(std::string content_type, std::string body) override;

  // From the backend.
  void acked(const sip::Message& ack);
  void incoming(const std::shared_ptr<BackendServerTransaction>& transaction);
  void end(DialogEndReason reason);
  [[nodiscard]] bool was_acked() const noexcept { return acked_; }
  [[nodiscard]] const std::weak_ptr<Connection>& connection() const noexcept { return connection_; }
  /// UAS: drachtio-server chooses our To-tag; it is known once the 2xx was sent.
  void set_local_tag(std::string tag) { identity_.local_tag = std::move(tag); }
  /// UAC: the Request-URI of the INVITE, for the ACK.
  void set_ack_uri(std::string uri) { ack_uri_ = std::move(uri); }

 private:
  std::weak_ptr<DrachtioBackend> backend_;
  std::weak_ptr<Connection> connection_;
  std::string id_;
  Identity identity_;
  std::string ack_uri_;
  bool terminated_{false};
  bool acked_{false};
  BackendRequestHandler request_handler_;
  std::function<void(const sip::Message&)> ack_handler_;
  std::function<void(DialogEndReason)> end_handler_;
};

class DrachtioServerTransaction final : public BackendServerTransaction,
                                        public std::enable_shared_from_this<DrachtioServerTransaction> {
 public:
  DrachtioServerTransaction(std::weak_ptr<DrachtioBackend> backend, std::weak_ptr<Connection> connection,
                            std::string txn_id, sip::Message message, std::string source,
                            std::shared_ptr<DrachtioDialog> dialog);
  const sip::Message& message() const override { return message_; }
  std::string source() const override { return source_; }
  bool cancelled() const override { return cancelled_; }
  bool final_sent() const override { return final_sent_; }
  void on_cancel(std::function<void()> handler) override { cancel_handler_ = std::move(handler); }
  std::shared_ptr<BackendDialog> respond(ResponseSpec response) override;
  std::shared_ptr<BackendDialog> dialog() const override { return dialog_; }

  /// drachtio already answered the CANCEL (200) and the INVITE (487).
  void cancel_received();
  [[nodiscard]] const std::weak_ptr<Connection>& connection() const noexcept { return connection_; }

 private:
  std::weak_ptr<DrachtioBackend> backend_;
  std::weak_ptr<Connection> connection_;
  std::string txn_id_;
  sip::Message message_;
  std::string source_;
  std::shared_ptr<DrachtioDialog> dialog_;
  bool cancelled_{false};
  bool final_sent_{false};
  std::function<void()> cancel_handler_;
};

class DrachtioClientTransaction final : public BackendClientTransaction,
                                        public std::enable_shared_from_this<DrachtioClientTransaction> {
 public:
  DrachtioClientTransaction(std::weak_ptr<DrachtioBackend> backend, std::weak_ptr<Connection> connection,
                            std::string method, std::string uri, BackendResponseHandler handler, bool manual_ack,
                            std::shared_ptr<DrachtioDialog> dialog);
  void cancel() override;
  bool local_failure() const override { return local_failure_; }

  /// The `Msg sent:` confirmation (txn id) or a refusal / lost connection (null).
  void confirmed(const wire::Frame* frame);
  void response(const sip::Message& message, const wire::Frame& frame);
  void fail_locally(int status, const std::string& reason);
  [[nodiscard]] const std::string& txn_id() const noexcept { return txn_id_; }
  [[nodiscard]] bool done() const noexcept { return done_; }
  [[nodiscard]] const std::weak_ptr<Connection>& connection() const noexcept { return connection_; }

 private:
  void send_cancel();

  std::weak_ptr<DrachtioBackend> backend_;
  std::weak_ptr<Connection> connection_;
  std::string method_;
  std::string uri_;
  BackendResponseHandler handler_;
  bool manual_ack_;
  std::shared_ptr<DrachtioDialog> in_dialog_;  ///< set for requests inside a dialog
  std::string txn_id_;
  bool cancel_requested_{false};
  bool cancel_sent_{false};
  bool done_{false};
  bool local_failure_{false};
};

class DrachtioBackend : public Listener, public std::enable_shared_from_this<DrachtioBackend> {
 public:
  DrachtioBackend(boost::asio::any_io_executor executor, Options options);
  DrachtioBackend(boost::asio::any_io_executor executor, ListenerOptions options);
  ~DrachtioBackend() override;

  // SignalingBackend
  boost::asio::any_io_executor get_executor() const override { return executor_; }
  void on_request(BackendRequestHandler handler) override { request_handler_ = std::move(handler); }
  std::shared_ptr<BackendClientTransaction> send_request(RequestSpec spec, BackendResponseHandler handler,
                                                         bool manual_ack) override;
  void route(const std::string& method) override;

  // Backend / Listener
  void close() override;
  void on_event(std::function<void(const ConnectionEvent&)> handler) override { event_handler_ = std::move(handler); }
  void on_cdr(std::function<void(const Cdr&)> handler) override { cdr_handler_ = std::move(handler); }
  std::vector<ConnectionState> states() const override;
  std::uint16_t port() const override;

  void start();  ///< connects (inbound) or starts accepting (outbound)

  // For transactions and dialogs.
  void add_dialog(const std::shared_ptr<DrachtioDialog>& dialog);
  void remove_dialog(const std::string& id);
  void add_client_transaction(const std::shared_ptr<DrachtioClientTransaction>& transaction);
  void remove_client_transaction(const std::string& txn_id);
  void remove_server_transaction(const std::string& txn_id);
  /// Runs `f` on the executor later (never inside the caller).
  void defer(std::function<void()> f);

 protected:
  void start_connect(ConnectHandler handler) override;

 private:
  void on_frame(Connection& connection, wire::Frame& frame);
  void on_sip(Connection& connection, const wire::Frame& frame);
  void on_request_frame(Connection& connection, const wire::Frame& frame, sip::Message message);
  void on_state(Connection& connection, ConnectionState state, const std::string& detail);
  std::vector<std::string> routes() const;
  std::shared_ptr<Connection> pick_connection();
  void accept();
  void check_connect_waiters();
  void finish_connect_waiters(const std::exception_ptr& error);
  Connection::Callbacks callbacks();

  boost::asio::any_io_executor executor_;
  std::optional<Options> options_;
  std::optional<ListenerOptions> listener_options_;
  std::shared_ptr<const Observers> observers_;  // made by start()
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::size_t next_connection_{0};
  bool started_{false};
  bool closed_{false};
  std::vector<std::string> routes_;  ///< lower-case methods, in first-use order
  BackendRequestHandler request_handler_;
  std::function<void(const ConnectionEvent&)> event_handler_;
  std::function<void(const Cdr&)> cdr_handler_;
  std::map<std::string, std::shared_ptr<DrachtioDialog>, std::less<>> dialogs_;
  std::map<std::string, std::shared_ptr<DrachtioServerTransaction>, std::less<>> server_transactions_;
  std::map<std::string, std::shared_ptr<DrachtioClientTransaction>, std::less<>> client_transactions_;
  std::vector<std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr)>>> connect_waiters_;
  std::unique_ptr<boost::asio::steady_timer> connect_timer_;
  std::string last_auth_failure_;
};

}  // namespace astmrf::srf::drachtio
