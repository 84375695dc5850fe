#include <astmrf/sip/header_id.hpp>
#include <astmrf/sip/header_parsers.hpp>
#include <astmrf/sip/parser.hpp>

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

using namespace astmrf::sip;

TEST(HeaderId, NamesAndCompactForms) {
  EXPECT_EQ(header_id("via"), HeaderId::via);
  EXPECT_EQ(header_id("V"), HeaderId::via);
  EXPECT_EQ(header_id("WWW-AUTHENTICATE"), HeaderId::www_authenticate);
  EXPECT_EQ(header_id("call-id"), HeaderId::call_id);
  EXPECT_EQ(header_id("X-Foo"), HeaderId::other);
  EXPECT_EQ(header_id(""), HeaderId::other);
  EXPECT_EQ(header_id("q"), HeaderId::other);
  EXPECT_EQ(header_name(HeaderId::cseq), "CSeq");
  EXPECT_EQ(compact_form(HeaderId::contact), 'm');
  for (char c : std::string_view("imftvlckseourbxya")) {
    EXPECT_NE(header_id(std::string_view(&c, 1)), HeaderId::other) << c;
  }
  for (int i = 1; i < static_cast<int>(HeaderId::count_); ++i) {
    const auto id = static_cast<HeaderId>(i);
    EXPECT_EQ(header_id(header_name(id)), id) << header_name(id);
  }
  EXPECT_TRUE(is_list_header(HeaderId::route));
  EXPECT_FALSE(is_list_header(HeaderId::www_authenticate));
}

// header_id compares eight bytes at a time with a case mask: every byte
// position must still fold case on letters only and match the rest exactly.
TEST(HeaderId, CaseFoldingIsExactPerByte) {
  for (int i = 1; i < static_cast<int>(HeaderId::count_); ++i) {
    const auto id = static_cast<HeaderId>(i);
    const std::string name(header_name(id));
    std::string upper = name, lower = name;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(header_id(upper), id) << upper;
    EXPECT_EQ(header_id(lower), id) << lower;
    for (std::size_t j = 0; j < name.size(); ++j) {
      for (char other : {'\r', '\x0d', '@', '`', '{', '[', '0', '\x80', '\xe1'}) {
        std::string bad = name;
        if (std::tolower(static_cast<unsigned char>(bad[j])) == std::tolower(static_cast<unsigned char>(other)))
          continue;
        bad[j] = other;
        EXPECT_NE(header_id(bad), id) << "byte " << j << " of " << name;
      }
    }
    EXPECT_EQ(header_id(name + "x"), HeaderId::other) << name;
    if (name.size() > 2) {  // "To" minus one letter is the compact form of To
      EXPECT_NE(header_id(name.substr(0, name.size() - 1)), id) << name;
    }
  }
  EXPECT_EQ(header_id("Call\rID"), HeaderId::other);
  EXPECT_EQ(header_id(std::string_view("Max-Forwards\0", 13)), HeaderId::other);
}

// The parser looks names up with whole-word loads from its padded buffer;
// it must agree with header_id() for every spelling, also at the very end.
TEST(HeaderId, ParserAgreesWithHeaderId) {
  std::vector<std::string> names;
  for (int i = 1; i < static_cast<int>(HeaderId::count_); ++i) {
    const std::string name(header_name(static_cast<HeaderId>(i)));
    std::string upper = name, lower = name;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    names.insert(names.end(), {name, upper, lower, name + "x", name.substr(0, name.size() - 1) + "_"});
  }
  names.insert(names.end(), {"X-Custom-Header-Name-Longer-Than-Twenty", "Q", "V", "a", "Call-Id", "CSEQ"});
  ParseOptions opt;
  opt.require_mandatory_headers = false;
  for (const auto& name : names) {
    for (const bool last : {false, true}) {
      const std::string text =
          "OPTIONS sip:a@b SIP/2.0\r\n" + (last ? std::string() : "Foo: bar\r\n") + name + ":0\r\n\r\n";
      auto m = parse_message(text, opt);
      ASSERT_TRUE(m) << name << ": " << m.error().message();
      EXPECT_EQ(m->headers().back().id, header_id(name)) << name;
      EXPECT_EQ(m->headers().back().name, name);
    }
  }
}

