// The drachtio backend: connections to the servers (inbound) or from them
// (outbound), and the dispatch of their frames to transactions and dialogs.
#include "backend_impl.hpp"
#include "sip_text.hpp"

#include <astmrf/sip/parser.hpp>
#include <astmrf/util/socket.hpp>
#include <astmrf/util/tls_client.hpp>

#include <boost/asio/post.hpp>

namespace astmrf::srf::drachtio {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Fields of `sip|source|bytes|transport|address|port|time|txnId|dialogId|[recvAddr|recvPort|]`.
constexpr std::size_t kSource = 2;
constexpr std::size_t kTransport = 4;
constexpr std::size_t kAddress = 5;
constexpr std::size_t kPort = 6;
constexpr std::size_t kTxnId = 8;
constexpr std::size_t kDialogId = 9;

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

std::string_view to_string(ConnectionState state) noexcept {
  switch (state) {
    case ConnectionState::connecting: return "connecting";
    case ConnectionState::authenticating: return "authenticating";
    case ConnectionState::ready: return "ready";
    case ConnectionState::disconnected: return "disconnected";
    case ConnectionState::auth_failed: return "auth_failed";
    case ConnectionState::closed: return "closed";
  }
  return "unknown";
}

DrachtioBackend::DrachtioBackend(asio::any_io_executor executor, Options options)
    : executor_(std::move(executor)), options_(std::move(options)) {
  if (options_->tls) {
    tls_context_ = util::make_client_tls_context(options_->tls_options);
  }
  if (options_->cdrs) routes_ = {"cdr:attempt", "cdr:start", "cdr:stop"};
}

DrachtioBackend::DrachtioBackend(asio::any_io_executor executor, ListenerOptions options)
    : executor_(std::move(executor)), listener_options_(std::move(options)) {
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(executor_);
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address(listener_options_->host), listener_options_->port);
  acceptor_->open(endpoint.protocol());
  util::close_on_exec(*acceptor_);
  acceptor_->set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor_->bind(endpoint);
  acceptor_->listen();
}

DrachtioBackend::~DrachtioBackend() {
  for (auto& connection : connections_) connection->close();
}

Connection::Callbacks DrachtioBackend::callbacks() {
  std::weak_ptr<DrachtioBackend> weak = shared_from_this();
  Connection::Callbacks callbacks;
  callbacks.on_frame = [weak](Connection& connection, wire::Frame& frame) {
    if (auto self = weak.lock()) self->on_frame(connection, frame);
  };
  callbacks.on_state = [weak](Connection& connection, ConnectionState state, const std::string& detail) {
    if (auto self = weak.lock()) self->on_state(connection, state, detail);
  };
  callbacks.routes = [weak] {
    auto self = weak.lock();
    return self ? self->routes() : std::vector<std::string>{};
  };
  return callbacks;
}

void DrachtioBackend::start() {
  if (started_) return;
  started_ = true;
  observers_ = options_ ? std::make_shared<const Observers>(options_->metrics, options_->logger)
                        : std::make_shared<const Observers>(listener_options_->metrics, listener_options_->logger);
  if (acceptor_) {
    accept();
    return;
  }
  Connection::Settings settings;
  settings.tags = options_->tags;
  settings.ping_interval = options_->ping_interval;
  settings.ping_timeout = options_->ping_timeout;
  settings.backoff = options_->backoff;
  settings.max_frame_bytes = options_->max_frame_bytes;
  settings.tls = options_->tls;
  settings.tls_options = options_->tls_options;
  settings.observers = observers_;
  std::vector<ServerAddress> servers{options_->server};
  servers.insert(servers.end(), options_->additional_servers.begin(), options_->additional_servers.end());
  for (auto& server : servers) {
    settings.secret = server.secret;
    connections_.push_back(
        std::make_shared<Connection>(executor_, std::move(server), settings, tls_context_, callbacks()));
  }
  // Started after the vector is complete: callbacks may look at it.
  auto connections = connections_;
  for (auto& connection : connections) connection->start();
}

