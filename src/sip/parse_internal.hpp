// Allocation-free internals shared by uri.cpp, header_parsers.cpp and
// message.cpp. Errors are static reason strings (nullptr on success); the
// public functions turn them into ParseError values.
#pragma once

#include <astmrf/sip/errors.hpp>
#include <astmrf/sip/header_parsers.hpp>
#include <astmrf/sip/uri.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::sip::detail {

/// Parses `text` into `out` (which must be default-constructed); returns the
/// reason of a failure or nullptr.
const char* parse_uri_into(std::string_view text, Uri& out) noexcept;

bool valid_ipv6(std::string_view s) noexcept;

/// "host", "[v6]", "host:port" or "[v6]:port": a URI's hostport and a Via's sent-by alike.
std::string host_port_text(std::string_view host, HostKind kind, bool has_port, std::uint16_t port);

/// classify_host() for a host that is not a bracketed IPv6 reference.
HostKind classify_plain_host(std::string_view s) noexcept;

/// Scans the longest run of hostname characters (alnum, '-', '.') from
/// `start` and classifies it exactly like classify_host(); returns its end.
std::size_t scan_host(const char* p, std::size_t start, std::size_t n, HostKind& kind) noexcept;

/// A header-value parse failure: a static reason and the offset in the value.
struct Fail {
  const char* reason{nullptr};
  std::size_t offset{0};
  bool uri{false};  ///< reason comes from the URI parser: "invalid URI: " prefix
  explicit operator bool() const noexcept { return reason != nullptr; }
};

/// ParseErrc::bad_header_value with column = offset + 1 (Message rebases it).
ParseError to_error(const Fail& f);

/// One Via element; `v` must be default-constructed. With `stop_at_comma`
/// the element may be followed by ',' and the rest of a list.
Fail parse_via_into(std::string_view element, Via& v, bool stop_at_comma = false);
/// One name-addr / addr-spec with params, up to the end of `value`.
/// With `comma` set, the address may also end at a ',' (the rest of a list);
/// *comma receives the offset where it ended (a ',' or value.size()).
Fail parse_name_addr_into(std::string_view value, NameAddr& na, std::size_t* comma = nullptr);
/// Appends every element of a comma-separated address list to `out`;
/// fails on an empty list.
Fail append_name_addrs(std::string_view value, std::vector<NameAddr>& out);
/// The next element of a list header value exactly as split_list() cuts it;
/// `pos` starts at 0. False when there are no more elements.
bool next_list_item(std::string_view value, std::size_t& pos, std::string_view& item) noexcept;

}  // namespace astmrf::sip::detail