TEST(Via, AllParts) {
  auto v = parse_via(
      "SIP / 2.0 / UDP  [2001:db8::1]:5062 ; branch=z9hG4bK77 ;received=192.0.2.1;rport=5066;ttl=16;maddr=224.2.0.1");
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->protocol_name, "SIP");
  EXPECT_EQ(v->protocol_version, "2.0");
  EXPECT_EQ(v->transport, "UDP");
  EXPECT_EQ(v->host, "2001:db8::1");
  EXPECT_EQ(v->host_kind, HostKind::ipv6);
  EXPECT_EQ(v->port, 5062);
  EXPECT_EQ(v->branch, "z9hG4bK77");
  EXPECT_EQ(v->received, "192.0.2.1");
  EXPECT_TRUE(v->has_rport);
  EXPECT_EQ(v->rport, 5066);
  EXPECT_EQ(v->param("MADDR"), "224.2.0.1");
  EXPECT_EQ(v->sent_by(), "[2001:db8::1]:5062");
  auto bare = parse_via("SIP/2.0/TCP client.example.com;rport");
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->has_rport);
  EXPECT_FALSE(bare->rport);
  EXPECT_FALSE(bare->has_port);
}

TEST(Via, Rejects) {
  for (const char* bad :
       {"", "SIP/2.0", "SIP/2.0/UDP", "SIP/2.0/UDPhost", "SIP/2.0/UDP host:70000", "SIP/2.0/UDP host;",
        "SIP/2.0/UDP host;received=not..ip", "SIP/2.0/UDP host;rport=x", "SIP/2.0/UDP host junk", "SIP/2.0/UDP [::1"}) {
    EXPECT_FALSE(parse_via(bad)) << bad;
  }
}

TEST(Via, ListInMessage) {
  std::string text = "INVITE sip:x@h SIP/2.0\r\n";
  for (int i = 0; i < 3; ++i)
    text += "Via: SIP/2.0/UDP p" + std::to_string(i) + ".example.com;branch=z9hG4bK" + std::to_string(i) + "\r\n";
  text +=
      "Via: SIP/2.0/UDP a, SIP/2.0/TLS b:5061\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\nCSeq: 1 "
      "INVITE\r\n\r\n";
  auto m = parse_message(text);
  ASSERT_TRUE(m);
  auto vias = m->vias();
  ASSERT_TRUE(vias);
  ASSERT_EQ(vias->size(), 5u);
  EXPECT_EQ((*vias)[4].transport, "TLS");
  EXPECT_EQ(m->top_via()->branch, "z9hG4bK0");
}

TEST(NameAddr, Forms) {
  auto a = parse_name_addr("\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>  ;  tag = 98asjd8");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_TRUE(a->display_name_quoted);
  EXPECT_EQ(a->display_name_text(), "J Rosenberg \\\"");
  EXPECT_EQ(a->uri.user, "jdrosen");
  EXPECT_EQ(a->tag, "98asjd8");
  auto b = parse_name_addr("Bob Smith <sip:bob@example.com;transport=udp>;expires=60");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->display_name, "Bob Smith");
  EXPECT_EQ(b->uri.param("transport"), "udp");
  EXPECT_EQ(b->param("expires"), "60");
  // addr-spec form: the parameters belong to the header, not to the URI
  auto c = parse_name_addr("sip:carol@example.com;tag=abc");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->angle_brackets);
  EXPECT_EQ(c->tag, "abc");
  EXPECT_FALSE(c->uri.has_param("tag"));
  auto q = parse_name_addr("<sip:x@h>;q=0.7;+sip.instance=\"<urn:uuid:1234>\"");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->param("+sip.instance"), "<urn:uuid:1234>");
  auto tel = parse_name_addr("<tel:+15551234>");
  ASSERT_TRUE(tel);
  EXPECT_EQ(tel->uri.scheme, UriScheme::tel);
}

