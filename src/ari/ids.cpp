#include <astmrf/ari/ids.hpp>

#include <chrono>
#include <cstdint>

namespace astmrf::ari {

std::string IdGenerator::next(std::string_view prefix) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out(prefix);
  if (!out.empty()) out.push_back('-');
  // Milliseconds since the epoch in base 36: ids sort by creation time within a process.
  auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  char buf[16];
  int n = 0;
  do {
    buf[n++] = kDigits[ms % 36];
    ms /= 36;
  } while (ms != 0 && n < 16);
  while (n > 0) out.push_back(buf[--n]);
  out.push_back('-');
  random_.append_hex(out, 24);  // 96 random bits
  return out;
}

}  // namespace astmrf::ari
