// Requests, errors, ids and the operation catalog: no I/O.
#include "fake_asterisk.hpp"

#include <astmrf/ari/ari.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace ari = astmrf::ari;
using boost::beast::http::verb;

TEST(AriRequest, PathSegmentsAndQueryArePercentEncoded) {
  auto r = ari::make_request(ari::channels::PlayWithId{
      .channel_id = "1795697201.0", .playback_id = "pb 1/2", .media = {"sound:tt-monkeys", "sound:a,b"}, .lang = "en"});
  EXPECT_EQ(r.method, verb::post);
  EXPECT_EQ(r.target, "/channels/1795697201.0/play/pb%201%2F2?media=sound%3Att-monkeys,sound%3Aa%2Cb&lang=en");
  EXPECT_TRUE(r.body.empty());
}

TEST(AriRequest, OptionalParametersAreOmittedAndScalarsFormatted) {
  auto r = ari::make_request(ari::channels::Hangup{.channel_id = "c1", .reason_code = "17"});
  EXPECT_EQ(r.method, verb::delete_);
  EXPECT_EQ(r.target, "/channels/c1?reason_code=17");
  auto rec = ari::make_request(ari::channels::Record{
      .channel_id = "c1", .name = "rec-1", .format = "wav", .max_duration_seconds = 5, .beep = false});
  EXPECT_EQ(rec.target, "/channels/c1/record?name=rec-1&format=wav&maxDurationSeconds=5&beep=false");
}

TEST(AriRequest, ContainersBecomeAJsonBodyUnderTheirName) {
  auto r = ari::make_request(ari::channels::Originate{
      .endpoint = "PJSIP/x", .app = "a", .variables = boost::json::value{{"CALLERID(name)", "bob"}}});
  EXPECT_EQ(r.target, "/channels?endpoint=PJSIP%2Fx&app=a");
  EXPECT_EQ(boost::json::parse(r.body), boost::json::parse(R"x({"variables":{"CALLERID(name)":"bob"}})x"));
}

TEST(AriRequest, GenericBuilderForAnythingElse) {
  ari::RequestBuilder b(verb::get);
  b.literal("/channels/").segment("a b").query("x", std::string("ü")).query("n", std::int64_t{-3}).query("f", true);
  auto r = b.finish();
  EXPECT_EQ(r.target, "/channels/a%20b?x=%C3%BC&n=-3&f=true");
}

TEST(AriError, StatusMapsToTypedErrorWithAsterisksMessage) {
  auto check = [](unsigned status, auto tag) {
    using T = decltype(tag);
    auto e = ari::make_error(status, R"({"message":"Channel not found"})", "GET", "/channels/x");
    try {
      std::rethrow_exception(e);
    } catch (const T& err) {
      EXPECT_EQ(err.status(), status);
      EXPECT_EQ(err.message(), "Channel not found");
      EXPECT_EQ(err.method(), "GET");
      EXPECT_EQ(err.path(), "/channels/x");
      return;
    } catch (...) {
    }
    ADD_FAILURE() << "status " << status << " not mapped";
  };
  check(400, ari::BadRequest(0, "", "", ""));
  check(401, ari::AuthenticationError(0, "", "", ""));
  check(403, ari::Forbidden(0, "", "", ""));
  check(404, ari::NotFound(0, "", "", ""));
  check(409, ari::Conflict(0, "", "", ""));
  check(422, ari::UnprocessableEntity(0, "", "", ""));
  check(500, ari::ServerError(0, "", "", ""));
  check(501, ari::NotImplemented(0, "", "", ""));
  check(503, ari::ServiceUnavailable(0, "", "", ""));
}

TEST(AriError, FixtureBodiesAndNonJsonBodies) {
  try {
    std::rethrow_exception(
        ari::make_error(404, fake::fixture_http_body("http-404-get-channel.txt"), "GET", "/channels/does-not-exist"));
  } catch (const ari::NotFound& e) {
    EXPECT_EQ(e.message(), "Channel not found");
    EXPECT_NE(std::string(e.what()).find("404"), std::string::npos);
  }
  try {
    std::rethrow_exception(ari::make_error(400, "<html>\r\nbad</html>", "GET", "/events"));
  } catch (const ari::BadRequest& e) {
    EXPECT_EQ(e.message(), "<html>  bad</html>");
  }
}

TEST(AriIds, UniqueAndUsableAsPathSegments) {
  ari::IdGenerator a;
  ari::IdGenerator b;  // another "process"
  std::set<std::string> seen;
  for (int i = 0; i < 50'000; ++i) {
    ASSERT_TRUE(seen.insert(a.next("pb")).second);
    ASSERT_TRUE(seen.insert(b.next("pb")).second);
  }
  auto id = a.next("br");
  EXPECT_EQ(id.rfind("br-", 0), 0u);
  std::string encoded;
  ari::append_encoded(encoded, id);
  EXPECT_EQ(encoded, id);
}

TEST(AriCatalog, EveryOperationOfTheCommittedApiDocsIsTyped) {
  // The api-docs the typed API is generated from (src/ari/api-docs): every operation but the
  // events WebSocket is typed, and the catalog lists nothing else.
  const auto read = [](const std::string& name) {
    std::ifstream in(std::string(ASTMRF_ARI_API_DOCS_DIR) + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return boost::json::parse(text.str());
  };
  std::set<std::pair<std::string, std::string>> typed;
  std::size_t listed = 0;
  for (const auto& op : ari::operation_catalog()) {
    if (op.typed) typed.emplace(op.method, op.path);
    ++listed;
  }
  std::size_t total = 0;
  std::size_t covered = 0;
  std::size_t all = 0;
  const auto resources = read("resources.json");
  for (const auto& resource : resources.at("apis").as_array()) {
    std::string name(resource.at("path").as_string());  // "/api-docs/channels.{format}"
    name = name.substr(name.rfind('/') + 1);
    name = name.substr(0, name.find('.')) + ".json";
    const auto doc = read(name);
    for (const auto& api : doc.at("apis").as_array()) {
      for (const auto& op : api.at("operations").as_array()) {
        ++all;
        if (op.at("responseClass").as_string() == "Message") continue;  // the events WebSocket
        ++total;
        if (typed.contains({std::string(op.at("httpMethod").as_string()), std::string(api.at("path").as_string())})) {
          ++covered;
        } else {
          ADD_FAILURE() << "untyped: " << op.at("httpMethod").as_string() << " " << api.at("path").as_string();
        }
      }
    }
  }
  EXPECT_GT(total, 100u);
  EXPECT_EQ(covered, total);
  EXPECT_EQ(listed, all);
}
