// What the application's SIP looks like on the drachtio wire.
#include "sip_text.hpp"

#include <astmrf/sip/errors.hpp>
#include <astmrf/sip/parser.hpp>

#include <gtest/gtest.h>

namespace {

namespace sip = astmrf::sip;
using namespace astmrf::srf::drachtio;

const char* kInvite =
    "INVITE sip:test@127.0.0.1:5080 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport=5070\r\n"
    "From: sipp <sip:sipp@127.0.0.1:5070>;tag=abc\r\n"
    "To: test <sip:test@127.0.0.1:5080>\r\n"
    "Call-ID: 1-1@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n\r\n";

TEST(DrachtioSipText, BareResponseCarriesTheRequestIdentity) {
  auto request = sip::parse_message(kInvite).value();
  auto text = bare_response(request, sip::ResponseSpec{200, {}, {{"X-App", "ref-uas"}}, "application/sdp", "v=0\r\n"});
  // drachtio-srf's layout; drachtio-server adds Content-Type for an SDP body.
  EXPECT_EQ(text,
            "SIP/2.0 200 OK\r\nCall-ID: 1-1@127.0.0.1\r\ncseq: 1 INVITE\r\n"
            "from: sipp <sip:sipp@127.0.0.1:5070>;tag=abc\r\nto: test <sip:test@127.0.0.1:5080>\r\n"
            "Content-Length: 5\r\nX-App: ref-uas\r\n\r\nv=0\r\n");
}

TEST(DrachtioSipText, OtherBodiesNameTheirType) {
  EXPECT_EQ(in_dialog_request("INFO", {}, "application/dtmf-relay", "Signal=5\r\n"),
            "INFO sip:placeholder SIP/2.0\r\nContent-Type: application/dtmf-relay\r\nContent-Length: 10\r\n\r\n"
            "Signal=5\r\n");
}

TEST(DrachtioSipText, NewRequestHasNoCallIdTagsOrCSeq) {
  sip::RequestSpec spec;
  spec.uri = "sip:test@127.0.0.1:5090";
  spec.from = "sip:abc-uuid@localhost";
  spec.call_id = "ignored";
  spec.from_tag = "ignored";
  spec.headers = {{"User-Agent", "drachtio"}};
  EXPECT_EQ(bare_request(spec),
            "INVITE sip:test@127.0.0.1:5090 SIP/2.0\r\nUser-Agent: drachtio\r\n"
            "From: <sip:abc-uuid@localhost>\r\nContent-Length: 0\r\n\r\n");
}

TEST(DrachtioSipText, InDialogRequestUsesThePlaceholder) {
  EXPECT_EQ(in_dialog_request("BYE", {}, {}, {}), "BYE sip:placeholder SIP/2.0\r\nContent-Length: 0\r\n\r\n");
}

TEST(DrachtioSipText, HeaderInjectionIsRefused) {
  auto request = sip::parse_message(kInvite).value();
  EXPECT_THROW(bare_response(request, sip::ResponseSpec{200, {}, {{"X-Bad", "a\r\nVia: evil"}}, {}, {}}),
               sip::HeaderInjectionError);
  sip::RequestSpec spec;
  spec.uri = "sip:a b";
  EXPECT_THROW(bare_request(spec), sip::HeaderInjectionError);
}

}  // namespace
