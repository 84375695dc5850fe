#include "chars.hpp"
#include "error_util.hpp"
#include "parse_internal.hpp"

#include <astmrf/sip/message.hpp>

#include <algorithm>
#include <cstring>

namespace astmrf::sip {
namespace {

using namespace detail;

std::string_view rebase(std::string_view v, const char* old_base, std::size_t old_size, const char* new_base) {
  if (v.data() == nullptr || v.data() < old_base || v.data() > old_base + old_size) return v;
  return {new_base + (v.data() - old_base), v.size()};
}

}  // namespace

Message::Message(const Message& other)
    : size_(other.size_),
      status_(other.status_),
      method_id_(other.method_id_),
      headers_(other.headers_),
      first_(other.first_) {
  if (!other.buf_) return;
  buf_ = std::make_unique_for_overwrite<char[]>(size_ == 0 ? 1 : size_);
  std::memcpy(buf_.get(), other.buf_.get(), size_);
  const char* ob = other.buf_.get();
  char* nb = buf_.get();
  method_ = rebase(other.method_, ob, size_, nb);
  request_uri_ = rebase(other.request_uri_, ob, size_, nb);
  version_ = rebase(other.version_, ob, size_, nb);
  reason_ = rebase(other.reason_, ob, size_, nb);
  body_ = rebase(other.body_, ob, size_, nb);
  for (auto& h : headers_) {
    h.name = rebase(h.name, ob, size_, nb);
    h.value = rebase(h.value, ob, size_, nb);
  }
}

Message& Message::operator=(const Message& other) {
  if (this != &other) {
    Message copy(other);
    *this = std::move(copy);
  }
  return *this;
}

const HeaderField* Message::find(HeaderId id) const noexcept {
  const auto i = static_cast<std::size_t>(id);
  if (i >= first_.size() || first_[i] == 0) return nullptr;
  if (first_[i] != 0xffff) return &headers_[first_[i] - 1u];
  for (const auto& h : headers_) {  // beyond the 65534th header
    if (h.id == id) return &h;
  }
  return nullptr;
}

const HeaderField* Message::find(std::string_view name) const noexcept {
  const auto id = header_id(name);
  if (id != HeaderId::other) return find(id);
  for (const auto& h : headers_) {
    if (h.id == HeaderId::other && iequals(h.name, name)) return &h;
  }
  return nullptr;
}

std::string_view Message::header(HeaderId id) const noexcept {
  const auto* h = find(id);
  return h != nullptr ? h->value : std::string_view{};
}

std::string_view Message::header(std::string_view name) const noexcept {
  const auto* h = find(name);
  return h != nullptr ? h->value : std::string_view{};
}

std::size_t Message::count(HeaderId id) const noexcept {
  std::size_t n = 0;
  for (const auto& h : headers_) n += (h.id == id) ? 1 : 0;
  return n;
}

std::vector<std::string_view> Message::values(HeaderId id) const {
  std::vector<std::string_view> out;
  const bool list = is_list_header(id);
  for (const auto& h : headers_) {
    if (h.id != id) continue;
    if (list) {
      for (auto v : split_list(h.value)) out.push_back(v);
    } else {
      out.push_back(h.value);
    }
  }
  return out;
}

ParseError Message::locate(ParseError err, const HeaderField& h) const {
  const auto value_col = static_cast<std::uint32_t>(h.value.data() - h.name.data());
  err.line = h.line;
  err.column = value_col + (err.column == 0 ? 1 : err.column);
  err.header = std::string(h.name);
  return err;
}

ParseError Message::missing(HeaderId id) const {
  return make_error(ParseErrc::missing_header, "no " + std::string(header_name(id)) + " header", 0, 0, header_name(id));
}

Result<Uri> Message::uri() const {
  if (!is_request()) return make_error(ParseErrc::bad_request_uri, "a response has no Request-URI");
  auto u = parse_uri(request_uri_);
  if (!u) {
    auto err = std::move(u).error();
    err.code = ParseErrc::bad_request_uri;
    err.line = 1;
    err.column = static_cast<std::uint32_t>(method_.size() + 2);
    return err;
  }
  return u;
}

Result<std::vector<Via>> Message::vias() const {
  std::vector<Via> out;
  for (const auto& h : headers_) {
    if (h.id != HeaderId::via) continue;
    auto list = parse_via_list(h.value);
    if (!list) return locate(std::move(list).error(), h);
    for (auto& v : *list) out.push_back(std::move(v));
  }
  if (out.empty()) return missing(HeaderId::via);
  return out;
}

Result<Via> Message::top_via() const {
  const auto* h = find(HeaderId::via);
  if (h == nullptr) return missing(HeaderId::via);
  // Only the first element is needed: parse it in place and let it end at a
  // ',' (no scans of the Via grammar can step over a top-level comma, so a
  // success is exactly the first element).
  const auto v = h->value;
  Result<Via> r{std::in_place};
  if (!parse_via_into(v, *r, true)) return r;
  // On failure, report exactly what the element cut at its first top-level
  // comma reports.
  std::size_t end = 0;
  bool quoted = false;
  for (; end < v.size(); ++end) {
    const char c = v[end];
    if (quoted) {
      if (c == '\\')
        ++end;
      else if (c == '"')
        quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      break;
    }
  }
  Via first;
  auto f = parse_via_into(v.substr(0, std::min(end, v.size())), first);
  if (!f) return first;  // not reached: see above
  return locate(to_error(f), *h);
}

Result<NameAddr> Message::name_addr(HeaderId id) const {
  const auto* h = find(id);
  if (h == nullptr) return missing(id);
  Result<NameAddr> r{std::in_place};
  if (auto f = parse_name_addr_into(h->value, *r)) return locate(to_error(f), *h);
  return r;
}

Result<NameAddr> Message::from() const { return name_addr(HeaderId::from); }

Result<NameAddr> Message::to() const { return name_addr(HeaderId::to); }

Result<ContactList> Message::contacts() const {
  ContactList out;
  bool any = false;
  for (const auto& h : headers_) {
    if (h.id != HeaderId::contact) continue;
    any = true;
    if (trim(h.value) == "*") {
      out.star = true;
    } else if (auto f = append_name_addrs(h.value, out.contacts)) {
      return locate(to_error(f), h);
    }
  }
  if (!any) return missing(HeaderId::contact);
  if (out.star && !out.contacts.empty()) {
    return make_error(ParseErrc::bad_header_value, "Contact '*' cannot be combined with addresses", 0, 0, "Contact");
  }
  return out;
}

Result<CSeq> Message::cseq() const {
  const auto* h = find(HeaderId::cseq);
  if (h == nullptr) return missing(HeaderId::cseq);
  auto r = parse_cseq(h->value);
  if (!r) return locate(std::move(r).error(), *h);
  return r;
}

Result<std::uint32_t> Message::max_forwards() const {
  const auto* h = find(HeaderId::max_forwards);
  if (h == nullptr) return missing(HeaderId::max_forwards);
  auto r = parse_uint32(h->value);
  if (!r) return locate(std::move(r).error(), *h);
  if (*r > 255) return locate(make_error(ParseErrc::bad_header_value, "Max-Forwards exceeds 255"), *h);
  return r;
}

Result<std::uint32_t> Message::expires() const {
  const auto* h = find(HeaderId::expires);
  if (h == nullptr) return missing(HeaderId::expires);
  auto r = parse_uint32(h->value);
  if (!r) return locate(std::move(r).error(), *h);
  return r;
}

Result<MediaType> Message::content_type() const {
  const auto* h = find(HeaderId::content_type);
  if (h == nullptr) return missing(HeaderId::content_type);
  auto r = parse_media_type(h->value);
  if (!r) return locate(std::move(r).error(), *h);
  return r;
}

Result<std::vector<NameAddr>> Message::addr_list(HeaderId id) const {
  std::vector<NameAddr> out;
  bool any = false;
  for (const auto& h : headers_) {
    if (h.id != id) continue;
    any = true;
    if (auto f = append_name_addrs(h.value, out)) return locate(to_error(f), h);
  }
  if (!any) return missing(id);
  return out;
}

Result<std::vector<NameAddr>> Message::routes() const { return addr_list(HeaderId::route); }
Result<std::vector<NameAddr>> Message::record_routes() const { return addr_list(HeaderId::record_route); }

Result<std::vector<std::string_view>> Message::token_list(HeaderId id) const {
  std::vector<std::string_view> out;
  bool any = false;
  for (const auto& h : headers_) {
    if (h.id != id) continue;
    any = true;
    auto list = parse_token_list(h.value);
    if (!list) return locate(std::move(list).error(), h);
    for (auto t : *list) out.push_back(t);
  }
  if (!any) return missing(id);
  return out;
}

Result<std::vector<std::string_view>> Message::allow() const { return token_list(HeaderId::allow); }
Result<std::vector<std::string_view>> Message::supported() const { return token_list(HeaderId::supported); }
Result<std::vector<std::string_view>> Message::require() const { return token_list(HeaderId::require); }

Result<AuthParams> Message::auth(HeaderId id) const {
  const auto* h = find(id);
  if (h == nullptr) return missing(id);
  auto r = parse_auth_params(h->value);
  if (!r) return locate(std::move(r).error(), *h);
  return r;
}

Result<AuthParams> Message::www_authenticate() const { return auth(HeaderId::www_authenticate); }
Result<AuthParams> Message::proxy_authenticate() const { return auth(HeaderId::proxy_authenticate); }
Result<AuthParams> Message::authorization() const { return auth(HeaderId::authorization); }
Result<AuthParams> Message::proxy_authorization() const { return auth(HeaderId::proxy_authorization); }

Status Message::validate() const {
  if (is_request()) {
    auto u = uri();
    if (!u) return std::move(u).error();
    // RFC 3261 19.1.5: a Request-URI cannot carry a header component.
    if (!u->headers.empty()) {
      return make_error(ParseErrc::bad_request_uri, "header component (?...) not allowed in a Request-URI", 1,
                        static_cast<std::uint32_t>(method_.size() + 2));
    }
  }
  // Single-valued headers that a message may carry at most once.
  static constexpr HeaderId kSingle[] = {HeaderId::from,   HeaderId::to,           HeaderId::call_id,
                                         HeaderId::cseq,   HeaderId::max_forwards, HeaderId::content_type,
                                         HeaderId::expires};
  for (auto id : kSingle) {
    if (count(id) > 1) {
      const HeaderField* second = nullptr;
      for (const auto& h : headers_) {
        if (h.id == id && second == nullptr && &h != find(id)) second = &h;
      }
      return make_error(ParseErrc::duplicate_header, std::string(header_name(id)) + " appears more than once",
                        second->line, 1, second->name);
    }
  }
  for (const auto& h : headers_) {
    Status st = ok();
    auto check = [&](auto&& r) {
      if (!r) st = locate(std::move(r).error(), h);
    };
    switch (h.id) {
      case HeaderId::via: check(parse_via_list(h.value)); break;
      case HeaderId::from:
      case HeaderId::to:
      case HeaderId::reply_to:
      case HeaderId::refer_to:
      case HeaderId::referred_by: check(parse_name_addr(h.value)); break;
      case HeaderId::contact: check(parse_contact_list(h.value)); break;
      case HeaderId::route:
      case HeaderId::record_route:
      case HeaderId::p_asserted_identity: check(parse_name_addr_list(h.value)); break;
      case HeaderId::cseq: check(parse_cseq(h.value)); break;
      case HeaderId::max_forwards:
      case HeaderId::expires:
      case HeaderId::min_expires:
      case HeaderId::rseq: check(parse_uint32(h.value)); break;
      case HeaderId::content_type: check(parse_media_type(h.value)); break;
      case HeaderId::allow:
      case HeaderId::supported:
      case HeaderId::require:
      case HeaderId::proxy_require:
      case HeaderId::unsupported: check(parse_token_list(h.value)); break;
      case HeaderId::www_authenticate:
      case HeaderId::proxy_authenticate:
      case HeaderId::authorization:
      case HeaderId::proxy_authorization: check(parse_auth_params(h.value)); break;
      case HeaderId::date:
        // rfc1123-date always ends in "GMT" (RFC 3261 20.17)
        if (h.value.size() < 4 || h.value.substr(h.value.size() - 4) != " GMT") {
          st = locate(make_error(ParseErrc::bad_header_value, "Date must be an RFC 1123 date in GMT"), h);
        }
        break;
      case HeaderId::call_id: {
        // callid = word [ "@" word ]
        const auto v = h.value;
        const auto at = v.find('@');
        const auto w1 = v.substr(0, at);
        const bool good = !w1.empty() && all_of(w1, kWord) &&
                          (at == std::string_view::npos || (at + 1 < v.size() && all_of(v.substr(at + 1), kWord)));
        if (!good) st = locate(make_error(ParseErrc::bad_header_value, "Call-ID must be word[@word]"), h);
        break;
      }
      default: break;
    }
    if (!st) return st;
  }
  if (auto cs = cseq(); !cs) {
    return std::move(cs).error();
  } else if (is_request() && cs->method != method_) {
    const auto* h = find(HeaderId::cseq);
    return locate(make_error(ParseErrc::bad_header_value, "CSeq method '" + std::string(cs->method) +
                                                              "' does not match the request method '" +
                                                              std::string(method_) + "'"),
                  *h);
  }
  if (auto v = vias(); !v) return std::move(v).error();
  if (has(HeaderId::contact)) {
    if (auto c = contacts(); !c) return std::move(c).error();
  }
  if (auto mf = find(HeaderId::max_forwards); mf != nullptr) {
    if (auto r = max_forwards(); !r) return std::move(r).error();
  }
  return ok();
}

void Message::serialize_to(std::string& out) const {
  out.reserve(out.size() + size_ + 32);
  if (is_request()) {
    out += method_;
    out += ' ';
    out += request_uri_;
    out += " SIP/2.0\r\n";
  } else {
    out += "SIP/2.0 ";
    char code[4] = {static_cast<char>('0' + status_ / 100), static_cast<char>('0' + status_ / 10 % 10),
                    static_cast<char>('0' + status_ % 10), ' '};
    out.append(code, 4);
    out += reason_;
    out += "\r\n";
  }
  for (const auto& h : headers_) {
    if (h.id == HeaderId::content_length) continue;
    out += h.id == HeaderId::other ? h.name : header_name(h.id);
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  out += "Content-Length: ";
  out += std::to_string(body_.size());
  out += "\r\n\r\n";
  out += body_;
}

std::string Message::serialize() const {
  std::string out;
  serialize_to(out);
  return out;
}

}  // namespace astmrf::sip
