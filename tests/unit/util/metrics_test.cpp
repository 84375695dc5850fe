// util::metrics: the exposition text is parsed back by a small parser written from the
// Prometheus text format 0.0.4 (not compared as a string), and checked for what a scraper
// relies on; then the registry's own errors and the lifetime of children.
#include <astmrf/util/metrics.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace metrics = astmrf::util::metrics;

// --- A parser of the text format 0.0.4 -------------------------------------------------

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
  std::string family;  // the family declared by the # HELP / # TYPE before it
};

struct Declared {
  std::string help;
  std::string type;
};

struct Exposition {
  std::map<std::string, Declared> families;
  std::vector<std::string> order;  // families in the order they were declared
  std::vector<Sample> samples;
};

[[noreturn]] void bad(const std::string& line, const std::string& why) {
  throw std::runtime_error("exposition: " + why + " in line '" + line + "'");
}

bool name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

std::string read_name(const std::string& line, std::size_t& i) {
  std::size_t start = i;
  while (i < line.size() && name_char(line[i], i == start)) ++i;
  if (i == start) bad(line, "a name expected");
  return line.substr(start, i - start);
}

double read_number(const std::string& line, const std::string& text) {
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  if (text == "NaN") return NAN;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') bad(line, "not a number: '" + text + "'");
  return v;
}

// HELP text: `\\` and `\n` are the only escapes.
std::string unescape_help(const std::string& line, const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) bad(line, "a lone backslash in HELP");
    if (text[i] == '\\') {
      out += '\\';
    } else if (text[i] == 'n') {
      out += '\n';
    } else {
      bad(line, "an unknown escape in HELP");
    }
  }
  return out;
}

// The family a sample name belongs to, given the family declared last.
std::string family_of(const std::string& name, const Exposition& e, const std::string& current) {
  if (name == current) return current;
  auto it = e.families.find(current);
  if (it != e.families.end() && it->second.type == "histogram") {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (name == current + suffix) return current;
    }
  }
  return {};
}

Exposition parse(const std::string& text) {
  Exposition e;
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("exposition: no final newline");
  std::istringstream in(text);
  std::string line;
  std::string current;  // the family whose samples may follow
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      std::size_t i = 7;
      auto name = read_name(line, i);
      if (i >= line.size() || line[i] != ' ') bad(line, "a space after the name expected");
      auto rest = line.substr(i + 1);
      if (line[2] == 'H') {
        if (e.families.contains(name)) bad(line, "a second HELP for " + name);
        e.families[name].help = unescape_help(line, rest);
        e.order.push_back(name);
        current = name;
      } else {
        if (current != name) bad(line, "TYPE without the HELP of its family just before");
        static const std::set<std::string> types = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (!types.contains(rest)) bad(line, "unknown type");
        if (!e.families[name].type.empty()) bad(line, "a second TYPE");
        e.families[name].type = rest;
      }
      continue;
    }
    if (line.front() == '#') continue;  // a comment
    Sample s;
    std::size_t i = 0;
    s.name = read_name(line, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        auto label = read_name(line, i);
        if (line.compare(i, 2, "=\"") != 0) bad(line, "=\" expected after a label name");
        i += 2;
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            if (++i == line.size()) bad(line, "a lone backslash");
            if (line[i] == 'n') {
              value += '\n';
            } else if (line[i] == '\\' || line[i] == '"') {
              value += line[i];
            } else {
              bad(line, "an unknown escape in a label value");
            }
          } else {
            value += line[i];
          }
          ++i;
        }
        if (i == line.size()) bad(line, "an unterminated label value");
        ++i;
        if (!s.labels.emplace(label, value).second) bad(line, "label " + label + " twice");
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i == line.size()) bad(line, "} expected");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') bad(line, "a space before the value expected");
    auto rest = line.substr(i + 1);
    auto space = rest.find(' ');  // an optional timestamp follows
    s.value = read_number(line, rest.substr(0, space));
    s.family = family_of(s.name, e, current);
    if (s.family.empty()) bad(line, "a sample outside the family declared before it");
    if (e.families[s.family].type.empty()) bad(line, "a sample of a family without TYPE");
    e.samples.push_back(std::move(s));
  }
  return e;
}

std::vector<Sample> samples_named(const Exposition& e, const std::string& name) {
  std::vector<Sample> out;
  for (const auto& s : e.samples) {
    if (s.name == name) out.push_back(s);
  }
  return out;
}

