#include <astmrf/ari/request.hpp>
#include <astmrf/util/hex.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>

namespace astmrf::ari {

namespace {
constexpr bool unreserved(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}
}  // namespace

void append_encoded(std::string& out, std::string_view text) {
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (unreserved(c)) {
      out.push_back(ch);
    } else {
      util::append_percent_encoded(out, c);
    }
  }
}

boost::json::value Response::json() const {
  if (body.empty()) return nullptr;
  return boost::json::parse(body);
}

void RequestBuilder::separator() {
  request_.target.push_back(request_.target.find('?') == std::string::npos ? '?' : '&');
}

RequestBuilder& RequestBuilder::query(std::string_view name, std::string_view value) {
  if (value.empty()) return *this;  // ARI treats an empty parameter like a missing one
  separator();
  append_encoded(request_.target, name);
  request_.target.push_back('=');
  append_encoded(request_.target, value);
  return *this;
}

RequestBuilder& RequestBuilder::query(std::string_view name, std::int64_t value) {
  char buf[24];
  auto r = std::to_chars(std::begin(buf), std::end(buf), value);
  return query(name, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

RequestBuilder& RequestBuilder::query(std::string_view name, bool value) {
  return query(name, std::string_view(value ? "true" : "false"));
}

RequestBuilder& RequestBuilder::query(std::string_view name, double value) {
  char buf[32];
  auto r = std::to_chars(std::begin(buf), std::end(buf), value);
  return query(name, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

RequestBuilder& RequestBuilder::query(std::string_view name, const std::vector<std::string>& values) {
  if (values.empty()) return *this;
  separator();
  append_encoded(request_.target, name);
  request_.target.push_back('=');
  bool first = true;
  for (const auto& v : values) {
    if (!first) request_.target.push_back(',');  // ARI's allowMultiple: comma-separated
    first = false;
    append_encoded(request_.target, v);
  }
  return *this;
}

RequestBuilder& RequestBuilder::query(std::string_view name, const std::vector<std::int64_t>& values) {
  std::vector<std::string> text;
  text.reserve(values.size());
  for (auto v : values) text.push_back(std::to_string(v));
  return query(name, text);
}

RequestBuilder& RequestBuilder::body(const boost::json::value& value) {
  request_.body = boost::json::serialize(value);
  return *this;
}

RequestBuilder& RequestBuilder::body(const std::optional<boost::json::object>& value) {
  if (value) request_.body = boost::json::serialize(*value);
  return *this;
}

RequestBuilder& RequestBuilder::body_wrapped(std::string_view name, const std::optional<boost::json::value>& value) {
  if (value) {
    boost::json::object o;
    o[name] = *value;
    request_.body = boost::json::serialize(o);
  }
  return *this;
}

}  // namespace astmrf::ari
