#include <astmrf/ari/error.hpp>

#include <boost/json/parse.hpp>

#include <string_view>

namespace astmrf::ari {

namespace {

std::string describe(unsigned status, const std::string& message, const std::string& method, const std::string& path) {
  std::string out = "ARI ";
  out += method;
  out += ' ';
  out += path;
  out += ": ";
  if (status != 0) {
    out += std::to_string(status);
    out += ' ';
  }
  out += message;
  return out;
}

// boost::system::error_category has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "astmrf.ari"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::timed_out: return "timed out";
      case errc::resource_ended: return "resource ended before the awaited event";
      case errc::resource_vanished: return "resource vanished while the events connection was down";
      case errc::closed: return "client closed";
      case errc::malformed_event: return "malformed event";
      case errc::handshake_failed: return "events WebSocket upgrade refused";
    }
    return "unknown ari error";
  }
};
#pragma GCC diagnostic pop

// Asterisk's error bodies are {"message": "..."}; anything else is kept, shortened.
std::string peer_message(std::string_view body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (!ec) {
    if (const auto* o = v.if_object()) {
      if (const auto* m = o->if_contains("message"); m != nullptr && m->is_string()) {
        return std::string(m->get_string());
      }
      if (const auto* m = o->if_contains("error"); m != nullptr && m->is_string()) {
        return std::string(m->get_string());
      }
    }
  }
  constexpr std::size_t kMax = 200;
  std::string text(body.substr(0, kMax));
  for (auto& c : text) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return text.empty() ? std::string("(no message)") : text;
}

}  // namespace

Error::Error(unsigned status, std::string message, std::string method, std::string path)
    : std::runtime_error(describe(status, message, method, path)),
      status_(status),
      message_(std::move(message)),
      method_(std::move(method)),
      path_(std::move(path)) {}

TransportError::TransportError(boost::system::error_code ec, std::string message, std::string method, std::string path)
    : Error(0, std::move(message), std::move(method), std::move(path)), code_(ec) {}

std::exception_ptr make_error(unsigned status, std::string_view body, std::string method, std::string path) {
  auto msg = peer_message(body);
  auto m = std::move(method);
  auto p = std::move(path);
  switch (status) {
    case 400: return std::make_exception_ptr(BadRequest(status, std::move(msg), std::move(m), std::move(p)));
    case 401: return std::make_exception_ptr(AuthenticationError(status, std::move(msg), std::move(m), std::move(p)));
    case 403: return std::make_exception_ptr(Forbidden(status, std::move(msg), std::move(m), std::move(p)));
    case 404: return std::make_exception_ptr(NotFound(status, std::move(msg), std::move(m), std::move(p)));
    case 405: return std::make_exception_ptr(MethodNotAllowed(status, std::move(msg), std::move(m), std::move(p)));
    case 409: return std::make_exception_ptr(Conflict(status, std::move(msg), std::move(m), std::move(p)));
    case 412: return std::make_exception_ptr(PreconditionFailed(status, std::move(msg), std::move(m), std::move(p)));
    case 422: return std::make_exception_ptr(UnprocessableEntity(status, std::move(msg), std::move(m), std::move(p)));
    case 500: return std::make_exception_ptr(ServerError(status, std::move(msg), std::move(m), std::move(p)));
    case 501: return std::make_exception_ptr(NotImplemented(status, std::move(msg), std::move(m), std::move(p)));
    case 503: return std::make_exception_ptr(ServiceUnavailable(status, std::move(msg), std::move(m), std::move(p)));
    default: return std::make_exception_ptr(Error(status, std::move(msg), std::move(m), std::move(p)));
  }
}

const boost::system::error_category& category() noexcept {
  static const Category instance;
  return instance;
}

boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

}  // namespace astmrf::ari
