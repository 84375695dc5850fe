// libFuzzer target: the TCP stream framer. The input is cut into reads whose
// sizes come from the first byte, so partial reads and pipelining are both
// exercised; buffered bytes must never exceed the limit plus one read.
#include <astmrf/sip/stream_framer.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace astmrf::sip;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  FramerLimits limits;
  limits.max_message_size = 4096;
  limits.max_header_count = 64;
  limits.max_line_length = 1024;
  StreamFramer framer(limits);
  for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
    if (!framer.feed(input.substr(pos, chunk))) return 0;
    if (framer.buffered() > limits.max_message_size + chunk) std::abort();
    while (true) {
      auto f = framer.next();
      if (!f) {
        (void)f.error().message();
        return 0;
      }
      if (f->kind == Frame::Kind::need_more) break;
      if (f->kind == Frame::Kind::message) {
        if (f->message.raw().size() > limits.max_message_size) std::abort();
        (void)f->message.serialize();
      }
    }
  }
  return 0;
}
