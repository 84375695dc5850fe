// Errors of the signaling API: thrown (or passed as std::exception_ptr to
// callbacks) when a SIP operation fails.
#pragma once

#include <stdexcept>
#include <string>

namespace astmrf::srf {

/// Base of every srf error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The peer answered with a final non-2xx response (or the backend made one up:
/// `local` is then true, e.g. 408 when nobody answered).
class SipFailure : public Error {
 public:
  /// `status` and `reason` of the final response; `local` when the backend made it up.
  SipFailure(int status, std::string reason, bool local)
      : Error("SIP " + std::to_string(status) + " " + reason + (local ? " (local)" : "")),
        status_(status),
        reason_(std::move(reason)),
        local_(local) {}
  /// The final response's status code.
  [[nodiscard]] int status() const noexcept { return status_; }
  /// Its reason phrase.
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }
  /// True when no peer sent it: the backend made it up (408 time-out, 503 unreachable).
  [[nodiscard]] bool local() const noexcept { return local_; }

 private:
  int status_;
  std::string reason_;
  bool local_;
};

/// The request's target could not be located by DNS (RFC 3263 with the embedded engine:
/// NXDOMAIN, no SRV target with an address, no DNS answer): the request was never sent. A
/// SipFailure (local 503 whose reason says "DNS: ..."), so code that catches SipFailure
/// keeps working.
class DnsFailure : public SipFailure {
 public:
  /// `reason`: the local 503's reason; `error`: what the DNS said ("cannot resolve
  /// 'example.com': Domain name not found"); `not_found`: the name or its records do not exist.
  DnsFailure(std::string reason, std::string error, bool not_found)
      : SipFailure(503, std::move(reason), true), error_(std::move(error)), not_found_(not_found) {}
  /// What the DNS said.
  [[nodiscard]] const std::string& dns_error() const noexcept { return error_; }
  /// True when the DNS said the name or its records do not exist (NXDOMAIN, no data), false
  /// when no server answered.
  [[nodiscard]] bool not_found() const noexcept { return not_found_; }

 private:
  std::string error_;
  bool not_found_;
};

/// A call could not be placed because the TLS handshake with the next hop failed: its
/// certificate was refused (wrong CA, name or IP mismatch) or the TLS protocol failed. A local
/// 503 whose reason() reads "TLS handshake failed: <OpenSSL's reason>".
class TlsHandshakeFailed : public SipFailure {
 public:
  /// `reason`: the local 503's reason ("TLS handshake failed: ...").
  explicit TlsHandshakeFailed(std::string reason) : SipFailure(503, std::move(reason), true) {}
};

/// The caller CANCELled the INVITE before the application answered it.
class RequestCancelled : public Error {
 public:
  RequestCancelled() : Error("the caller cancelled the request") {}
};

/// UacOptions::timeout passed before a final response: the INVITE was CANCELled. (A
/// cancellation through the token's slot completes with operation_aborted instead.)
class CallCancelled : public Error {
 public:
  /// `why`: what cancelled it (the time-out).
  explicit CallCancelled(const std::string& why) : Error("the call was cancelled: " + why) {}
};

/// Our 2xx was never ACKed; the dialog was ended with BYE.
class AckTimeout : public Error {
 public:
  AckTimeout() : Error("the 200 OK was never acknowledged; the call was ended") {}
};

/// The dialog ended before or during the operation.
class DialogGone : public Error {
 public:
  DialogGone() : Error("the dialog has ended") {}
};

}  // namespace astmrf::srf