void DrachtioBackend::accept() {
  std::weak_ptr<DrachtioBackend> weak = shared_from_this();
  acceptor_->async_accept([weak](error_code ec, asio::ip::tcp::socket socket) {
    auto self = weak.lock();
    if (!self || self->closed_ || ec == asio::error::operation_aborted) return;
    if (!ec) {
      util::close_on_exec(socket);
      Connection::Settings settings;
      settings.secret = self->listener_options_->secret;
      settings.tags = self->listener_options_->tags;
      settings.max_frame_bytes = self->listener_options_->max_frame_bytes;
      settings.observers = self->observers_;
      auto connection = std::make_shared<Connection>(std::move(socket), settings, self->callbacks());
      self->connections_.push_back(connection);
      connection->start();
    }
    self->accept();
  });
}

void DrachtioBackend::start_connect(ConnectHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (closed_) {
    (*once)(std::make_exception_ptr(BackendClosed()));
    return;
  }
  // Cancelled: only this wait ends (operation_aborted); the connections keep trying.
  once->on_cancel();
  connect_waiters_.push_back(std::move(once));
  start();
  if (acceptor_) {
    finish_connect_waiters(nullptr);
    return;
  }
  if (!connect_timer_ && options_->connect_timeout.count() > 0) {
    connect_timer_ = std::make_unique<asio::steady_timer>(executor_, options_->connect_timeout);
    std::weak_ptr<DrachtioBackend> weak = shared_from_this();
    connect_timer_->async_wait([weak](error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->finish_connect_waiters(
          std::make_exception_ptr(ConnectTimeout("not every drachtio-server was ready within the connect time-out")));
    });
  }
  check_connect_waiters();
}

void DrachtioBackend::finish_connect_waiters(const std::exception_ptr& error) {
  if (connect_timer_) {
    connect_timer_->cancel();
    connect_timer_.reset();
  }
  auto waiters = std::move(connect_waiters_);
  connect_waiters_.clear();
  for (auto& waiter : waiters) (*waiter)(error);
}

void DrachtioBackend::check_connect_waiters() {
  if (connect_waiters_.empty()) return;
  if (!last_auth_failure_.empty()) {
    finish_connect_waiters(std::make_exception_ptr(AuthenticationFailed(last_auth_failure_)));
    return;
  }
  if (closed_) {
    finish_connect_waiters(std::make_exception_ptr(BackendClosed()));
    return;
  }
  for (const auto& connection : connections_) {
    if (!connection->ready()) return;
  }
  finish_connect_waiters(nullptr);
}

void DrachtioBackend::on_state(Connection& connection, ConnectionState state, const std::string& detail) {
  if (state == ConnectionState::auth_failed) last_auth_failure_ = detail;
  if (state == ConnectionState::disconnected || state == ConnectionState::closed ||
      state == ConnectionState::auth_failed) {
    // Requests waiting for an answer on that connection will not get it.
    std::vector<std::shared_ptr<DrachtioClientTransaction>> lost;
    for (auto& [id, transaction] : client_transactions_) {
      if (transaction->connection().lock().get() == &connection) lost.push_back(transaction);
    }
    for (auto& transaction : lost) transaction->fail_locally(503, "connection to drachtio-server lost");
  }
  if (state == ConnectionState::closed) {
    // For good (outbound connection over, or close()): what lived on it is gone.
    // A connection that will reconnect keeps its dialogs: drachtio-server still has them.
    std::erase_if(server_transactions_,
                  [&](const auto& entry) { return entry.second->connection().lock().get() == &connection; });
    std::vector<std::shared_ptr<DrachtioDialog>> orphans;
    for (auto& [id, dialog] : dialogs_) {
      if (dialog->connection().lock().get() == &connection) orphans.push_back(dialog);
    }
    // close() stops the backend on purpose; any other end of a connection loses its dialogs.
    const auto reason = closed_ ? DialogEndReason::backend_stopped : DialogEndReason::connection_lost;
    for (auto& dialog : orphans) dialog->end(reason);
  }
  if (event_handler_) event_handler_(ConnectionEvent{connection.name(), state, detail});
  if (acceptor_ && (state == ConnectionState::closed || state == ConnectionState::auth_failed)) {
    // An outbound connection is over (or refused our secret): forget it, after this callback returns.
    std::weak_ptr<DrachtioBackend> weak = shared_from_this();
    defer([weak, raw = &connection] {
      auto self = weak.lock();
      if (!self) return;
      std::erase_if(self->connections_, [raw](const auto& c) { return c.get() == raw; });
    });
  }
  check_connect_waiters();
}

