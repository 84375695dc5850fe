#include "transport.hpp"

#include <astmrf/ari/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <boost/url/parse.hpp>

#include <charconv>
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
  unsigned port = 0;
  const auto [end, err] = std::from_chars(t.port.data(), t.port.data() + t.port.size(), port);
  if (err != std::errc{} || end != t.port.data() + t.port.size() || port < 1 || port > 65535) {
    throw std::invalid_argument("ari: URL port must be a number in 1..65535");
  }
  t.port_number = static_cast<std::uint16_t>(port);
  t.host_header = std::string(u.encoded_host()) + ":" + t.port;
  std::string path(u.encoded_path());
  while (!path.empty() && path.back() == '/') path.pop_back();
  t.base_path = path.empty() ? std::string("/ari") : path;
  return t;
}

void throw_resolve_error(const std::exception_ptr& error, const std::string& host, std::string method,
                         std::string path) {
  try {
    std::rethrow_exception(error);
  } catch (const util::ResolveError& e) {
    throw TransportError(boost::asio::error::host_not_found, "cannot resolve " + host + ": " + e.reason(),
                         std::move(method), std::move(path));
  } catch (const boost::system::system_error& e) {  // operation_aborted
    throw TransportError(e.code(), "cannot resolve " + host + ": " + e.code().message(), std::move(method),
                         std::move(path));
  }
}

}  // namespace astmrf::ari::detail
