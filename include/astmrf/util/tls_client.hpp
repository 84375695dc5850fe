// TLS set-up shared by the ARI client, the drachtio-server backend and the SIP engine: the
// client context (trust) and, per connection, SNI and the host name check; the server context.
#pragma once

#include <astmrf/util/tls.hpp>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/error_code.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace astmrf::util {

/// A TLS client context (TLS 1.2 or later) that trusts what `options` says, with its client
/// certificate when one is given. Throws boost::system::system_error for an unreadable CA
/// file or directory, certificate or key.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const TlsOptions& options);

/// A TLS server context (TLS 1.2 or later) presenting `options`' certificate. Throws
/// std::invalid_argument when no certificate or key is given, boost::system::system_error
/// when they cannot be read or do not match.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const TlsServerOptions& options);

/// The name a connection to `host` verifies and, when it is a name, sends as SNI.
inline std::string tls_server_name(const TlsOptions& options, const std::string& host) {
  return options.server_name.empty() ? host : options.server_name;
}

/// Prepares the client connection `ssl` for its handshake with `host` (a name or an IP
/// address): SNI for a name only (RFC 6066 forbids literal addresses), and with
/// options.verify_peer the identity the certificate must carry, checked by OpenSSL itself so
/// that a mismatch keeps its own reason ("hostname mismatch", "IP address mismatch"): a DNS
/// name without partial wildcards, or an IP address SAN. Returns the OpenSSL error when a
/// setting is refused.
boost::system::error_code prepare_tls_client(SSL* ssl, const TlsOptions& options, const std::string& host);

/// The same for a stream (boost::asio::ssl::stream or boost::beast::ssl_stream).
template <typename SslStream>
boost::system::error_code prepare_tls_client(SslStream& stream, const TlsOptions& options, const std::string& host) {
  return prepare_tls_client(stream.native_handle(), options, host);
}

}  // namespace astmrf::util
