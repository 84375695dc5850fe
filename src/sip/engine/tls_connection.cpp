// SIP over TLS (RFC 3261 26, RFC 5630 for the name checks): a StreamConnection over an
// ssl::stream. Its handshake runs before anything is sent or read, bounded by a timer; no
// plaintext is ever sent on a TLS connection. The client side sends SNI for names (not for
// IP addresses, RFC 6066 3) and lets OpenSSL check the name or IP address
// (X509_VERIFY_PARAM), so that a refusal says why ("hostname mismatch").
#include "stream_connection.hpp"

#include <astmrf/sip/engine/tls_error.hpp>
#include <astmrf/util/tls_client.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <string>

namespace astmrf::sip {

namespace {

// boost::system::error_category has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class HandshakeCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "astmrf.sip.tls_handshake"; }
  std::string message(int value) const override {
    if (value == tls_handshake_timed_out) return "TLS handshake failed: timed out";
    if (value == tls_handshake_peer_closed) return "TLS handshake failed: the peer closed the connection";
    const char* reason = ::ERR_reason_error_string(static_cast<unsigned long>(static_cast<unsigned int>(value)));
    return std::string("TLS handshake failed: ") + (reason != nullptr ? reason : "OpenSSL error");
  }
};

class CertificateCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "astmrf.sip.tls_certificate"; }
  std::string message(int value) const override {
    return std::string("TLS handshake failed: certificate verify failed (") + ::X509_verify_cert_error_string(value) +
           ")";
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& tls_handshake_category() noexcept {
  static const HandshakeCategory category;
  return category;
}

const boost::system::error_category& tls_certificate_category() noexcept {
  static const CertificateCategory category;
  return category;
}

namespace detail {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

using TlsStream = ssl::stream<tcp::socket>;

class TlsConnection final : public StreamConnection<TlsStream> {
 public:
  TlsConnection(tcp::socket socket, std::uint64_t id, tcp::endpoint remote, std::weak_ptr<Sink> sink,
                FramerLimits limits, TlsSettings settings)
      : StreamConnection(TlsStream(std::move(socket), *settings.context), Transport::tls, id, std::move(remote),
                         std::move(sink), limits),
        settings_(std::move(settings)),
        timer_(stream().get_executor()) {}

  void start_accepted() override {
    no_delay();
    handshake(ssl::stream_base::server);
  }

  bool may_alias(std::string_view host) override {
    // RFC 5923 5.3: only a client that proved, by its certificate, to be the sent-by host.
    X509* certificate = ::SSL_get0_peer_certificate(stream().native_handle());
    if (certificate == nullptr || !verified_peer_) return false;
    const std::string name(host);
    error_code ec;
    asio::ip::make_address(name, ec);
    if (!ec) return ::X509_check_ip_asc(certificate, name.c_str(), 0) == 1;
    return ::X509_check_host(certificate, name.data(), name.size(), 0, nullptr) == 1;
  }

 protected:
  void connected() override {
    if (auto ec = prepare_client()) return fail(ec);
    handshake(ssl::stream_base::client);
  }

  void close_socket() override {
    timer_.cancel();
    StreamConnection::close_socket();
  }

 private:
  // SNI for a name, and the identity the certificate must carry: the name, else the address.
  error_code prepare_client() {
    util::TlsOptions identity;
    identity.verify_peer = settings_.verify_peer;
    identity.server_name = settings_.server_name;
    return util::prepare_tls_client(stream(), identity, remote().address().to_string());
  }

  void handshake(ssl::stream_base::handshake_type type) {
    timer_.expires_after(settings_.handshake_timeout);
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed()) return;
      static_cast<TlsConnection&>(*self).fail({tls_handshake_timed_out, tls_handshake_category()});
    });
    stream().async_handshake(type, [self = std::static_pointer_cast<TlsConnection>(shared_from_this())](error_code ec) {
      self->timer_.cancel();
      if (self->closed()) return;
      if (ec) return self->fail(self->handshake_error(ec));
      self->verified_peer_ = ::SSL_get0_peer_certificate(self->stream().native_handle()) != nullptr &&
                             ::SSL_get_verify_result(self->stream().native_handle()) == X509_V_OK;
      self->up();
      self->read();
    });
  }

  // The handshake's error, in terms the application can show: why the certificate was refused,
  // OpenSSL's reason, or the peer's close.
  error_code handshake_error(const error_code& ec) {
    const long verify = ::SSL_get_verify_result(stream().native_handle());
    if (verify != X509_V_OK) return {static_cast<int>(verify), tls_certificate_category()};
    if (ec.category() == asio::error::get_ssl_category() && ec.value() > 0)
      return {ec.value(), tls_handshake_category()};
    if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == ssl::error::stream_truncated)
      return {tls_handshake_peer_closed, tls_handshake_category()};
    return ec;
  }

  TlsSettings settings_;
  asio::steady_timer timer_;
  bool verified_peer_{false};
};

}  // namespace

std::shared_ptr<Connection> make_tls_connection(tcp::socket socket, std::uint64_t id, tcp::endpoint remote,
                                                std::weak_ptr<Connection::Sink> sink, FramerLimits limits,
                                                TlsSettings settings) {
  return std::make_shared<TlsConnection>(std::move(socket), id, std::move(remote), std::move(sink), limits,
                                         std::move(settings));
}

}  // namespace detail
}  // namespace astmrf::sip
