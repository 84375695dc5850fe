// How a TLS client connection is verified: one options type for every client in
// astmrf (the ARI client, the drachtio-server backend), applied to every connection
// and every reconnect.
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
};

}  // namespace astmrf::util
