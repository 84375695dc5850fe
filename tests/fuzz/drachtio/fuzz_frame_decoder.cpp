// libFuzzer target: the drachtio frame decoder. The input is cut into reads whose
// sizes come from the first byte (partial and pipelined frames). Every decoded
// frame must re-encode to bytes that decode to the same frame (the input may
// differ only in leading zeros of the length), and the decoder must never hold
// more than one frame plus one read.
#include "frame_codec.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace astmrf::srf::drachtio::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  constexpr std::size_t kLimit = 4096;
  FrameDecoder decoder(kLimit);

  for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
    const auto piece = input.substr(pos, chunk);
    decoder.feed(piece);
    // Length digits + '#' + the largest frame + one read.
    if (decoder.buffered() > kLimit + 8 + chunk) std::abort();
    Frame frame;
    while (true) {
      const auto status = decoder.next(frame);
      if (status == FrameDecoder::Status::error) {
        if (decoder.error().empty()) std::abort();
        return 0;
      }
      if (status == FrameDecoder::Status::need_more) break;
      const std::string bytes = encode(frame);
      FrameDecoder again(kLimit);
      again.feed(bytes);
      Frame copy;
      if (again.next(copy) != FrameDecoder::Status::frame || copy.fields != frame.fields ||
          copy.has_sip != frame.has_sip || copy.sip != frame.sip || again.buffered() != 0) {
        std::abort();
      }
    }
  }
  return 0;
}
