#include "message_factory.hpp"

#include <astmrf/sip/builder.hpp>
#include <astmrf/sip/uri.hpp>
#include <astmrf/util/host_port.hpp>

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace astmrf::sip::detail {

namespace asio = boost::asio;

namespace {

// Dotted-quad digits, written in place: address::to_string goes through inet_ntop and
// sprintf (~1.8K instructions), and this runs a dozen times per call set up.
void append_ipv4(std::string& out, const asio::ip::address_v4& address) {
  const auto bytes = address.to_bytes();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const unsigned b = bytes[i];
    if (i != 0) out.push_back('.');
    if (b >= 100) out.push_back(static_cast<char>('0' + b / 100));
    if (b >= 10) out.push_back(static_cast<char>('0' + b / 10 % 10));
    out.push_back(static_cast<char>('0' + b % 10));
  }
}

}  // namespace

std::string ip_text(const asio::ip::address& address) {
  std::string text;
  text.reserve(15);
  append_host_ip(text, address);
  return text;
}

std::string host_text(const asio::ip::address& address) {
  std::string text;
  append_host(text, address);
  return text;
}

void append_host(std::string& out, const asio::ip::address& address) {
  if (address.is_v6()) {
    out.append("[").append(address.to_string()).append("]");
    return;
  }
  append_ipv4(out, address.to_v4());
}

void append_host_ip(std::string& out, const asio::ip::address& address) {
  if (address.is_v6()) {
    out += address.to_string();
    return;
  }
  append_ipv4(out, address.to_v4());
}

void append_uint(std::string& out, std::uint64_t value) {
  char digits[20];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

namespace {

bool is_dialog_creating(const Message& request, int status) {
  return request.method_id() == MethodId::invite && status > 100 && status < 300;
}

}  // namespace

namespace {

// "SIP/2.0/UDP host:port;branch=" — every byte of a Via but the branch and ";rport".
void append_via_start(std::string& via, const PeerAddress& local) {
  via += "SIP/2.0/";
  via += via_name(local.transport);
  via += ' ';
  append_host(via, local.address);
  via += ':';
  append_uint(via, local.port);
  via += ";branch=";
}

// Room for the longest IPv4 Via: one allocation for the whole value.
constexpr std::size_t kViaReserve = 80;

}  // namespace

std::string make_via(const PeerAddress& local, std::string_view branch) {
  std::string via;
  via.reserve(kViaReserve + branch.size());
  append_via_start(via, local);
  via += branch;
  via += ";rport";
  return via;
}

std::string make_via(const PeerAddress& local, SipIds& ids) {
  std::string via;
  via.reserve(kViaReserve);
  append_via_start(via, local);
  ids.append_branch(via);
  via += ";rport";
  return via;
}

std::string_view own_via_branch(std::string_view via) {
  const auto start = via.find(";branch=") + 8;
  return via.substr(start, via.find(';', start) - start);
}

std::string contact_uri(const PeerAddress& local) {
  std::string uri;
  uri.reserve(64);
  uri += "sip:";
  append_host(uri, local.address);
  uri += ':';
  append_uint(uri, local.port);
  if (local.transport != Transport::udp) uri.append(";transport=").append(uri_param(local.transport));
  return uri;
}

std::optional<PeerAddress> parse_destination(std::string_view text) {
  PeerAddress out;
  const auto colon_at = text.find(':');
  if (colon_at == std::string_view::npos) return std::nullopt;
  auto transport = transport_from_name(text.substr(0, colon_at));
  if (!transport) return std::nullopt;
  out.transport = *transport;
  text.remove_prefix(colon_at + 1);
  util::HostPort host_port;
  try {
    host_port = util::parse_host_port(text);  // [v6]:port, v4:port (and v6:port, as before)
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
  boost::system::error_code ec;
  out.address = asio::ip::make_address(host_port.host, ec);
  if (ec) return std::nullopt;
  out.port = host_port.port;
  return out;
}

std::optional<PeerAddress> destination_from_uri(std::string_view uri_text, Transport fallback) {
  auto uri = parse_uri(uri_text);
  if (!uri || (uri->scheme != UriScheme::sip && uri->scheme != UriScheme::sips)) return std::nullopt;
  if (uri->host_kind != HostKind::ipv4 && uri->host_kind != HostKind::ipv6) return std::nullopt;
  PeerAddress out;
  boost::system::error_code ec;
  // The URI parser already knows the family: skip make_address's IPv6 attempt on IPv4 text.
  const std::string host(uri->host);
  if (uri->host_kind == HostKind::ipv4)
    out.address = asio::ip::make_address_v4(host, ec);
  else
    out.address = asio::ip::make_address_v6(host, ec);
  if (ec) return std::nullopt;
  out.port = uri->has_port ? uri->port : 5060;
  out.transport = fallback;
  if (uri->scheme == UriScheme::sips) out.transport = Transport::tls;  // RFC 3261 26.2: TLS on every hop
  if (auto name = uri->param("transport")) {
    if (auto transport = transport_from_name(*name); transport && uri->scheme == UriScheme::sip)
      out.transport = *transport;
  }
  return out;
}

PeerAddress response_destination(const Via& top_via, const PeerAddress& source) {
  if (source.transport != Transport::udp) return source;  // back over the same connection
  PeerAddress out = source;
  if (!top_via.has_rport) {
    // RFC 3261 18.2.2: the received address, and the port of sent-by.
    out.port = top_via.has_port ? top_via.port : 5060;
  }
  return out;
}

std::optional<std::string_view> first_contact_uri(const Message& message, std::vector<NameAddr>& scratch) {
  // The checks of Message::contacts(), into a reused list.
  scratch.clear();
  bool any = false;
  bool star = false;
  for (const auto& h : message.headers()) {
    if (h.id != HeaderId::contact) continue;
    any = true;
    std::string_view value = h.value;
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (value == "*") {
      star = true;
    } else if (append_name_addrs(h.value, scratch)) {
      return std::nullopt;
    }
  }
  if (!any || star || scratch.empty()) return std::nullopt;
  return scratch.front().uri_text;
}

const std::string* find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return &v;
  }
  return nullptr;
}

