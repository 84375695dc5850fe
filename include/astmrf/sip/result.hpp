// A minimal expected<T, ParseError>: parse errors travel as values so that the
// hot path never throws. value() throws ParseFailure for callers who prefer it.
#pragma once

#include <astmrf/sip/errors.hpp>

#include <type_traits>
#include <utility>
#include <variant>

namespace astmrf::sip {

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}           // NOLINT
  Result(ParseError error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  /// A default-constructed value, built in place (no temporary to move).
  explicit Result(std::in_place_t) : v_(std::in_place_index<0>) {}

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// Precondition: !has_value().
  [[nodiscard]] const ParseError& error() const& { return std::get<1>(v_); }
  [[nodiscard]] ParseError&& error() && { return std::get<1>(std::move(v_)); }

 private:
  void check() const {
    if (v_.index() != 0) throw ParseFailure(std::get<1>(v_));
  }
  std::variant<T, ParseError> v_;
};

/// Result of an operation that yields nothing but success or a ParseError.
using Status = Result<std::monostate>;

inline Status ok() { return Status(std::monostate{}); }

}  // namespace astmrf::sip
