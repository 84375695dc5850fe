// The one copy of each shared utility: random ids, base64, reconnect backoff.
#include <astmrf/util/ascii.hpp>
#include <astmrf/util/backoff.hpp>
#include <astmrf/util/base64.hpp>
#include <astmrf/util/hex.hpp>
#include <astmrf/util/random.hpp>

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace util = astmrf::util;
using std::chrono::milliseconds;

bool all_hex(const std::string& text) { return text.find_first_not_of("0123456789abcdef") == std::string::npos; }

TEST(UtilRandom, HexHasTheDigitsAskedFor) {
  util::Random random;
  for (std::size_t digits : {0u, 1u, 15u, 16u, 17u, 32u, 40u}) {
    const auto text = random.hex(digits);
    EXPECT_EQ(text.size(), digits);
    EXPECT_TRUE(all_hex(text)) << text;
  }
  std::string out = "z9hG4bK";
  random.append_hex(out, 20);
  EXPECT_EQ(out.size(), 27u);
  EXPECT_EQ(out.rfind("z9hG4bK", 0), 0u);
}

TEST(UtilRandom, Uuid4HasItsVersionAndVariant) {
  util::Random random;
  std::set<std::string> seen;
  for (int i = 0; i < 10'000; ++i) {
    const auto uuid = random.uuid4();
    ASSERT_EQ(uuid.size(), 36u) << uuid;
    for (std::size_t dash : {8u, 13u, 18u, 23u}) ASSERT_EQ(uuid[dash], '-') << uuid;
    ASSERT_EQ(uuid[14], '4') << uuid;                                          // version 4
    ASSERT_NE(std::string("89ab").find(uuid[19]), std::string::npos) << uuid;  // variant 10xx
    std::string digits = uuid;
    std::erase(digits, '-');
    ASSERT_TRUE(all_hex(digits)) << uuid;
    ASSERT_TRUE(seen.insert(uuid).second) << uuid;
  }
}

TEST(UtilRandom, EachObjectHasItsOwnSequence) {
  util::Random a;
  util::Random b;
  EXPECT_NE(a.hex(32), b.hex(32));
  util::Random fixed1(42);
  util::Random fixed2(42);
  EXPECT_EQ(fixed1.uuid4(), fixed2.uuid4());
}

