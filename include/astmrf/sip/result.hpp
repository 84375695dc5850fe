// A minimal expected<T, ParseError>: parse errors travel as values so that the
// hot path never throws. value() throws ParseFailure for callers who prefer it.
#pragma once

#include <astmrf/sip/errors.hpp>

#include <type_traits>
#include <utility>
#include <variant>

namespace astmrf::sip {

template <class T>
/// The value of a parse, or the ParseError that says where and why it failed
/// (a minimal expected<T, ParseError>: the hot path never throws).
class [[nodiscard]] Result {
 public:
  /// A success holding `value`.
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  /// A failure holding `error`.
  Result(ParseError error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  /// A default-constructed value, built in place (no temporary to move).
  explicit Result(std::in_place_t) : v_(std::in_place_index<0>) {}

  /// True on success.
  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  /// True on success.
  explicit operator bool() const noexcept { return has_value(); }

  /// The value; throws ParseFailure on a failure.
  T& value() & {
    check();
    return std::get<0>(v_);
  }
  /// The value; throws ParseFailure on a failure.
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  /// The value, moved out; throws ParseFailure on a failure.
  T&& value() && {
    check();
    return std::get<0>(std::move(v_));
  }

  /// value().
  T& operator*() & { return value(); }
  /// value().
  const T& operator*() const& { return value(); }
  /// &value().
  T* operator->() { return &value(); }
  /// &value().
  const T* operator->() const { return &value(); }

  /// Precondition: !has_value().
  [[nodiscard]] const ParseError& error() const& { return std::get<1>(v_); }
  /// The error, moved out. Precondition: !has_value().
  [[nodiscard]] ParseError&& error() && { return std::get<1>(std::move(v_)); }

 private:
  void check() const {
    if (v_.index() != 0) throw ParseFailure(std::get<1>(v_));
  }
  std::variant<T, ParseError> v_;
};

/// Result of an operation that yields nothing but success or a ParseError.
using Status = Result<std::monostate>;

/// A successful Status.
inline Status ok() { return Status(std::monostate{}); }

}  // namespace astmrf::sip
