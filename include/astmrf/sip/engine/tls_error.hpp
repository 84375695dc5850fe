// The error of a failed TLS handshake of the embedded SIP engine (SIP over TLS).
#pragma once

#include <boost/system/error_code.hpp>

namespace astmrf::sip {

/// The category of a TLS handshake that failed: the peer's certificate was refused (wrong CA,
/// host name or IP address mismatch, expired), the protocol failed (no common version or
/// cipher, not TLS), the handshake timed out or the peer closed the connection during it. The
/// message reads "TLS handshake failed: <OpenSSL's reason>", e.g. "TLS handshake failed:
/// certificate verify failed (hostname mismatch)". A request sent over such a connection ends
/// with a local 503 whose reason phrase is that message (ClientRequest::transport_error()
/// holds the code; srf throws srf::TlsHandshakeFailed).
/// Values: OpenSSL's packed error (ERR_get_error), or tls_handshake_timed_out, or
/// tls_handshake_peer_closed.
const boost::system::error_category& tls_handshake_category() noexcept;
/// The peer's certificate was refused: values are OpenSSL's X509_V_ERR_* (the message names it,
/// e.g. "TLS handshake failed: certificate verify failed (unable to get local issuer certificate)").
const boost::system::error_category& tls_certificate_category() noexcept;

/// tls_handshake_category() values of our own (OpenSSL's packed errors are larger).
inline constexpr int tls_handshake_timed_out = 1;    ///< no handshake within the time-out
inline constexpr int tls_handshake_peer_closed = 2;  ///< the peer closed during the handshake

/// True when `ec` is a TLS handshake failure (either category above).
inline bool is_tls_handshake_error(const boost::system::error_code& ec) noexcept {
  return ec.category() == tls_handshake_category() || ec.category() == tls_certificate_category();
}

}  // namespace astmrf::sip
