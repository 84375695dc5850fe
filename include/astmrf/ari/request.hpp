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

/// A REST request: what Client::async_request and async_call send.
struct Request {
  /// The HTTP method.
  boost::beast::http::verb method = boost::beast::http::verb::get;
  /// Path relative to /ari ("/channels/123/answer"), percent-encoded, with its query string.
  std::string target;
  /// JSON body (empty: none).
  std::string body;
  /// Deadline of this request; defaults to ClientOptions::request_timeout.
  std::optional<std::chrono::milliseconds> timeout;
};

/// A REST response: its status, body and content type.
struct Response {
  /// The HTTP status.
  unsigned status = 0;
  /// The body as received.
  std::string body;
  /// The Content-Type header.
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
  /// A request with this HTTP method and an empty path.
  explicit RequestBuilder(boost::beast::http::verb method) { request_.method = method; }
  /// Appends a literal path part, as is (e.g. "/channels/").
  RequestBuilder& literal(std::string_view path) {
    request_.target.append(path);
    return *this;
  }
  /// Appends a path segment, percent-encoded (e.g. a channel id).
  RequestBuilder& segment(std::string_view value) {
    append_encoded(request_.target, value);
    return *this;
  }
  /// Appends `name=value` to the query, encoded; an empty value is left out (ARI reads it as missing).
  RequestBuilder& query(std::string_view name, std::string_view value);
  /// The same, for a string.
  RequestBuilder& query(std::string_view name, const std::string& value) {
    return query(name, std::string_view(value));
  }
  /// The same, for a C string.
  RequestBuilder& query(std::string_view name, const char* value) { return query(name, std::string_view(value)); }
  /// The same, for an integer.
  RequestBuilder& query(std::string_view name, std::int64_t value);
  /// The same, for a boolean ("true" / "false").
  RequestBuilder& query(std::string_view name, bool value);
  /// The same, for a floating-point number.
  RequestBuilder& query(std::string_view name, double value);
  /// Appends `name=v1,v2,...` (nothing for an empty list).
  RequestBuilder& query(std::string_view name, const std::vector<std::string>& values);
  /// Appends `name=n1,n2,...` (nothing for an empty list).
  RequestBuilder& query(std::string_view name, const std::vector<std::int64_t>& values);
  template <typename T>
  /// Appends the value when present.
  RequestBuilder& query(std::string_view name, const std::optional<T>& value) {
    if (value) query(name, *value);
    return *this;
  }
  /// Sets the JSON body.
  RequestBuilder& body(const boost::json::value& value);
  /// Sets the JSON body when present.
  RequestBuilder& body(const std::optional<boost::json::object>& value);
  /// Sets the JSON body {name: value} (ARI "containers" parameters such as `variables`).
  RequestBuilder& body_wrapped(std::string_view name, const std::optional<boost::json::value>& value);
  /// Sets the request's deadline (default: ClientOptions::request_timeout).
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
