// DTMF in SIP INFO bodies: the forms phones and gateways send, and bodies that must be refused.
#include <astmrf/sip/dtmf.hpp>

#include <gtest/gtest.h>

namespace {

using astmrf::sip::is_info_dtmf;
using astmrf::sip::parse_info_dtmf;
using astmrf::sip::ParseErrc;
using namespace std::chrono_literals;

TEST(InfoDtmf, RelayBodyWithSignalAndDuration) {
  auto d = parse_info_dtmf("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n");
  ASSERT_TRUE(d) << d.error().reason;
  EXPECT_EQ(d->digit, '5');
  EXPECT_EQ(d->duration, 160ms);
}

TEST(InfoDtmf, RelayBodyVariantsSeenInTheField) {
  struct Case {
    std::string_view body;
    char digit;
    std::chrono::milliseconds duration;
  };
  for (const Case& c : {Case{"Signal= #\nDuration= 250\n", '#', 250ms},     // LF only, blanks after '='
                        Case{"signal = *\r\nduration = 100", '*', 100ms},   // lower-case names, no final CRLF
                        Case{"Signal=11\r\nDuration=160\r\n", '#', 160ms},  // event number instead of the key
                        Case{"Signal=a\r\n", 'A', 0ms},                     // no Duration; lower-case key
                        Case{"Volume=10\r\nSignal=0\r\nDuration=80\r\n", '0', 80ms}}) {  // other lines ignored
    auto d = parse_info_dtmf("Application/DTMF-Relay; charset=utf-8", c.body);
    ASSERT_TRUE(d) << c.body << ": " << d.error().reason;
    EXPECT_EQ(d->digit, c.digit) << c.body;
    EXPECT_EQ(d->duration, c.duration) << c.body;
  }
}

TEST(InfoDtmf, PlainDtmfBody) {
  auto d = parse_info_dtmf("application/dtmf", "7\r\n");
  ASSERT_TRUE(d) << d.error().reason;
  EXPECT_EQ(d->digit, '7');
  EXPECT_EQ(d->duration, 0ms);
  auto star = parse_info_dtmf("application/dtmf", "10");
  ASSERT_TRUE(star);
  EXPECT_EQ(star->digit, '*');
}

TEST(InfoDtmf, BadBodiesAreRefusedWithAReason) {
  struct Case {
    std::string_view type;
    std::string_view body;
  };
  for (const Case& c :
       {Case{"application/dtmf-relay", ""}, Case{"application/dtmf-relay", "Duration=160\r\n"},
        Case{"application/dtmf-relay", "Signal=E\r\n"}, Case{"application/dtmf-relay", "Signal=16\r\n"},
        Case{"application/dtmf-relay", "Signal=\r\n"}, Case{"application/dtmf-relay", "Signal=1\r\nDuration=long\r\n"},
        Case{"application/dtmf-relay", "Signal=1\r\nDuration=-5\r\n"}, Case{"application/dtmf", "12 3"},
        Case{"application/dtmf", ""}, Case{"application/sdp", "Signal=1"}, Case{"not a type", "1"}}) {
    auto d = parse_info_dtmf(c.type, c.body);
    ASSERT_FALSE(d) << c.type << " / " << c.body;
    EXPECT_EQ(d.error().code, ParseErrc::bad_dtmf);
    EXPECT_FALSE(d.error().reason.empty());
  }
}

TEST(InfoDtmf, TellsTheDtmfTypesApart) {
  EXPECT_TRUE(is_info_dtmf("application/dtmf-relay"));
  EXPECT_TRUE(is_info_dtmf("application/dtmf"));
  EXPECT_TRUE(is_info_dtmf("APPLICATION/DTMF-RELAY;x=1"));
  EXPECT_FALSE(is_info_dtmf("application/sdp"));
  EXPECT_FALSE(is_info_dtmf("application/media_control+xml"));
  EXPECT_FALSE(is_info_dtmf(""));
}

}  // namespace