// Checks every histogram of the exposition: per series (labels without le), buckets in
// increasing le, cumulative counts non-decreasing, +Inf last and equal to _count, one _sum.
void check_histograms(const Exposition& e) {
  for (const auto& [family, declared] : e.families) {
    if (declared.type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    std::map<std::map<std::string, std::string>, double> counts;
    std::map<std::map<std::string, std::string>, int> sums;
    for (const auto& s : e.samples) {
      if (s.family != family) continue;
      auto labels = s.labels;
      if (s.name == family + "_bucket") {
        ASSERT_TRUE(labels.contains("le")) << s.name;
        double le = read_number(s.name, labels["le"]);
        labels.erase("le");
        buckets[labels].emplace_back(le, s.value);
      } else if (s.name == family + "_count") {
        ASSERT_FALSE(counts.contains(labels));
        counts[labels] = s.value;
      } else if (s.name == family + "_sum") {
        ++sums[labels];
      } else {
        ADD_FAILURE() << "a histogram sample " << s.name;
      }
    }
    for (const auto& [labels, series] : buckets) {
      ASSERT_FALSE(series.empty());
      for (std::size_t i = 1; i < series.size(); ++i) {
        EXPECT_LT(series[i - 1].first, series[i].first) << family << ": le not increasing";
        EXPECT_LE(series[i - 1].second, series[i].second) << family << ": buckets not cumulative";
      }
      EXPECT_TRUE(std::isinf(series.back().first)) << family << ": the last bucket is not +Inf";
      ASSERT_TRUE(counts.contains(labels)) << family << ": no _count";
      EXPECT_EQ(series.back().second, counts.at(labels)) << family << ": +Inf differs from _count";
      EXPECT_EQ(sums[labels], 1) << family << ": _sum";
    }
    EXPECT_EQ(buckets.size(), counts.size()) << family;
  }
}

// --- The exposition of a registry with each type -----------------------------------------

TEST(UtilMetricsExposition, ParsesBackWithEveryFamilyAndValue) {
  auto registry = std::make_shared<metrics::Registry>();
  const std::string tricky = "back\\slash \"quoted\"\nnew line";
  auto& requests = registry->counter("astmrf_test_requests_total", "Requests by method.\nSecond line with a \\.",
                                     {"method", "note"});
  auto invite = requests.with({"INVITE", "plain"});
  auto odd = requests.with({"BYE", tricky});
  invite->inc(3);
  odd->inc();
  auto& alive = registry->gauge("astmrf_test_dialogs", "Dialogs alive.");
  auto dialogs = alive.with({});
  dialogs->set(-2.5);
  auto& latency = registry->histogram("astmrf_test_setup_seconds", "Setup latency.", {0.01, 0.1, 1}, {"server"});
  auto a = latency.with({"a"});
  auto b = latency.with({"b\"b"});
  for (double v : {0.005, 0.01, 0.05, 0.5, 2.0, 30.0}) a->observe(v);
  b->observe(0.2);

  const auto text = registry->expose();
  Exposition e;
  ASSERT_NO_THROW(e = parse(text)) << text;

  ASSERT_EQ(e.families.size(), 3u) << text;
  EXPECT_EQ(e.families["astmrf_test_requests_total"].type, "counter");
  EXPECT_EQ(e.families["astmrf_test_requests_total"].help, "Requests by method.\nSecond line with a \\.");
  EXPECT_EQ(e.families["astmrf_test_dialogs"].type, "gauge");
  EXPECT_EQ(e.families["astmrf_test_setup_seconds"].type, "histogram");
  // Sorted by name, as the registry promises.
  EXPECT_EQ(e.order, (std::vector<std::string>{"astmrf_test_dialogs", "astmrf_test_requests_total",
                                               "astmrf_test_setup_seconds"}));
  for (const auto& [name, declared] : e.families) {
    if (declared.type == "counter") {
      EXPECT_TRUE(name.ends_with("_total")) << name;
    }
  }

  auto counters = samples_named(e, "astmrf_test_requests_total");
  ASSERT_EQ(counters.size(), 2u);
  std::map<std::string, double> by_note;
  for (const auto& s : counters) by_note[s.labels.at("note")] = s.value;
  EXPECT_EQ(by_note.at("plain"), 3);
  EXPECT_EQ(by_note.at(tricky), 1) << "the label value did not round-trip";

  auto gauges = samples_named(e, "astmrf_test_dialogs");
  ASSERT_EQ(gauges.size(), 1u);
  EXPECT_TRUE(gauges[0].labels.empty());
  EXPECT_EQ(gauges[0].value, -2.5);

  check_histograms(e);
  double sum_a = NAN;
  double count_a = NAN;
  std::map<double, double> buckets_a;
  for (const auto& s : e.samples) {
    if (s.family != "astmrf_test_setup_seconds" || s.labels.at("server") != "a") continue;
    if (s.name.ends_with("_sum")) sum_a = s.value;
    if (s.name.ends_with("_count")) count_a = s.value;
    if (s.name.ends_with("_bucket")) buckets_a[read_number(s.name, s.labels.at("le"))] = s.value;
  }
  EXPECT_DOUBLE_EQ(sum_a, 0.005 + 0.01 + 0.05 + 0.5 + 2.0 + 30.0);
  EXPECT_EQ(count_a, 6);
  EXPECT_EQ(buckets_a, (std::map<double, double>{{0.01, 2}, {0.1, 3}, {1, 4}, {INFINITY, 6}}));  // le is inclusive
  EXPECT_EQ(samples_named(e, "astmrf_test_setup_seconds_count").size(), 2u);
  bool quoted_server = false;
  for (const auto& s : samples_named(e, "astmrf_test_setup_seconds_count"))
    quoted_server |= s.labels.at("server") == "b\"b";
  EXPECT_TRUE(quoted_server);
}

TEST(UtilMetricsExposition, TheParserRefusesWhatAScraperWould) {
  // The checks above are only worth something if the parser does refuse bad text.
  EXPECT_THROW(parse("x 1\n"), std::runtime_error);                                // no HELP/TYPE
  EXPECT_THROW(parse("# HELP x h\n# TYPE x counter\ny 1\n"), std::runtime_error);  // another family
  EXPECT_THROW(parse("# HELP x h\n# TYPE x gauge\nx{a=\"b} 1\n"), std::runtime_error);
  EXPECT_THROW(parse("# HELP x h\n# TYPE x gauge\nx{a=\"\\t\"} 1\n"), std::runtime_error);
  EXPECT_THROW(parse("# HELP x h\n# TYPE x gauge\nx one\n"), std::runtime_error);
  EXPECT_THROW(parse("# HELP x h\n# TYPE x gauge\nx 1"), std::runtime_error);  // no final newline
  EXPECT_NO_THROW(parse("# HELP x h\n# TYPE x gauge\nx{a=\"\\\\\\\"\\n\"} +Inf 1700000000000\n"));
}

TEST(UtilMetricsExposition, AnEmptyRegistryExposesNothing) {
  metrics::Registry registry;
  EXPECT_EQ(registry.expose(), "");
  registry.counter("astmrf_test_unused_total", "No child yet.");
  auto e = parse(registry.expose());
  EXPECT_EQ(e.families.size(), 1u);
  EXPECT_TRUE(e.samples.empty());
}

TEST(UtilMetricsRegistry, RefusesInvalidNamesAndClashes) {
  metrics::Registry r;
  for (const char* name : {"", "1abc", "a-b", "a b", "é"}) {
    EXPECT_THROW(r.counter(name, "h"), std::invalid_argument) << name;
  }
  EXPECT_NO_THROW(r.counter("ns:sub_total", "colons are allowed in metric names"));
  EXPECT_THROW(r.gauge("astmrf_g", "h", {"a:b"}), std::invalid_argument);  // not in label names
  EXPECT_THROW(r.gauge("astmrf_g", "h", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("astmrf_g", "h", {"x", "x"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("astmrf_h_seconds", "h", {1, 2}, {"le"}), std::invalid_argument);
  EXPECT_NO_THROW(r.gauge("astmrf_le", "le is only reserved in histograms", {"le"}));

  auto& family = r.counter("astmrf_c_total", "h", {"method"});
  EXPECT_EQ(&r.counter("astmrf_c_total", "h", {"method"}), &family);  // the same family again
  EXPECT_THROW(r.counter("astmrf_c_total", "h", {"status"}), std::invalid_argument);
  EXPECT_THROW(r.counter("astmrf_c_total", "h"), std::invalid_argument);
  EXPECT_THROW(r.gauge("astmrf_c_total", "h", {"method"}), std::invalid_argument);
  EXPECT_THROW(family.with({}), std::invalid_argument);
  EXPECT_THROW(family.with({"a", "b"}), std::invalid_argument);
  EXPECT_EQ(family.with({"INVITE"}), family.with({"INVITE"}));

  auto& histogram = r.histogram("astmrf_d_seconds", "h", {0.1, 1});
  EXPECT_EQ(&r.histogram("astmrf_d_seconds", "h", {0.1, 1}), &histogram);
  EXPECT_THROW(r.histogram("astmrf_d_seconds", "h", {0.1, 2}), std::invalid_argument);  // other buckets
}

TEST(UtilMetricsRegistry, AChildDroppedByItsHolderLeavesTheExposition) {
  metrics::Registry r;
  auto& servers = r.gauge("astmrf_test_server_up", "Per server.", {"server"});
  auto kept = servers.with({"kept"});
  auto dropped = servers.with({"dropped"});
  kept->set(1);
  dropped->set(1);
  EXPECT_EQ(samples_named(parse(r.expose()), "astmrf_test_server_up").size(), 2u);
  dropped.reset();
  auto left = samples_named(parse(r.expose()), "astmrf_test_server_up");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].labels.at("server"), "kept");
  // Asked again, the child starts from zero: the old series is gone.
  auto again = servers.with({"dropped"});
  EXPECT_EQ(again->value(), 0);
}

TEST(UtilMetricsRegistry, ValuesAreFormattedAsPrometheusReadsThem) {
  EXPECT_EQ(metrics::format_value(0), "0");
  EXPECT_EQ(metrics::format_value(20), "20");
  EXPECT_EQ(metrics::format_value(-3), "-3");
  EXPECT_EQ(metrics::format_value(0.25), "0.25");
  EXPECT_EQ(metrics::format_value(INFINITY), "+Inf");
  EXPECT_EQ(metrics::format_value(-INFINITY), "-Inf");
  EXPECT_EQ(metrics::format_value(NAN), "NaN");
  EXPECT_EQ(std::strtod(metrics::format_value(0.1 + 0.2).c_str(), nullptr), 0.1 + 0.2);
  EXPECT_EQ(metrics::escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

}  // namespace
