// util's log format: key=value lines read back by parse_fields, the JSON lines formatter
// (each line parsed by Boost.JSON), and the redaction of SIP messages for trace lines.
#include <astmrf/util/log.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace util = astmrf::util;
namespace json = boost::json;
using Fields = std::vector<std::pair<std::string, std::string>>;

const std::vector<std::string> kAwkwardValues = {
    "plain",   "",          "two words",    "a=b",    "say \"hi\"", "back\\slash",
    "C:\\dir", "new\nline", "tab\there",    "cr\rlf", "\"",         "\\",
    "=",       " ",         "ends with \\", "\\\"",   "ünïcödé",    "sip:alice@example.com;tag=1"};

TEST(UtilLogFields, QuoteRoundTripsThroughParseFields) {
  for (const auto& value : kAwkwardValues) {
    auto line = fmt::format("event=test_event value={} after={}", util::quote(value), util::quote("x y"));
    auto fields = util::parse_fields(line);
    ASSERT_EQ(fields.size(), 3u) << line;
    EXPECT_EQ(fields[0], (std::pair<std::string, std::string>{"event", "test_event"}));
    EXPECT_EQ(fields[1].first, "value");
    EXPECT_EQ(fields[1].second, value) << line;
    EXPECT_EQ(fields[2].second, "x y") << line;
  }
}

TEST(UtilLogFields, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(fmt::format("{}", util::quote("abc-123")), "abc-123");
  EXPECT_EQ(fmt::format("{}", util::quote("")), "\"\"");
  EXPECT_EQ(fmt::format("{}", util::quote("a b")), "\"a b\"");
  EXPECT_EQ(fmt::format("{}", util::quote("a\"b")), "\"a\\\"b\"");
  EXPECT_EQ(fmt::format("{}", util::quote("a\nb")), "\"a\\nb\"");
}

TEST(UtilLogFields, WordsWithoutEqualsBecomeMsg) {
  auto fields = util::parse_fields("ari: connected event=ws_up server=a");
  EXPECT_EQ(fields, (Fields{{"msg", "ari: connected"}, {"event", "ws_up"}, {"server", "a"}}));
  EXPECT_TRUE(util::parse_fields("").empty());
  EXPECT_EQ(util::parse_fields("  k=v  "), (Fields{{"k", "v"}}));
}

TEST(UtilLogFormat, ParsesItsNames) {
  EXPECT_EQ(util::parse_log_format("text"), util::LogFormat::text);
  EXPECT_EQ(util::parse_log_format("json"), util::LogFormat::json);
  EXPECT_THROW(util::parse_log_format("xml"), std::invalid_argument);
}

TEST(UtilLogFormat, JsonLinesParseAndCarryEveryField) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("ivr", sink);
  logger.set_level(spdlog::level::trace);
  util::set_log_format(logger, util::LogFormat::json);
  for (const auto& value : kAwkwardValues) {
    logger.debug("event=call_step call_id={} value={}", util::quote("abc@host"), util::quote(value));
  }
  logger.warn("media server lost event=server_down server=a");
  logger.info("event=x key={}", util::quote(std::string("nul\0byte", 8)));

  std::istringstream lines(out.str());
  std::string line;
  std::size_t n = 0;
  while (std::getline(lines, line)) {
    SCOPED_TRACE(line);
    boost::system::error_code ec;
    auto value = json::parse(line, ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(value.is_object());
    const auto& o = value.as_object();
    ASSERT_TRUE(o.contains("time") && o.at("time").is_string());
    std::string time(o.at("time").as_string());
    EXPECT_EQ(time.size(), 27u);  // 2026-12-06T12:00:00.000000Z
    EXPECT_EQ(time.back(), 'Z');
    EXPECT_EQ(std::string(o.at("logger").as_string()), "ivr");
    ASSERT_TRUE(o.contains("event"));
    if (n < kAwkwardValues.size()) {
      EXPECT_EQ(std::string(o.at("level").as_string()), "debug");
      EXPECT_EQ(std::string(o.at("event").as_string()), "call_step");
      EXPECT_EQ(std::string(o.at("call_id").as_string()), "abc@host");
      EXPECT_EQ(std::string(o.at("value").as_string()), kAwkwardValues[n]) << "quoted values are unescaped";
    } else if (n == kAwkwardValues.size()) {
      EXPECT_EQ(std::string(o.at("level").as_string()), "warning");
      EXPECT_EQ(std::string(o.at("msg").as_string()), "media server lost");
      EXPECT_EQ(std::string(o.at("server").as_string()), "a");
    } else {
      EXPECT_EQ(std::string(o.at("key").as_string()), std::string("nul\0byte", 8));
    }
    ++n;
  }
  EXPECT_EQ(n, kAwkwardValues.size() + 2);
}