std::vector<std::string> DrachtioBackend::routes() const { return routes_; }

void DrachtioBackend::route(const std::string& method) {
  // Outbound connections need no routes: drachtio chose this application already.
  if (acceptor_) return;
  const std::string verb = lower(method);
  if (std::find(routes_.begin(), routes_.end(), verb) != routes_.end()) return;
  routes_.push_back(verb);
  for (auto& connection : connections_) {
    if (connection->ready()) connection->send_route(verb);
  }
}

std::shared_ptr<Connection> DrachtioBackend::pick_connection() {
  // Round robin over the ready connections (drachtio-srf spreads UAC requests too).
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    auto& connection = connections_[(next_connection_ + i) % connections_.size()];
    if (connection->ready()) {
      next_connection_ = (next_connection_ + i + 1) % connections_.size();
      return connection;
    }
  }
  return nullptr;
}

std::shared_ptr<BackendClientTransaction> DrachtioBackend::send_request(RequestSpec spec,
                                                                        BackendResponseHandler handler,
                                                                        bool manual_ack) {
  if (!spec.destination.empty()) {
    // drachtio-server decides where requests go (its own outbound proxy settings).
    throw Error("UacOptions::proxy is not supported over drachtio-server; configure the proxy in drachtio-server");
  }
  auto connection = pick_connection();
  auto transaction = std::make_shared<DrachtioClientTransaction>(weak_from_this(), connection, spec.method, spec.uri,
                                                                 std::move(handler), manual_ack, nullptr);
  // drachtio makes Call-ID, tags and CSeq: the spec's are not sent.
  std::string text = bare_request(spec);
  if (!connection || !connection->send({"sip", "", ""}, std::move(text),
                                       [transaction](const wire::Frame* frame) { transaction->confirmed(frame); })) {
    transaction->fail_locally(503, "no drachtio-server connected");
  }
  return transaction;
}

void DrachtioBackend::on_frame(Connection& connection, wire::Frame& frame) {
  const auto type = frame.type();
  if (type == "sip") {
    on_sip(connection, frame);
  } else if (type.starts_with("cdr:")) {
    if (cdr_handler_) {
      cdr_handler_(Cdr{std::string(type), std::string(frame.field(2)), std::string(frame.field(3)),
                       std::string(frame.field(4)), frame.sip});
    }
  }
  // Anything else is a newer protocol feature: ignored.
}

void DrachtioBackend::on_sip(Connection& connection, const wire::Frame& frame) {
  sip::ParseOptions options;
  options.require_mandatory_headers = false;
  auto parsed = sip::parse_message(frame.sip, options);
  if (!parsed) {
    if (event_handler_) {
      event_handler_(ConnectionEvent{connection.name(), connection.state(),
                                     "unparsable SIP message ignored: " + parsed.error().message()});
    }
    return;
  }
  sip::Message message = std::move(*parsed);
  if (message.is_request()) {
    on_request_frame(connection, frame, std::move(message));
    return;
  }
  auto it = client_transactions_.find(frame.field(kTxnId));
  if (it == client_transactions_.end()) return;  // e.g. the 200 to a BYE we already forgot
  auto transaction = it->second;
  transaction->response(message, frame);
}

