// TLS set-up shared by the ARI client, the drachtio-server backend and the SIP engine: the
// client context (trust) and, per connection, SNI and the host name check; the server context.
#pragma once

#include <astmrf/util/tls.hpp>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
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

/// The name a connection to `host` verifies and sends as SNI.
inline std::string tls_server_name(const TlsOptions& options, const std::string& host) {
  return options.server_name.empty() ? host : options.server_name;
}

/// Prepares a client stream (boost::asio::ssl::stream or boost::beast::ssl_stream) for its
/// handshake with `host`: SNI, and the host name check when options.verify_peer.
/// Returns the OpenSSL error when SNI cannot be set.
template <typename SslStream>
boost::system::error_code prepare_tls_client(SslStream& stream, const TlsOptions& options, const std::string& host) {
  const std::string name = tls_server_name(options, host);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), name.c_str())) {
    return {static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category()};
  }
  if (options.verify_peer) {
    stream.set_verify_mode(boost::asio::ssl::verify_peer);
    stream.set_verify_callback(boost::asio::ssl::host_name_verification(name));
  } else {
    stream.set_verify_mode(boost::asio::ssl::verify_none);
  }
  return {};
}

}  // namespace astmrf::util
