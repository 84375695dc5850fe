// Tolerant JSON → model decoding used by the generated decoders: a missing field or a field of an
// unexpected type leaves the member at its default (Asterisk versions differ in what they send).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace astmrf::ari::detail {

inline void decode_field(const boost::json::value& v, std::string& out) {
  if (const auto* s = v.if_string()) out.assign(s->data(), s->size());
}
inline void decode_field(const boost::json::value& v, std::int64_t& out) {
  if (v.is_int64()) {
    out = v.get_int64();
  } else if (v.is_uint64()) {
    out = static_cast<std::int64_t>(v.get_uint64());
  } else if (v.is_double()) {
    out = static_cast<std::int64_t>(v.get_double());
  }
}
inline void decode_field(const boost::json::value& v, double& out) {
  if (v.is_double()) {
    out = v.get_double();
  } else if (v.is_int64()) {
    out = static_cast<double>(v.get_int64());
  } else if (v.is_uint64()) {
    out = static_cast<double>(v.get_uint64());
  }
}
inline void decode_field(const boost::json::value& v, bool& out) {
  if (v.is_bool()) out = v.get_bool();
}
inline void decode_field(const boost::json::value& v, boost::json::object& out) {
  if (const auto* o = v.if_object()) out = *o;
}
inline void decode_field(const boost::json::value& v, boost::json::array& out) {
  if (const auto* a = v.if_array()) out = *a;
}
template <typename T>
void decode_field(const boost::json::value& v, T& out) {
  decode(v, out);  // a generated model (found by ADL)
}
template <typename T>
void decode_field(const boost::json::value& v, std::optional<T>& out) {
  if (v.is_null()) return;
  out.emplace();
  decode_field(v, *out);
}
template <typename T>
void decode_field(const boost::json::value& v, std::vector<T>& out) {
  const auto* a = v.if_array();
  if (a == nullptr) return;
  out.clear();
  out.reserve(a->size());
  for (const auto& e : *a) decode_field(e, out.emplace_back());
}

}  // namespace astmrf::ari::detail
