#include <astmrf/ari/ids.hpp>

#include <chrono>

namespace astmrf::ari {

IdGenerator::IdGenerator() {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
  rng_.seed(seq);
}

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
  // 96 random bits.
  const std::uint64_t a = rng_();
  const std::uint64_t b = rng_();
  for (int i = 15; i >= 0; --i) out.push_back(kDigits[(a >> (i * 4)) & 0xF]);
  for (int i = 7; i >= 0; --i) out.push_back(kDigits[(b >> (i * 4)) & 0xF]);
  return out;
}

}  // namespace astmrf::ari
