// The narrow interface between Srf and a signaling backend: the embedded SIP
// engine (engine_backend.hpp) or a drachtio-server connection. A backend delivers
// requests with their server transaction, sends requests with their client
// transaction, and owns the SIP state of dialogs; Srf adds everything else.
#pragma once

#include <astmrf/sip/message.hpp>
#include <astmrf/sip/spec.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <string>

namespace astmrf::srf {

using sip::DialogEndReason;
using sip::HeaderList;
using sip::RequestSpec;
using sip::ResponseSpec;

class BackendDialog;
class BackendServerTransaction;

/// Every response to a request sent through a backend: provisionals, then one
/// final (a locally made 408/503 when the peer never answered or was unreachable).
using BackendResponseHandler =
    std::function<void(const sip::Message& response, const std::shared_ptr<BackendDialog>& dialog)>;
/// Receives a request with its server transaction.
using BackendRequestHandler = std::function<void(const std::shared_ptr<BackendServerTransaction>&)>;

/// A request Srf sent through a backend, while it has not completed.
class BackendClientTransaction {
 public:
  virtual ~BackendClientTransaction() = default;
  /// INVITE: CANCEL now or after the first provisional. Idempotent.
  virtual void cancel() = 0;
  /// The final response was made up by the backend (time-out, transport failure).
  [[nodiscard]] virtual bool local_failure() const = 0;
  /// Why the target could not be located by DNS (RFC 3263), when that made the local failure;
  /// empty otherwise (and always for a backend that resolves elsewhere, like drachtio-server).
  [[nodiscard]] virtual std::string dns_error() const { return {}; }
  /// With dns_error(): the DNS said the name or its records do not exist (NXDOMAIN, no data).
  [[nodiscard]] virtual bool dns_not_found() const { return false; }
};

/// The SIP state of one dialog, kept by the backend; srf::Dialog wraps it.
class BackendDialog {
 public:
  virtual ~BackendDialog() = default;
  /// Unique id of the dialog (the backend's format).
  [[nodiscard]] virtual std::string id() const = 0;
  /// The Call-ID.
  [[nodiscard]] virtual std::string call_id() const = 0;
  /// Our tag.
  [[nodiscard]] virtual std::string local_tag() const = 0;
  /// The peer's tag.
  [[nodiscard]] virtual std::string remote_tag() const = 0;
  /// Our URI.
  [[nodiscard]] virtual std::string local_uri() const = 0;
  /// The peer's URI.
  [[nodiscard]] virtual std::string remote_uri() const = 0;
  /// True once the dialog ended.
  [[nodiscard]] virtual bool terminated() const = 0;
  /// In-dialog requests from the peer.
  virtual void on_request(BackendRequestHandler handler) = 0;
  /// The ACK confirming a 2xx this side sent.
  virtual void on_ack(std::function<void(const sip::Message&)> handler) = 0;
  /// The dialog ended (once).
  virtual void on_end(std::function<void(DialogEndReason)> handler) = 0;
  /// Null once the dialog ended.
  virtual std::shared_ptr<BackendClientTransaction> request(RequestSpec spec, BackendResponseHandler handler) = 0;
  /// Sends BYE and ends the dialog. Idempotent.
  virtual void bye(HeaderList headers) = 0;
  /// The ACK of a 2xx received with manual ACK (late offer).
  virtual void ack(std::string content_type, std::string body) = 0;
};

/// A request received by a backend, with its server transaction.
class BackendServerTransaction {
 public:
  virtual ~BackendServerTransaction() = default;
  /// The request as received.
  [[nodiscard]] virtual const sip::Message& message() const = 0;
  /// "udp:1.2.3.4:5060"
  [[nodiscard]] virtual std::string source() const = 0;
  /// True once the peer CANCELled it (the backend answered 487).
  [[nodiscard]] virtual bool cancelled() const = 0;
  /// True once a final response was sent.
  [[nodiscard]] virtual bool final_sent() const = 0;
  /// Runs when the peer CANCELs (at once if it has).
  virtual void on_cancel(std::function<void()> handler) = 0;
  /// Null unless a 2xx to an INVITE created a dialog (or the request is in one).
  virtual std::shared_ptr<BackendDialog> respond(ResponseSpec response) = 0;
  /// The dialog an in-dialog request belongs to.
  [[nodiscard]] virtual std::shared_ptr<BackendDialog> dialog() const = 0;
};

/// What Srf runs on: delivers incoming requests, sends requests, keeps dialogs.
/// Implementations: make_engine_backend() (the embedded engine, srf/engine_backend.hpp,
/// library astmrf::srf_engine) and the drachtio-server backend (srf/drachtio.hpp, astmrf::srf_drachtio).
class SignalingBackend {
 public:
  virtual ~SignalingBackend() = default;
  /// The executor every handler runs on.
  [[nodiscard]] virtual boost::asio::any_io_executor get_executor() const = 0;
  /// New requests outside dialogs.
  virtual void on_request(BackendRequestHandler handler) = 0;
  /// Sends a request outside dialogs; `manual_ack` leaves the ACK of a 2xx to the caller (late offer).
  virtual std::shared_ptr<BackendClientTransaction> send_request(RequestSpec spec, BackendResponseHandler handler,
                                                                 bool manual_ack) = 0;
  /// The application handles requests of this method (Srf::on): a drachtio-server
  /// backend asks the server for them. The engine gets every request anyway.
  virtual void route(const std::string& /*method*/) {}
};

}  // namespace astmrf::srf
