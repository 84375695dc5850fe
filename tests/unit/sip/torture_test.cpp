// RFC 4475 torture vectors: tests/unit/sip/vectors/manifest.txt lists every
// vector with its expected outcome; the specific tests below check values.
#include <astmrf/sip/parser.hpp>
#include <astmrf/sip/sdp.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

using namespace astmrf::sip;

namespace {

std::string read_vector(const std::string& name) {
  std::ifstream in(std::string(ASTMRF_SIP_VECTORS_DIR) + "/" + name + ".sip", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Entry {
  std::string name;
  bool valid;
  std::string code;
  std::string section;
};

std::vector<Entry> manifest() {
  std::vector<Entry> out;
  std::ifstream in(std::string(ASTMRF_SIP_VECTORS_DIR) + "/manifest.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    Entry e;
    std::string validity;
    ls >> e.name >> validity >> e.code >> e.section;
    e.valid = validity == "valid";
    out.push_back(e);
  }
  return out;
}

Message strict(const std::string& name) {
  ParseOptions opt;
  opt.validate_headers = true;
  auto m = parse_message(read_vector(name), opt);
  if (!m) ADD_FAILURE() << name << ": " << m.error().message();
  return m ? std::move(*m) : Message{};
}

}  // namespace

TEST(Rfc4475, EveryVectorHasTheExpectedOutcome) {
  const auto entries = manifest();
  ASSERT_GE(entries.size(), 45u);
  for (const auto& e : entries) {
    const auto data = read_vector(e.name);
    ASSERT_FALSE(data.empty()) << e.name;
    ParseOptions opt;
    opt.validate_headers = true;
    auto m = parse_message(data, opt);
    if (e.valid) {
      EXPECT_TRUE(m) << e.name << " (" << e.section << ") should parse: " << (m ? "" : m.error().message());
    } else {
      ASSERT_FALSE(m) << e.name << " (" << e.section << ") should be rejected";
      EXPECT_EQ(to_string(m.error().code), e.code) << e.name << ": " << m.error().message();
      EXPECT_FALSE(m.error().reason.empty());
    }
  }
}

TEST(Rfc4475, InvalidVectorsSayWhere) {
  ParseOptions opt;
  opt.validate_headers = true;
  auto m = parse_message(read_vector("quotbal"), opt);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().header, "To");
  EXPECT_EQ(m.error().line, 2u);
  m = parse_message(read_vector("scalar02"), opt);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().header, "CSeq");
  EXPECT_EQ(m.error().line, 5u);
  EXPECT_EQ(m.error().column, 7u);
  m = parse_message(read_vector("lwsstart"), opt);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().line, 1u);
  EXPECT_EQ(m.error().column, 8u);
  m = parse_message(read_vector("clerr"), opt);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().header, "Content-Length");
  m = parse_message(read_vector("badaspec"), opt);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().header, "To");
}

TEST(Rfc4475, ShortTortuousInvite) {
  auto m = strict("wsinv");
  EXPECT_EQ(m.method(), "INVITE");
  EXPECT_EQ(*m.uri()->param("unknownparam"), "");
  EXPECT_EQ(m.to()->tag, "1918181833n");
  EXPECT_EQ(m.to()->uri.user, "vivekg");
  EXPECT_EQ(m.from()->display_name_text(), "J Rosenberg \\\"");
  EXPECT_EQ(m.from()->tag, "98asjd8");
  EXPECT_EQ(*m.max_forwards(), 68u);
  EXPECT_EQ(m.call_id(), "wsinv.ndaksdj@192.0.2.1");
  EXPECT_EQ(m.cseq()->number, 9u);
  EXPECT_EQ(m.cseq()->method, "INVITE");
  auto vias = m.vias();
  ASSERT_TRUE(vias);
  ASSERT_EQ(vias->size(), 3u);
  EXPECT_EQ((*vias)[0].host, "192.0.2.2");
  EXPECT_TRUE((*vias)[0].has_rport);
  EXPECT_EQ((*vias)[0].branch, "390skdjuw");
  EXPECT_EQ((*vias)[1].transport, "TCP");
  EXPECT_EQ((*vias)[1].host, "spindle.example.com");
  EXPECT_EQ((*vias)[1].branch, "z9hG4bK9ikj8");
  EXPECT_EQ((*vias)[2].host, "192.168.255.111");
  EXPECT_EQ((*vias)[2].branch, "z9hG4bK30239");
  EXPECT_EQ(m.header(HeaderId::subject), "");
  EXPECT_TRUE(m.has(HeaderId::subject));
  EXPECT_EQ(m.header("NewFangledHeader").substr(0, 16), "newfangled value");
  EXPECT_EQ(m.header("UnknownHeaderWithUnusualValue"), ";;,,;;,;");
  auto contacts = m.contacts();
  ASSERT_TRUE(contacts);
  ASSERT_EQ(contacts->contacts.size(), 1u);
  EXPECT_EQ(contacts->contacts[0].display_name_text(), "Quoted string \"\"");
  EXPECT_EQ(contacts->contacts[0].param("newparam"), "newvalue");
  EXPECT_EQ(contacts->contacts[0].param("secondparam"), "");
  EXPECT_EQ(contacts->contacts[0].param("q"), "0.33");
  EXPECT_TRUE(m.routes()->front().uri.has_param("lr"));
  EXPECT_EQ(m.body().size(), 150u);
  auto sd = sdp::parse(m.body());
  ASSERT_TRUE(sd);
  EXPECT_EQ(sd->media.size(), 2u);
}

