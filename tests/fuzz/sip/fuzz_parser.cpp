// libFuzzer target: the datagram parser plus every structured accessor, the
// serializer round trip, and the SDP and INFO-DTMF parsers on the body.
#include <astmrf/sip/dtmf.hpp>
#include <astmrf/sip/parser.hpp>
#include <astmrf/sip/sdp.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace astmrf::sip;

namespace {

template <class R>
void touch(const R& r) {
  if (!r) (void)r.error().message();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto m = parse_message(input);
  if (!m) {
    (void)m.error().message();
    return 0;
  }
  touch(m->uri());
  touch(m->vias());
  touch(m->top_via());
  touch(m->from());
  touch(m->to());
  touch(m->contacts());
  touch(m->cseq());
  touch(m->max_forwards());
  touch(m->expires());
  touch(m->content_type());
  touch(m->routes());
  touch(m->record_routes());
  touch(m->allow());
  touch(m->supported());
  touch(m->require());
  touch(m->www_authenticate());
  touch(m->authorization());
  touch(m->proxy_authenticate());
  touch(m->proxy_authorization());
  touch(m->validate());
  for (const auto& h : m->headers()) (void)m->values(h.id);
  // Serializing a parsed message must give text that parses to the same
  // start line, header count and body.
  const auto text = m->serialize();
  ParseOptions relaxed;
  relaxed.require_mandatory_headers = false;
  relaxed.max_message_size = text.size() + 1;
  relaxed.max_line_length = text.size() + 1;
  relaxed.max_header_count = m->headers().size() + 1;
  auto again = parse_message(text, relaxed);
  if (!again) std::abort();
  const auto expected_headers = m->headers().size() - m->count(HeaderId::content_length) + 1;
  if (again->headers().size() != expected_headers || again->body() != m->body() ||
      again->is_request() != m->is_request() || again->method() != m->method() || again->status() != m->status()) {
    std::abort();
  }
  const Message copy = *m;
  if (copy.raw() != m->raw()) std::abort();
  auto sd = sdp::parse(m->body());
  if (sd) (void)sd->to_string();
  for (const char* type : {"application/dtmf-relay", "application/dtmf"}) {
    auto dtmf = parse_info_dtmf(type, m->body());
    if (dtmf && dtmf->digit == 0) std::abort();  // a success always names a key
    touch(dtmf);
  }
  return 0;
}
