// Builds the messages whose shape RFC 3261 fixes (responses, ACK, CANCEL, the
// start of every request) and computes where responses and requests go.
#pragma once

#include "../parse_internal.hpp"

#include <astmrf/sip/engine/transport.hpp>
#include <astmrf/sip/header_parsers.hpp>
#include <astmrf/sip/message.hpp>
#include <astmrf/sip/spec.hpp>
#include <astmrf/util/random.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::sip::detail {

/// The random identifiers of SIP: tags, branches, Call-IDs (hex digits from a
/// util::Random). One per engine.
class SipIds {
 public:
  /// 16 hex digits.
  std::string tag() { return random_.hex(16); }
  /// 32 hex digits.
  std::string call_id() { return random_.hex(32); }
  /// "z9hG4bK" + 20 hex digits (RFC 3261 magic cookie).
  std::string branch() {
    std::string out;
    append_branch(out);
    return out;
  }
  /// branch(), appended to `out` (no temporary string).
  void append_branch(std::string& out) {
    out += "z9hG4bK";
    random_.append_hex(out, 20);
  }

 private:
  util::Random random_;
};

/// "127.0.0.1", "::1": the address's text, without sprintf for IPv4.
std::string ip_text(const boost::asio::ip::address& address);
/// ip_text, with brackets for IPv6 (the host part of a URI or Via).
std::string host_text(const boost::asio::ip::address& address);
/// host_text, appended to `out`.
void append_host(std::string& out, const boost::asio::ip::address& address);
/// ip_text, appended to `out`.
void append_host_ip(std::string& out, const boost::asio::ip::address& address);
/// Decimal digits of `value`, appended to `out`.
void append_uint(std::string& out, std::uint64_t value);

/// "SIP/2.0/UDP 127.0.0.1:5060;branch=...;rport"
std::string make_via(const PeerAddress& local, std::string_view branch);
/// make_via with a new branch from `ids`, written in place.
std::string make_via(const PeerAddress& local, SipIds& ids);
/// The branch of a Via that make_via wrote (what parsing it would give, without the parse).
std::string_view own_via_branch(std::string_view via);
/// "sip:127.0.0.1:5060" (+ ";transport=tcp" for TCP)
std::string contact_uri(const PeerAddress& local);

/// "udp:1.2.3.4:5060", "tcp:[::1]:5080"; nullopt when malformed.
std::optional<PeerAddress> parse_destination(std::string_view text);
/// Where to send a request for `uri` (an IP host is required: the engine does no
/// DNS). `fallback` is the transport when the URI names none.
std::optional<PeerAddress> destination_from_uri(std::string_view uri, Transport fallback);

/// Where a response to `request` goes (RFC 3261 18.2.2, RFC 3581 rport).
PeerAddress response_destination(const Via& top_via, const PeerAddress& source);

/// The text of a response to `request`: every Via (the top one with received /
/// rport filled in, RFC 3581), From, To (with `to_tag` if it had none; an empty
/// `to_tag` is then set to a new tag from `ids`), Call-ID,
/// CSeq, Record-Route for dialog-creating responses, then `spec`'s headers and
/// body; Contact and Server added unless `spec` has them. `destination`, when
/// given, receives response_destination() of the top Via (untouched if it does not parse).
std::string build_response(const Message& request, const PeerAddress& source, const ResponseSpec& spec,
                           std::string& to_tag, SipIds& ids, std::string_view contact, std::string_view server,
                           std::optional<PeerAddress>* destination = nullptr);

/// ACK for a non-2xx final response (RFC 3261 17.1.1.3): same branch as the INVITE.
std::string build_non2xx_ack(const Message& invite, const Message& response);
/// CANCEL for an INVITE (RFC 3261 9.1).
std::string build_cancel(const Message& invite);

/// Calls f(value) for every value of header `id`, as Message::values(id) lists
/// them, without building the list.
template <class F>
void for_each_value(const Message& message, HeaderId id, F&& f) {
  const bool list = is_list_header(id);
  for (const auto& h : message.headers()) {
    if (h.id != id) continue;
    if (!list) {
      f(h.value);
      continue;
    }
    std::size_t pos = 0;
    std::string_view item;
    while (next_list_item(h.value, pos, item)) f(item);
  }
}

/// The URI text of the first Contact, exactly when message.contacts() succeeds
/// with an address; `scratch` holds the parsed list (reused: no allocation once grown).
std::optional<std::string_view> first_contact_uri(const Message& message, std::vector<NameAddr>& scratch);

/// The first value of a header in `spec.headers`, by case-insensitive name.
const std::string* find_header(const HeaderList& headers, std::string_view name);

}  // namespace astmrf::sip::detail