TEST(UtilUuid5, KnownVectors) {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org"), and NAMESPACE_URL's example.
  EXPECT_EQ(util::uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  EXPECT_EQ(util::uuid5("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "python.org"), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  // RFC 9562 appendix A.4: name "www.example.com" in the DNS namespace.
  EXPECT_EQ(util::uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com"),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2");
  EXPECT_NE(util::uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "ivr-1"),
            util::uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "ivr-2"));
}

TEST(UtilUuid5, BadNamespaceIsRefused) {
  EXPECT_THROW(util::uuid5("", "x"), std::invalid_argument);
  EXPECT_THROW(util::uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c", "x"), std::invalid_argument);
  EXPECT_THROW(util::uuid5("6ba7b810x9dad-11d1-80b4-00c04fd430c8", "x"), std::invalid_argument);
  EXPECT_THROW(util::uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430cg", "x"), std::invalid_argument);
}

TEST(UtilAscii, FoldsOnlyAsciiLetters) {
  EXPECT_EQ(util::to_lower("SIP:Alice@Example.COM;Transport=TCP"), "sip:alice@example.com;transport=tcp");
  EXPECT_EQ(util::to_lower("\xc3\x89@[]^_`{"), "\xc3\x89@[]^_`{");  // UTF-8 and the neighbours of the letters kept
  EXPECT_TRUE(util::iequals("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(util::iequals("Via", "Vi"));
  EXPECT_FALSE(util::iequals("@", "`"));  // 0x40 and 0x60 differ by the case bit but are no letters
  EXPECT_FALSE(util::iequals("[", "{"));
  EXPECT_TRUE(util::iends_with("host.INVALID", ".invalid"));
  EXPECT_FALSE(util::iends_with("id", ".invalid"));
  EXPECT_TRUE(util::icontains("Channel not found", "NOT FOUND"));
  EXPECT_TRUE(util::icontains("x", ""));
  EXPECT_FALSE(util::icontains("abc", "abcd"));
  static_assert(util::iequals("INVITE", "invite"));
}

TEST(UtilHex, DigitValuesOfEitherCase) {
  EXPECT_EQ(util::hex_value('0'), 0);
  EXPECT_EQ(util::hex_value('9'), 9);
  EXPECT_EQ(util::hex_value('a'), 10);
  EXPECT_EQ(util::hex_value('F'), 15);
  EXPECT_EQ(util::hex_value('g'), -1);
  EXPECT_EQ(util::hex_value('/'), -1);
  EXPECT_EQ(util::hex_value('\0'), -1);
}

TEST(UtilHex, EncodesBytes) {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
  EXPECT_EQ(util::to_hex(bytes, sizeof bytes), "000fa5ff");
  std::string out = "x";
  util::append_hex_byte(out, 0xab, util::kHexUpper);
  util::append_percent_encoded(out, ' ');
  EXPECT_EQ(out, "xAB%20");
}

TEST(UtilBase64, Rfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [in, out] : vectors) EXPECT_EQ(util::base64_encode(in), out) << in;
  EXPECT_EQ(util::base64_encode("asterisk:s3cr\xc3\xa9t"), "YXN0ZXJpc2s6czNjcsOpdA==");
  EXPECT_EQ(util::base64_encode(std::string("\0\xff", 2)), "AP8=");
}

TEST(UtilBackoff, GrowsThenStaysAtTheCap) {
  util::BackoffOptions options;  // 200 ms, x2, 10 s
  milliseconds delay = options.initial;
  std::vector<long> seen;
  for (int i = 0; i < 10; ++i) {
    delay = util::next_backoff(delay, options);
    seen.push_back(static_cast<long>(delay.count()));
  }
  EXPECT_EQ(seen, (std::vector<long>{400, 800, 1600, 3200, 6400, 10000, 10000, 10000, 10000, 10000}));
}

TEST(UtilBackoff, DegenerateOptionsNeverGiveAZeroDelay) {
  util::BackoffOptions options;
  options.multiplier = 0.0;
  options.max = milliseconds(0);
  EXPECT_EQ(util::next_backoff(milliseconds(0), options), milliseconds(1));
  options.max = milliseconds(50);
  EXPECT_EQ(util::next_backoff(milliseconds(0), options), milliseconds(1));
  EXPECT_EQ(util::next_backoff(milliseconds(40), options), milliseconds(40));
  options.initial = milliseconds(0);
  options.jitter = 0.0;
  util::Backoff backoff(options);
  EXPECT_EQ(backoff.next(), milliseconds(1));
}

TEST(UtilBackoff, WithoutJitterTheDelaysAreExact) {
  util::BackoffOptions options;
  options.jitter = 0.0;
  util::Backoff backoff(options);
  EXPECT_EQ(backoff.next(), milliseconds(200));
  EXPECT_EQ(backoff.next(), milliseconds(400));
  EXPECT_EQ(backoff.next(), milliseconds(800));
  backoff.reset();
  EXPECT_EQ(backoff.next(), milliseconds(200));
}

TEST(UtilBackoff, JitterStaysInItsBandAndVaries) {
  util::BackoffOptions options;
  options.initial = milliseconds(1000);
  options.max = milliseconds(1000);
  options.jitter = 0.2;
  util::Backoff backoff(options);
  std::set<long> seen;
  for (int i = 0; i < 200; ++i) {
    const auto delay = backoff.next();
    ASSERT_GE(delay, milliseconds(800));
    ASSERT_LE(delay, milliseconds(1200));
    seen.insert(static_cast<long>(delay.count()));
  }
  EXPECT_GT(seen.size(), 1u) << "no jitter";
}

}  // namespace
