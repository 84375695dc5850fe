#include "transport.hpp"

#include <boost/url/parse.hpp>

#include <stdexcept>

namespace astmrf::ari::detail {

Target parse_target(std::string_view url) {
  auto r = boost::urls::parse_uri(url);
  if (!r) throw std::invalid_argument("ari: invalid URL (expected http://host:port or https://host:port)");
  const auto& u = *r;
  if (u.has_userinfo()) {
    // The text is not echoed: it holds credentials.
    throw std::invalid_argument("ari: credentials in the URL are not accepted; use ClientOptions::user/password");
  }
  Target t;
  if (u.scheme() == "https" || u.scheme() == "wss") {
    t.tls = true;
  } else if (u.scheme() != "http" && u.scheme() != "ws") {
    throw std::invalid_argument("ari: unsupported URL scheme '" + std::string(u.scheme()) + "'");
  }
  t.host = std::string(u.encoded_host());
  if (t.host.empty()) throw std::invalid_argument("ari: URL without host");
  if (t.host.front() == '[' && t.host.back() == ']') t.host = t.host.substr(1, t.host.size() - 2);
  t.port = u.has_port() ? std::string(u.port()) : std::string(t.tls ? "443" : "80");
  t.host_header = std::string(u.encoded_host()) + ":" + t.port;
  std::string path(u.encoded_path());
  while (!path.empty() && path.back() == '/') path.pop_back();
  t.base_path = path.empty() ? std::string("/ari") : path;
  return t;
}

}  // namespace astmrf::ari::detail