std::string build_response(const Message& request, const PeerAddress& source, const ResponseSpec& spec,
                           std::string& to_tag, SipIds& ids, std::string_view contact, std::string_view server,
                           std::optional<PeerAddress>* destination) {
  auto builder = MessageBuilder::response(spec.status, spec.reason);
  // Via: every value in order; the top one gets received and rport (RFC 3581).
  bool first = true;
  for_each_value(request, HeaderId::via, [&](std::string_view via) {
    if (first) {
      first = false;
      auto parsed = parse_via(via);
      if (!parsed) {
        builder.add(HeaderId::via, via);
        return;
      }
      if (destination != nullptr) *destination = response_destination(*parsed, source);
      // The top Via with ";received=" appended and a bare ";rport" given its value,
      // built in one reserved string.
      std::string top;
      top.reserve(via.size() + 64);
      top += via;
      if (parsed->received.empty()) {
        const std::size_t mark = top.size();
        top += ";received=";
        const std::size_t address = top.size();
        append_host_ip(top, source.address);
        if (std::string_view(top).substr(address) == parsed->host) top.resize(mark);
      }
      if (parsed->has_rport && !parsed->rport) {
        // Replace the bare ";rport" by ";rport=<port>".
        auto pos = top.find(";rport");
        while (pos != std::string::npos) {
          auto end = pos + 6;
          if (end == top.size() || top[end] == ';' || top[end] == ' ') {
            char digits[8];
            digits[0] = '=';
            auto [last, ec] = std::to_chars(digits + 1, digits + sizeof digits, source.port);
            top.insert(end, digits, static_cast<std::size_t>(last - digits));
            break;
          }
          pos = top.find(";rport", end);
        }
      }
      builder.add(HeaderId::via, top);
    } else {
      builder.add(HeaderId::via, via);
    }
  });
  builder.add(HeaderId::from, request.header(HeaderId::from));
  const std::string_view to = request.header(HeaderId::to);
  std::string to_with_tag;
  if (spec.status > 100) {
    auto parsed = request.to();
    if (parsed && parsed->tag.empty()) {
      if (to_tag.empty()) to_tag = ids.tag();  // drawn when first needed: most requests carry one
      to_with_tag.reserve(to.size() + 5 + to_tag.size());
      to_with_tag.append(to).append(";tag=").append(to_tag);
    }
  }
  builder.add(HeaderId::to, to_with_tag.empty() ? to : std::string_view(to_with_tag));
  builder.add(HeaderId::call_id, request.header(HeaderId::call_id));
  builder.add(HeaderId::cseq, request.header(HeaderId::cseq));
  if (is_dialog_creating(request, spec.status)) {
    for_each_value(request, HeaderId::record_route,
                   [&](std::string_view rr) { builder.add(HeaderId::record_route, rr); });
    if (!contact.empty() && find_header(spec.headers, "Contact") == nullptr &&
        find_header(spec.headers, "m") == nullptr) {
      std::string value;
      value.reserve(contact.size() + 2);
      value.append("<").append(contact).append(">");
      builder.add(HeaderId::contact, value);
    }
  }
  if (!server.empty() && find_header(spec.headers, "Server") == nullptr) builder.add("Server", server);
  for (const auto& [name, value] : spec.headers) builder.add(name, value);
  if (!spec.body.empty() || !spec.content_type.empty()) builder.body(spec.content_type, spec.body);
  return builder.str();
}

namespace {

// ACK for a non-2xx and CANCEL share the INVITE's Request-URI, top Via (so the
// same branch), From, Call-ID, CSeq number and Route set (RFC 3261 17.1.1.3, 9.1).
std::string same_transaction_request(std::string_view method, const Message& invite, std::string_view to) {
  auto builder = MessageBuilder::request(method, invite.request_uri());
  auto vias = invite.values(HeaderId::via);
  if (!vias.empty()) builder.add(HeaderId::via, vias.front());
  builder.add(HeaderId::max_forwards, "70");
  builder.add(HeaderId::from, invite.header(HeaderId::from));
  builder.add(HeaderId::to, to);
  builder.add(HeaderId::call_id, invite.header(HeaderId::call_id));
  auto cseq = invite.cseq();
  builder.add(HeaderId::cseq, std::to_string(cseq ? cseq->number : 1) + " " + std::string(method));
  for (auto route : invite.values(HeaderId::route)) builder.add(HeaderId::route, route);
  return builder.str();
}

}  // namespace

std::string build_non2xx_ack(const Message& invite, const Message& response) {
  return same_transaction_request("ACK", invite, response.header(HeaderId::to));
}

std::string build_cancel(const Message& invite) {
  return same_transaction_request("CANCEL", invite, invite.header(HeaderId::to));
}

}  // namespace astmrf::sip::detail