TEST(UtilLogFormat, JsonKeepsTheFixedKeysOnce) {
  // A field named like one of the fixed keys must not make a second "level" (JSON parsers
  // keep either): it is renamed.
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("ivr", sink);
  util::set_log_format(logger, util::LogFormat::json);
  logger.info("event=x level=high time=now logger=me");
  auto text = out.str();
  json::parse_options strict;
  auto value = json::parse(text, {}, strict).as_object();
  EXPECT_EQ(std::string(value.at("level").as_string()), "info");
  EXPECT_EQ(std::string(value.at("logger").as_string()), "ivr");
  for (const char* key : {"level", "time", "logger"}) {
    EXPECT_EQ(text.find(std::string("\"") + key + "\""), text.rfind(std::string("\"") + key + "\"")) << text;
  }
  EXPECT_EQ(std::string(value.at("field_level").as_string()), "high");
  EXPECT_EQ(std::string(value.at("field_time").as_string()), "now");
}

TEST(UtilLogFormat, JsonLinesStayValidWithBytesThatAreNotUtf8) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("sip", sink);
  util::set_log_format(logger, util::LogFormat::json);
  logger.info("event=x a={} b={} c={}", util::quote("bin\xff\xfe"), util::quote("cut\xc3"), util::quote("ok\xc3\xa9"));
  boost::system::error_code ec;
  auto value = json::parse(out.str(), ec);
  ASSERT_FALSE(ec) << out.str();
  EXPECT_EQ(std::string(value.at("a").as_string()), "bin\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(std::string(value.at("b").as_string()), "cut\xef\xbf\xbd");
  EXPECT_EQ(std::string(value.at("c").as_string()), "ok\xc3\xa9");
}

TEST(UtilLogFormat, TextIsKeyValueWithUtcTime) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("srf", sink);
  util::set_log_format(logger, util::LogFormat::text);
  logger.info("event=call_answered call_id={}", util::quote("a b"));
  auto line = out.str();
  ASSERT_FALSE(line.empty());
  line.pop_back();  // the newline
  auto fields = util::parse_fields(line);
  ASSERT_GE(fields.size(), 5u) << line;
  EXPECT_EQ(fields[0].first, "msg");  // the time
  EXPECT_TRUE(fields[0].second.ends_with("Z")) << line;
  EXPECT_EQ(fields[1], (std::pair<std::string, std::string>{"level", "info"}));
  EXPECT_EQ(fields[2], (std::pair<std::string, std::string>{"logger", "srf"}));
  EXPECT_EQ(fields[3], (std::pair<std::string, std::string>{"event", "call_answered"}));
  EXPECT_EQ(fields[4], (std::pair<std::string, std::string>{"call_id", "a b"}));
}

TEST(UtilRedactSip, BlanksAuthorizationValuesOnly) {
  const std::string message =
      "INVITE sip:bob@example.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
      "Authorization: Digest username=\"alice\", realm=\"x\",\r\n"
      "  nonce=\"n1\", response=\"SECRET1\"\r\n"
      "\tcnonce=\"SECRET2\"\r\n"
      "proxy-authorization : Digest response=\"SECRET3\"\r\n"
      "Subject: Authorization: not a header\r\n"
      "Content-Length: 44\r\n"
      "\r\n"
      "Authorization: Digest response=\"body-kept\"\r\n";
  auto out = util::redact_sip(message);
  for (const char* secret : {"SECRET1", "SECRET2", "SECRET3", "alice", "n1"}) {
    EXPECT_EQ(out.find(secret), std::string::npos) << secret << " in\n" << out;
  }
  EXPECT_EQ(out,
            "INVITE sip:bob@example.com SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
            "Authorization: <redacted>\r\n"
            "proxy-authorization : <redacted>\r\n"
            "Subject: Authorization: not a header\r\n"
            "Content-Length: 44\r\n"
            "\r\n"
            "Authorization: Digest response=\"body-kept\"\r\n");
}

TEST(UtilRedactSip, BareLineFeedsAndNoBody) {
  EXPECT_EQ(util::redact_sip("REGISTER sip:x SIP/2.0\nProxy-Authorization: Digest a=b\nTo: <sip:x>\n"),
            "REGISTER sip:x SIP/2.0\nProxy-Authorization: <redacted>\nTo: <sip:x>\n");
  EXPECT_EQ(util::redact_sip("SIP/2.0 200 OK\r\nAuthorization: x"), "SIP/2.0 200 OK\r\nAuthorization: <redacted>");
  EXPECT_EQ(util::redact_sip(""), "");
}

}  // namespace