TEST(NameAddr, Rejects) {
  for (const char* bad :
       {"", "\"unterminated <sip:x@h>", "<sip:x@h", "Bob <sip:x@h> extra", "sip:x@h?subject=a", "<sip:x@h>;",
        "<sip:x@h>;tag=\"open", "<sip:x@h>, <sip:y@h>", "Bad\x01Name <sip:x@h>", "<not a uri>"}) {
    EXPECT_FALSE(parse_name_addr(bad)) << bad;
  }
}

TEST(Contact, StarAndList) {
  auto star = parse_contact_list(" * ");
  ASSERT_TRUE(star);
  EXPECT_TRUE(star->star);
  auto list = parse_contact_list("<sip:a@h>;expires=10, \"B, C\" <sip:b@h>;q=0.5, sip:c@h");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->contacts.size(), 3u);
  EXPECT_EQ(list->contacts[1].display_name, "B, C");
  EXPECT_EQ(list->contacts[2].uri.user, "c");
  auto m = parse_message(
      "REGISTER sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\nCSeq: 1 "
      "REGISTER\r\n"
      "Contact: *\r\nContact: <sip:a@h>\r\n\r\n");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->contacts());
}

TEST(CSeq, Parse) {
  auto c = parse_cseq(" 4711   INVITE ");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->number, 4711u);
  EXPECT_EQ(c->method, "INVITE");
  EXPECT_FALSE(parse_cseq("INVITE"));
  EXPECT_FALSE(parse_cseq("1"));
  EXPECT_FALSE(parse_cseq("2147483648 INVITE"));
  EXPECT_FALSE(parse_cseq("-1 INVITE"));
  EXPECT_FALSE(parse_cseq("1 INVITE BYE"));
  EXPECT_TRUE(parse_cseq("2147483647 INVITE"));
}

TEST(ContentType, Parse) {
  auto t = parse_media_type("multipart/mixed ; boundary=\"unique-boundary-1\"");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->is("Multipart", "MIXED"));
  EXPECT_EQ(t->param("boundary"), "unique-boundary-1");
  EXPECT_FALSE(parse_media_type("application"));
  EXPECT_FALSE(parse_media_type("application/"));
}

TEST(Auth, ChallengeAndCredentials) {
  auto ch = parse_auth_params(
      "Digest realm=\"atlanta.example.com\", qop=\"auth,auth-int\", nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", "
      "opaque=\"\", stale=FALSE, algorithm=MD5");
  ASSERT_TRUE(ch) << ch.error().message();
  EXPECT_EQ(ch->scheme, "Digest");
  EXPECT_EQ(ch->param("realm"), "atlanta.example.com");
  EXPECT_EQ(ch->param("qop"), "auth,auth-int");
  EXPECT_EQ(ch->param("opaque"), "");
  EXPECT_EQ(ch->param("ALGORITHM"), "MD5");
  auto cr = parse_auth_params(
      "Digest username=\"bob\",realm=\"biloxi.com\",nonce=\"dcd98b\",uri=\"sip:bob@biloxi.com\","
      "qop=auth,nc=00000001,cnonce=\"0a4f113b\",response=\"6629fae49393a05397450978507c4ef1\"");
  ASSERT_TRUE(cr);
  EXPECT_EQ(cr->params.size(), 8u);
  EXPECT_EQ(cr->param("uri"), "sip:bob@biloxi.com");
  EXPECT_EQ(cr->param("nc"), "00000001");
  EXPECT_FALSE(parse_auth_params("Digest realm"));
  EXPECT_FALSE(parse_auth_params("Digest realm=\"x"));
  EXPECT_FALSE(parse_auth_params("Digest realm=x nonce=y"));
}

TEST(Lists, TokensAndNumbers) {
  auto t = parse_token_list("100rel, timer ,replaces,,");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[1], "timer");
  EXPECT_FALSE(parse_token_list("100rel, ti mer"));
  EXPECT_EQ(*parse_uint32(" 3600 "), 3600u);
  EXPECT_FALSE(parse_uint32("4294967296"));
  EXPECT_FALSE(parse_uint32(""));
  EXPECT_EQ(unquote("a\\\"b\\\\"), "a\"b\\");
}