void DrachtioBackend::on_request_frame(Connection& connection, const wire::Frame& frame, sip::Message message) {
  const std::string txn_id(frame.field(kTxnId));
  const std::string dialog_id(frame.field(kDialogId));
  const std::string method(message.method());
  auto dialog_it = dialogs_.find(dialog_id);
  auto dialog = dialog_it == dialogs_.end() ? nullptr : dialog_it->second;

  if (method == "ACK") {
    if (dialog) dialog->acked(message);
    return;
  }
  if (method == "CANCEL") {
    // drachtio answered it (200) and the INVITE (487): only tell the application.
    auto it = server_transactions_.find(txn_id);
    if (it != server_transactions_.end()) {
      auto transaction = it->second;
      transaction->cancel_received();
    }
    return;
  }
  if (txn_id == "unsolicited") {
    // drachtio hung up by itself (e.g. our 2xx was never ACKed); nothing to answer.
    if (dialog) dialog->end(dialog->was_acked() ? DialogEndReason::remote_gone : DialogEndReason::no_ack);
    return;
  }
  const std::string transport(frame.field(kTransport));
  std::string source = (transport.empty() ? std::string("udp") : transport) + ":" + std::string(frame.field(kAddress)) +
                       ":" + std::string(frame.field(kPort));
  auto self = weak_from_this();
  auto weak_connection = connection.weak_from_this();
  if (!dialog_id.empty()) {
    if (!dialog) {
      DrachtioServerTransaction(self, weak_connection, txn_id, std::move(message), source, nullptr)
          .respond(ResponseSpec{481, "Call/Transaction Does Not Exist", {}, {}, {}});
      return;
    }
    auto transaction =
        std::make_shared<DrachtioServerTransaction>(self, weak_connection, txn_id, std::move(message), source, dialog);
    if (method == "BYE") {
      transaction->respond(ResponseSpec{200, {}, {}, {}, {}});
      dialog->end(DialogEndReason::remote_bye);
      return;
    }
    dialog->incoming(transaction);
    return;
  }
  auto transaction =
      std::make_shared<DrachtioServerTransaction>(self, weak_connection, txn_id, std::move(message), source, nullptr);
  server_transactions_[txn_id] = transaction;
  if (request_handler_) {
    auto handler = request_handler_;
    handler(transaction);
  } else {
    transaction->respond(ResponseSpec{503, "Service Unavailable", {}, {}, {}});
  }
}

void DrachtioBackend::add_dialog(const std::shared_ptr<DrachtioDialog>& dialog) { dialogs_[dialog->id()] = dialog; }
void DrachtioBackend::remove_dialog(const std::string& id) { dialogs_.erase(id); }
void DrachtioBackend::add_client_transaction(const std::shared_ptr<DrachtioClientTransaction>& transaction) {
  client_transactions_[transaction->txn_id()] = transaction;
}
void DrachtioBackend::remove_client_transaction(const std::string& txn_id) { client_transactions_.erase(txn_id); }
void DrachtioBackend::remove_server_transaction(const std::string& txn_id) { server_transactions_.erase(txn_id); }

void DrachtioBackend::defer(std::function<void()> f) { asio::post(executor_, std::move(f)); }

void DrachtioBackend::close() {
  if (closed_) return;
  closed_ = true;
  if (acceptor_) {
    error_code ignored;
    acceptor_->close(ignored);
  }
  auto connections = connections_;
  for (auto& connection : connections) connection->close();
  if (connect_timer_) connect_timer_->cancel();
  check_connect_waiters();
  // Dialogs cannot be driven any more.
  auto dialogs = dialogs_;
  for (auto& [id, dialog] : dialogs) dialog->end(DialogEndReason::backend_stopped);
  server_transactions_.clear();
}

std::vector<ConnectionState> DrachtioBackend::states() const {
  std::vector<ConnectionState> out;
  out.reserve(connections_.size());
  for (const auto& connection : connections_) out.push_back(connection->state());
  return out;
}

std::uint16_t DrachtioBackend::port() const {
  if (!acceptor_) return 0;
  error_code ec;
  auto endpoint = acceptor_->local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

std::shared_ptr<Backend> make_backend(asio::any_io_executor executor, Options options) {
  auto backend = std::make_shared<DrachtioBackend>(std::move(executor), std::move(options));
  return backend;
}

std::shared_ptr<Listener> make_listener(asio::any_io_executor executor, ListenerOptions options) {
  auto listener = std::make_shared<DrachtioBackend>(std::move(executor), std::move(options));
  listener->start();
  return listener;
}

}  // namespace astmrf::srf::drachtio