TEST(Rfc4475, WideRangeOfValidCharacters) {
  auto m = strict("intmeth");
  EXPECT_EQ(m.method(), "!interesting-Method0123456789_*+`.%indeed'~");
  EXPECT_EQ(m.method_id(), MethodId::unknown);
  auto u = m.uri();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  EXPECT_EQ(u->password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(m.top_via()->branch, "z9hG4bK-.!%66*_+`'~");
  EXPECT_EQ(m.to()->display_name_text(), std::string("BEL:\x07 NUL:", 10) + std::string(1, '\0') + " DEL:\x7f");
  EXPECT_EQ(m.from()->display_name, "token1~` token2'+_ token3*%!.-");
  EXPECT_EQ(m.from()->tag, "_token~1'+`*%!-.");
  EXPECT_EQ(m.call_id(), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
  EXPECT_EQ(*m.max_forwards(), 255u);
  EXPECT_EQ(m.headers()[6].name, "extensionHeader-!.%*+_`'~");
}

TEST(Rfc4475, Escaping) {
  auto m = strict("esc01");
  EXPECT_EQ(unescape(m.uri()->user), "sips:user@example.com");
  EXPECT_EQ(unescape(m.to()->uri.user), "user");
  EXPECT_EQ(unescape(m.from()->uri.user), "I have spaces");
  auto c = m.contacts()->contacts.at(0);
  EXPECT_EQ(unescape(c.uri.user), "caller");
  EXPECT_EQ(c.uri.param_list().size(), 2u);
  auto n = strict("escnull");
  EXPECT_EQ(unescape(n.to()->uri.user), std::string("null-\0-null", 11));
  EXPECT_EQ(n.contacts()->contacts.size(), 2u);
  auto e2 = strict("esc02");
  EXPECT_EQ(e2.method(), "RE%47IST%45R");
  EXPECT_EQ(e2.method_id(), MethodId::unknown);  // % is not an escape in a method
  EXPECT_EQ(e2.to()->display_name, "%Z%45");
  EXPECT_EQ(e2.count(HeaderId::contact), 2u);  // C%6Fntact is another header
  EXPECT_EQ(e2.header("C%6Fntact"), "<sip:alias2@host2.example.com>");
}

// 3.1.1.7: long display names, user parts, tags, parameter names and values,
// a long Call-ID and unknown header, and 34 Via values spread over header
// lines in every case and spacing of "Via" and "v".
TEST(Rfc4475, LongValues) {
  auto repeat = [](std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  auto m = strict("longreq");
  EXPECT_EQ(m.method(), "INVITE");
  EXPECT_EQ(m.call_id(), "longreq.one" + repeat("really", 20) + "longcallid");
  EXPECT_EQ(m.cseq()->number, 3882340u);
  EXPECT_EQ(*m.max_forwards(), 70u);

  auto to = m.to();
  ASSERT_TRUE(to) << to.error().message();
  EXPECT_EQ(to->display_name_text(), "I have a user name of " + repeat("extreme", 10) + " proportion");
  EXPECT_EQ(to->uri.port, 6000);
  EXPECT_EQ(to->uri.param("unknownparam1"), "very" + repeat("long", 20) + "value");
  EXPECT_EQ(to->uri.param("longparam" + repeat("name", 25)), "shortvalue");
  EXPECT_TRUE(to->uri.has_param("very" + repeat("long", 25) + "ParameterNameWithNoValue"));
  EXPECT_TRUE(to->tag.empty());

  auto from = m.from();
  ASSERT_TRUE(from) << from.error().message();
  EXPECT_EQ(from->uri.user, repeat("amazinglylongcallername", 5));
  EXPECT_EQ(from->tag, "12" + repeat("982", 50) + "424");
  EXPECT_EQ(from->param("unknownheaderparam" + repeat("name", 20)), "unknowheaderparam" + repeat("value", 15));
  auto valueless = from->param("unknownValueless" + repeat("paramname", 10));
  ASSERT_TRUE(valueless);
  EXPECT_TRUE(valueless->empty());

  const auto unknown_name = "Unknown-" + repeat("Long", 20) + "-Name";
  EXPECT_EQ(m.header(unknown_name), "unknown-" + repeat("long", 20) + "-value; unknown-" + repeat("long", 20) +
                                        "-parameter-name = unknown-" + repeat("long", 20) + "-parameter-value");

  auto vias = m.vias();
  ASSERT_TRUE(vias) << vias.error().message();
  ASSERT_EQ(vias->size(), 34u);
  for (std::size_t i = 0; i < 33; ++i) {
    EXPECT_EQ((*vias)[i].host, "sip" + std::to_string(33 - i) + ".example.com");
    EXPECT_EQ((*vias)[i].transport, "TCP");
  }
  EXPECT_EQ(vias->back().host, "host.example.com");
  EXPECT_EQ(vias->back().received, "192.0.2.5");
  EXPECT_EQ(vias->back().branch, "very" + repeat("long", 50) + "branchvalue");
  EXPECT_EQ(m.top_via()->host, "sip33.example.com");
  EXPECT_EQ(m.count(HeaderId::via), 34u);

  auto contacts = m.contacts();
  ASSERT_TRUE(contacts) << contacts.error().message();
  ASSERT_EQ(contacts->contacts.size(), 1u);
  EXPECT_EQ(contacts->contacts[0].uri.user, repeat("amazinglylongcallername", 5));
  EXPECT_EQ(contacts->contacts[0].uri.host, "host5.example.net");

  EXPECT_EQ(m.body().size(), 150u);
  EXPECT_TRUE(m.content_type()->is("application", "sdp"));
  // the long values survive a serialize / re-parse round trip unchanged
  auto again = parse_message(m.serialize());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->from()->tag, from->tag);
  EXPECT_EQ(again->vias()->size(), 34u);
}

TEST(Rfc4475, OtherValidForms) {
  EXPECT_EQ(strict("lwsdisp").from()->display_name, "caller");
  auto d = strict("dblreq");
  EXPECT_EQ(d.method(), "REGISTER");
  EXPECT_TRUE(d.body().empty());
  EXPECT_EQ(strict("semiuri").uri()->user, "user;par=u%40example.net");
  auto t = strict("transports");
  auto vias = t.vias();
  ASSERT_EQ(vias->size(), 5u);
  EXPECT_EQ((*vias)[1].transport, "SCTP");
  EXPECT_EQ((*vias)[3].transport, "UNKNOWN");
  auto mp = strict("mpart01");
  EXPECT_EQ(mp.content_type()->param("boundary"), "7a9cbec02ceef655");
  auto ur = strict("unreason");
  EXPECT_EQ(ur.status(), 200);
  EXPECT_EQ(ur.reason().substr(0, 16), "= 2**3 * 5**2 \xD0\xBD");
  auto nr = strict("noreason");
  EXPECT_EQ(nr.status(), 100);
  EXPECT_EQ(nr.reason(), "");
  EXPECT_EQ(strict("unkscm").uri()->scheme, UriScheme::other);
  EXPECT_EQ(strict("novelsc").uri()->scheme_text, "soap.beep");
  EXPECT_EQ(strict("unksm2").to()->uri.scheme_text, "isbn");
  EXPECT_EQ(strict("bext01").require()->size(), 2u);
  EXPECT_EQ(strict("regaut01").authorization()->scheme, "NoOneKnowsThisScheme");
  EXPECT_EQ(*strict("zeromf").max_forwards(), 0u);
  // structured values are views: keep the message alive while using them
  const auto m1 = strict("cparam01");
  auto cp1 = m1.contacts()->contacts.at(0);
  EXPECT_TRUE(cp1.param("unknownparam"));
  EXPECT_FALSE(cp1.uri.has_param("unknownparam"));
  const auto m2 = strict("cparam02");
  auto cp2 = m2.contacts()->contacts.at(0);
  EXPECT_TRUE(cp2.uri.has_param("unknownparam"));
  EXPECT_EQ(strict("regescrt").contacts()->contacts.at(0).uri.header_list().at(0).name, "Route");
  EXPECT_TRUE(strict("inv2543").top_via()->branch.empty());
  EXPECT_EQ(strict("bcast").vias()->at(1).host, "255.255.255.255");
}
