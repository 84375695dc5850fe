#include <astmrf/sip/sdp.hpp>

#include <gtest/gtest.h>

using namespace astmrf::sip;

namespace {
const char* kOffer =
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.101\r\n"
    "t=0 0\r\n"
    "a=sendrecv\r\n"
    "m=audio 49172 RTP/AVP 0 8 96 97 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:96 opus/48000/2\r\n"
    "a=fmtp:96 useinbandfec=1\r\n"
    "a=rtpmap:97 iLBC/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=ptime:20\r\n"
    "m=video 51372 RTP/AVP 31\r\n"
    "c=IN IP4 192.0.2.102\r\n"
    "b=AS:512\r\n"
    "a=recvonly\r\n";
}

TEST(Sdp, ParseSessionAndMedia) {
  auto sd = sdp::parse(kOffer);
  ASSERT_TRUE(sd) << sd.error().message();
  EXPECT_EQ(sd->origin.username, "alice");
  EXPECT_EQ(sd->origin.address, "host.atlanta.example.com");
  ASSERT_TRUE(sd->connection);
  EXPECT_EQ(sd->connection->address, "192.0.2.101");
  ASSERT_EQ(sd->media.size(), 2u);
  const auto& audio = sd->media[0];
  EXPECT_EQ(audio.port, 49172);
  EXPECT_EQ(audio.formats.size(), 5u);
  auto opus = audio.rtpmap("96");
  ASSERT_TRUE(opus);
  EXPECT_EQ(opus->encoding, "opus");
  EXPECT_EQ(opus->clock_rate, 48000u);
  EXPECT_EQ(opus->channels, "2");
  EXPECT_EQ(audio.fmtp("96"), "useinbandfec=1");
  EXPECT_EQ(audio.encoding("8"), "PCMA");  // static payload type
  EXPECT_EQ(audio.direction(sd->direction()), sdp::Direction::sendrecv);
  EXPECT_EQ(sd->media[1].direction(), sdp::Direction::recvonly);
  EXPECT_EQ(sd->connection_for(1)->address, "192.0.2.102");
  EXPECT_EQ(sd->connection_for(0)->address, "192.0.2.101");
  EXPECT_EQ(audio.attribute("ptime")->value, "20");
}

TEST(Sdp, RoundTrip) {
  auto sd = sdp::parse(kOffer);
  ASSERT_TRUE(sd);
  EXPECT_EQ(sd->to_string(), kOffer);
}

TEST(Sdp, FilterAndReorderCodecs) {
  auto sd = sdp::parse(kOffer);
  ASSERT_TRUE(sd);
  auto& audio = sd->media[0];
  audio.reorder_codecs({"telephone-event", "PCMA"});
  EXPECT_EQ(audio.formats, (std::vector<std::string>{"101", "8", "0", "96", "97"}));
  EXPECT_EQ(audio.filter_codecs({"pcma", "PCMU", "telephone-event"}), 3u);
  EXPECT_EQ(audio.formats, (std::vector<std::string>{"101", "8", "0"}));
  EXPECT_FALSE(audio.rtpmap("96"));
  EXPECT_FALSE(audio.fmtp("96"));
  EXPECT_TRUE(audio.fmtp("101"));
  auto again = sdp::parse(sd->to_string());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->media[0].formats.size(), 3u);
}

TEST(Sdp, InactiveOffer) {
  auto offer = sdp::make_inactive_offer("203.0.113.5", 40000);
  auto text = offer.to_string();
  auto sd = sdp::parse(text);
  ASSERT_TRUE(sd) << sd.error().message() << text;
  EXPECT_EQ(sd->connection->address, "203.0.113.5");
  EXPECT_EQ(sd->media[0].port, 40000);
  EXPECT_EQ(sd->media[0].direction(), sdp::Direction::inactive);
  EXPECT_EQ(sd->media[0].encoding("101"), "telephone-event");
  auto v6 = sdp::make_inactive_offer("2001:db8::5");
  EXPECT_EQ(v6.connection->addr_type, "IP6");

  auto base = sdp::parse(kOffer);
  ASSERT_TRUE(base);
  auto held = sdp::make_inactive_offer(*base, "198.51.100.7");
  EXPECT_EQ(held.origin.session_version, "2890844527");
  EXPECT_EQ(held.direction(), sdp::Direction::sendrecv);  // session attr removed
  for (const auto& m : held.media) {
    EXPECT_EQ(m.direction(), sdp::Direction::inactive);
    EXPECT_FALSE(m.connection);
  }
  EXPECT_EQ(held.connection_for(1)->address, "198.51.100.7");
}

TEST(Sdp, Errors) {
  struct Bad {
    const char* text;
    unsigned line;
  };
  for (auto [text, line] :
       {Bad{"", 0}, Bad{"o=a 1 1 IN IP4 h\r\n", 1}, Bad{"v=1\r\n", 1}, Bad{"v=0\r\no=a 1 IN IP4 h\r\n", 2},
        Bad{"v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4\r\n", 4},
        Bad{"v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n", 5},
        Bad{"v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP\r\n", 5},
        Bad{"v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nbogus\r\n", 5}, Bad{"v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\n", 0}}) {
    auto sd = sdp::parse(text);
    ASSERT_FALSE(sd) << text;
    EXPECT_EQ(sd.error().code, ParseErrc::bad_sdp);
    EXPECT_EQ(sd.error().line, line) << text << sd.error().message();
  }
}
