// Internal helpers to build ParseError values.
#pragma once

#include <astmrf/sip/errors.hpp>

#include <string>
#include <string_view>

namespace astmrf::sip::detail {

inline ParseError make_error(ParseErrc code, std::string reason, std::uint32_t line = 0, std::uint32_t column = 0,
                             std::string_view header = {}) {
  return ParseError{code, std::move(reason), line, column, std::string(header)};
}

}  // namespace astmrf::sip::detail
