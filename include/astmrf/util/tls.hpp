// How TLS connections are verified: one options type for every client in astmrf (the ARI
// client, the drachtio-server backend, the SIP engine), applied to every connection and
// every reconnect, and one for the SIP engine's TLS and WSS listening points.
#pragma once

#include <string>

namespace astmrf::util {

/// Certificate checks of a TLS client connection (ari::TlsOptions, srf::drachtio::TlsOptions).
struct TlsOptions {
  bool verify_peer = true;               ///< verify the certificate chain and the host name
  std::string ca_file;                   ///< PEM file of trusted CAs (e.g. a self-signed certificate)
  std::string ca_path;                   ///< directory of trusted CAs (hashed names, c_rehash)
  bool use_default_verify_paths = true;  ///< also trust the system CA store
  std::string server_name;               ///< name to verify and send as SNI; default: the host connected to
  std::string certificate_file;          ///< optional client certificate (PEM chain), for servers that ask
  std::string key_file;                  ///< its private key (PEM); needed with certificate_file
};

/// The certificate a TLS server presents, and how it checks clients (SIP over TLS and WSS).
struct TlsServerOptions {
  std::string certificate_file;  ///< PEM chain: the server's certificate first
  std::string key_file;          ///< its private key (PEM)
  /// Ask clients for a certificate and verify it against ca_file (mutual TLS).
  bool verify_client = false;
  std::string ca_file;  ///< PEM file of CAs trusted for client certificates
};

}  // namespace astmrf::util
