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

// The SIP core's builder checks, as Response::send promises: CR, LF and NUL in any value,
// and header names that are not tokens.
TEST(DrachtioSipText, LineBreaksAndNulInValuesAreRefused) {
  auto request = sip::parse_message(kInvite).value();
  for (const std::string& value : {std::string("a\rb"), std::string("a\nb"), std::string("a\0b", 3)}) {
    EXPECT_THROW(bare_response(request, sip::ResponseSpec{200, {}, {{"X-Bad", value}}, {}, {}}),
                 sip::HeaderInjectionError)
        << "response header";
    EXPECT_THROW(bare_response(request, sip::ResponseSpec{486, "Busy" + value, {}, {}, {}}), sip::HeaderInjectionError)
        << "reason";
    sip::RequestSpec spec;
    spec.uri = "sip:test@127.0.0.1";
    spec.headers = {{"X-Bad", value}};
    EXPECT_THROW(bare_request(spec), sip::HeaderInjectionError) << "request header";
    spec.headers.clear();
    spec.from_display = value;
    spec.from = "sip:a@127.0.0.1";
    EXPECT_THROW(bare_request(spec), sip::HeaderInjectionError) << "From display name";
    EXPECT_THROW(in_dialog_request("INFO", {{"X-Bad", value}}, {}, {}), sip::HeaderInjectionError) << "in dialog";
    EXPECT_THROW(in_dialog_request("INFO", {}, "text/plain" + value, "x"), sip::HeaderInjectionError) << "Content-Type";
  }
}

TEST(DrachtioSipText, BadHeaderNamesAreRefused) {
  auto request = sip::parse_message(kInvite).value();
  for (const std::string& name :
       {std::string(), std::string("X Bad"), std::string("X:Bad"), std::string("X\r\nVia"), std::string("X\0", 2)}) {
    EXPECT_THROW(bare_response(request, sip::ResponseSpec{200, {}, {{name, "v"}}, {}, {}}), sip::HeaderInjectionError)
        << name;
    EXPECT_THROW(in_dialog_request("INFO", {{name, "v"}}, {}, {}), sip::HeaderInjectionError) << name;
  }
}

TEST(DrachtioSipText, BadMethodsStatusesAndUrisAreRefused) {
  auto request = sip::parse_message(kInvite).value();
  EXPECT_THROW(bare_response(request, sip::ResponseSpec{99, {}, {}, {}, {}}), sip::HeaderInjectionError);
  EXPECT_THROW(bare_response(request, sip::ResponseSpec{700, {}, {}, {}, {}}), sip::HeaderInjectionError);
  EXPECT_THROW(in_dialog_request("IN FO", {}, {}, {}), sip::HeaderInjectionError);
  EXPECT_THROW(in_dialog_request(std::string("INFO\0", 5), {}, {}, {}), sip::HeaderInjectionError);
  sip::RequestSpec spec;
  spec.uri = std::string("sip:a@127.0.0.1\0", 16);
  EXPECT_THROW(bare_request(spec), sip::HeaderInjectionError);
  spec.uri = "no-scheme";
  EXPECT_THROW(bare_request(spec), sip::HeaderInjectionError);
}

}  // namespace