TEST(MessageAccessors, TypedHeaders) {
  auto m = parse_message(
      "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa;received=10.0.0.1\r\nTo: <sip:b@h>;tag=t\r\n"
      "From: <sip:a@h>;tag=f\r\nCall-ID: x\r\nCSeq: 7 REGISTER\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n"
      "Proxy-Authenticate: Digest realm=\"p\", nonce=\"m\"\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\nRoute: "
      "<sip:r1;lr>\r\n"
      "Expires: 300\r\nMax-Forwards: 69\r\nSupported: path, gruu\r\nRequire: 100rel\r\nContent-Type: "
      "application/sdp\r\n"
      "Authorization: Digest username=\"u\", response=\"r\"\r\nProxy-Authorization: Digest username=\"v\"\r\n\r\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->top_via()->received, "10.0.0.1");
  EXPECT_EQ(m->to()->tag, "t");
  EXPECT_EQ(m->from()->tag, "f");
  EXPECT_EQ(m->cseq()->method, "REGISTER");
  EXPECT_EQ(m->www_authenticate()->param("nonce"), "n");
  EXPECT_EQ(m->proxy_authenticate()->param("realm"), "p");
  EXPECT_EQ(m->authorization()->param("username"), "u");
  EXPECT_EQ(m->proxy_authorization()->param("username"), "v");
  ASSERT_EQ(m->record_routes()->size(), 2u);
  EXPECT_EQ((*m->record_routes())[1].uri.host, "p2");
  EXPECT_EQ(m->routes()->front().uri.host, "r1");
  EXPECT_EQ(*m->expires(), 300u);
  EXPECT_EQ(*m->max_forwards(), 69u);
  EXPECT_EQ(m->supported()->size(), 2u);
  EXPECT_EQ(m->require()->front(), "100rel");
  EXPECT_TRUE(m->content_type()->is("application", "sdp"));
  EXPECT_TRUE(m->validate());
  auto missing = m->contacts();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ParseErrc::missing_header);
  EXPECT_FALSE(m->uri());
}

TEST(MessageAccessors, ErrorsNameTheHeaderAndColumn) {
  auto m = parse_message(
      "BYE sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\nCSeq:   1x "
      "BYE\r\n\r\n");
  ASSERT_TRUE(m);
  auto cs = m->cseq();
  ASSERT_FALSE(cs);
  EXPECT_EQ(cs.error().header, "CSeq");
  EXPECT_EQ(cs.error().line, 6u);
  EXPECT_EQ(cs.error().column, 10u);  // the "x"
}

TEST(Replaces, CallIdTagsAndEarlyOnly) {
  auto r = parse_replaces("98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff;early-only");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->call_id, "98732@sip.example.com");
  EXPECT_EQ(r->from_tag, "r33th4x0r");
  EXPECT_EQ(r->to_tag, "ff87ff");
  EXPECT_TRUE(r->early_only);
  EXPECT_EQ(r->params.size(), 3U);

  auto plain = parse_replaces(" abc-123 ; to-tag=1 ;from-tag=2;x=y ");
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ(plain->call_id, "abc-123");
  EXPECT_EQ(plain->to_tag, "1");
  EXPECT_EQ(plain->from_tag, "2");
  EXPECT_FALSE(plain->early_only);
  ASSERT_TRUE(plain->params.size() == 3U);
  EXPECT_EQ(find_param(plain->params, "X"), std::optional<std::string_view>("y"));
}

TEST(Replaces, Rejects) {
  EXPECT_FALSE(parse_replaces(""));
  EXPECT_FALSE(parse_replaces(";to-tag=1;from-tag=2"));
  EXPECT_FALSE(parse_replaces("abc;to-tag=1"));                      // no from-tag
  EXPECT_FALSE(parse_replaces("abc;from-tag=2"));                    // no to-tag
  EXPECT_FALSE(parse_replaces("abc;to-tag=1;to-tag=3;from-tag=2"));  // two to-tags
  EXPECT_FALSE(parse_replaces("abc;to-tag=;from-tag=2"));
  EXPECT_FALSE(parse_replaces("abc@;to-tag=1;from-tag=2"));
  EXPECT_FALSE(parse_replaces("abc def;to-tag=1;from-tag=2"));
}
