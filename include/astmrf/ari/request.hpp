// A raw ARI request and response, used by the generic Client::async_request and by every typed call.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::ari {

struct Request {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  /// Path relative to /ari ("/channels/123/answer"), percent-encoded, with its query string.
  std::string target;
  /// JSON body (empty: none).
  std::string body;
  /// Deadline of this request; defaults to ClientOptions::request_timeout.
  std::optional<std::chrono::milliseconds> timeout;
};

struct Response {
  unsigned status = 0;
  std::string body;
  std::string content_type;
  /// Parses the body as JSON (throws boost::system::system_error on malformed JSON; null when empty).
  boost::json::value json() const;
};

/// Percent-encodes everything but RFC 3986 unreserved characters.
void append_encoded(std::string& out, std::string_view text);
/// Builds a Request from a method, a path made of literal parts and already known values.
/// Use it for operations the typed API does not cover:
///   RequestBuilder b(verb::get); b.literal("/channels/"); b.segment(id); b.query("x", v);
class RequestBuilder {
 public:
  explicit RequestBuilder(boost::beast::http::verb method) { request_.method = method; }
  RequestBuilder& literal(std::string_view path) {
    request_.target.append(path);
    return *this;
  }
  RequestBuilder& segment(std::string_view value) {
    append_encoded(request_.target, value);
    return *this;
  }
  RequestBuilder& query(std::string_view name, std::string_view value);
  RequestBuilder& query(std::string_view name, const std::string& value) {
    return query(name, std::string_view(value));
  }
  RequestBuilder& query(std::string_view name, const char* value) { return query(name, std::string_view(value)); }
  RequestBuilder& query(std::string_view name, std::int64_t value);
  RequestBuilder& query(std::string_view name, bool value);
  RequestBuilder& query(std::string_view name, double value);
  RequestBuilder& query(std::string_view name, const std::vector<std::string>& values);
  RequestBuilder& query(std::string_view name, const std::vector<std::int64_t>& values);
  template <typename T>
  RequestBuilder& query(std::string_view name, const std::optional<T>& value) {
    if (value) query(name, *value);
    return *this;
  }
  /// Sets the JSON body.
  RequestBuilder& body(const boost::json::value& value);
  RequestBuilder& body(const std::optional<boost::json::object>& value);
  /// Sets the JSON body {name: value} (ARI "containers" parameters such as `variables`).
  RequestBuilder& body_wrapped(std::string_view name, const std::optional<boost::json::value>& value);
  RequestBuilder& timeout(std::chrono::milliseconds t) {
    request_.timeout = t;
    return *this;
  }
  /// Returns the request (the builder is left empty).
  Request finish() { return std::move(request_); }

 private:
  void separator();
  Request request_;
};

}  // namespace astmrf::ari
