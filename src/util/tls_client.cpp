#include <astmrf/util/tls_client.hpp>

#include <boost/asio/ip/address.hpp>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace astmrf::util {

std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const TlsOptions& options) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (options.verify_peer) {
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    if (options.use_default_verify_paths) context->set_default_verify_paths();
    if (!options.ca_file.empty()) context->load_verify_file(options.ca_file);
    if (!options.ca_path.empty()) context->add_verify_path(options.ca_path);
  } else {
    context->set_verify_mode(ssl::verify_none);
  }
  if (!options.certificate_file.empty()) {
    context->use_certificate_chain_file(options.certificate_file);
    context->use_private_key_file(options.key_file.empty() ? options.certificate_file : options.key_file,
                                  ssl::context::pem);
  }
  return context;
}

std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const TlsServerOptions& options) {
  namespace ssl = boost::asio::ssl;
  if (options.certificate_file.empty() || options.key_file.empty())
    throw std::invalid_argument("a TLS listening point needs a certificate file and a key file");
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  context->use_certificate_chain_file(options.certificate_file);
  context->use_private_key_file(options.key_file, ssl::context::pem);
  if (options.verify_client) {
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    if (!options.ca_file.empty()) context->load_verify_file(options.ca_file);
  } else {
    context->set_verify_mode(ssl::verify_none);
  }
  return context;
}

boost::system::error_code prepare_tls_client(SSL* ssl, const TlsOptions& options, const std::string& host) {
  auto openssl_error = [] {
    return boost::system::error_code(static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category());
  };
  const std::string name = tls_server_name(options, host);
  boost::system::error_code not_ip;
  boost::asio::ip::make_address(name, not_ip);
  if (not_ip && ::SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) return openssl_error();
  // The context's verify callback, if any, is kept (as asio's set_verify_mode does).
  if (!options.verify_peer) {
    ::SSL_set_verify(ssl, SSL_VERIFY_NONE, ::SSL_get_verify_callback(ssl));
    return {};
  }
  ::SSL_set_verify(ssl, SSL_VERIFY_PEER, ::SSL_get_verify_callback(ssl));
  X509_VERIFY_PARAM* param = ::SSL_get0_param(ssl);
  ::X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int set = not_ip ? ::X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size())
                         : ::X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  if (set != 1) return openssl_error();
  return {};
}

}  // namespace astmrf::util
