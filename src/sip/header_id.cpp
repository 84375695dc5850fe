#include "header_lookup.hpp"

#include <astmrf/sip/header_id.hpp>

namespace astmrf::sip {

using detail::kHeaders;

HeaderId header_id(std::string_view name) noexcept { return detail::lookup_header_id(name); }

std::string_view header_name(HeaderId id) noexcept {
  const auto i = static_cast<std::size_t>(id);
  return i < kHeaders.size() ? kHeaders[i].name : std::string_view{};
}

char compact_form(HeaderId id) noexcept {
  const auto i = static_cast<std::size_t>(id);
  return i < kHeaders.size() ? kHeaders[i].compact : '\0';
}

bool is_list_header(HeaderId id) noexcept {
  const auto i = static_cast<std::size_t>(id);
  return i < kHeaders.size() && kHeaders[i].list;
}

}  // namespace astmrf::sip
