#include <astmrf/util/log.hpp>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <stdexcept>

#include <strings.h>

namespace astmrf::util {

namespace {

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == 0x7f) return true;
  }
  return false;
}

// The length of the valid UTF-8 sequence at the start of `v`, 0 if it is not one.
std::size_t utf8_sequence(std::string_view v) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(v[i]); };
  const auto cont = [&](std::size_t i) { return i < v.size() && (b(i) & 0xc0) == 0x80; };
  const unsigned char c = b(0);
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;   // overlong
    if (c == 0xed && b(1) >= 0xa0) return 0;  // a surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xf4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// The escapes key=value quoting and JSON strings share; false for a character that has none.
bool append_escaped(std::string& out, char c) {
  switch (c) {
    case '"': out += "\\\""; return true;
    case '\\': out += "\\\\"; return true;
    case '\n': out += "\\n"; return true;
    case '\r': out += "\\r"; return true;
    case '\t': out += "\\t"; return true;
    default: return false;
  }
}

// A JSON string; bytes that are not UTF-8 (a binary SIP body at trace level, say) become
// U+FFFD, so that every line stays valid JSON.
void append_json_string(std::string& out, std::string_view v) {
  out += '"';
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c >= 0x80) {
      if (auto n = utf8_sequence(v.substr(i)); n > 0) {
        out.append(v.substr(i, n));
        i += n - 1;
      } else {
        out += "\ufffd";
      }
      continue;
    }
    if (append_escaped(out, static_cast<char>(c))) continue;
    if (c < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void append_utc_time(std::string& out, spdlog::log_clock::time_point t) {
  const auto since = t.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since - secs).count();
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string out;
    out.reserve(msg.payload.size() + 96);
    out += "{\"time\":\"";
    append_utc_time(out, msg.time);
    out += "\",\"level\":";
    const auto& level = spdlog::level::to_string_view(msg.level);
    append_json_string(out, std::string_view(level.data(), level.size()));
    out += ",\"logger\":";
    append_json_string(out, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    for (const auto& [key, value] : parse_fields(std::string_view(msg.payload.data(), msg.payload.size()))) {
      out += ',';
      // A field named like a fixed key would make a second one, which JSON readers resolve
      // each their own way: it is renamed.
      if (key == "time" || key == "level" || key == "logger") {
        append_json_string(out, "field_" + key);
      } else {
        append_json_string(out, key);
      }
      out += ':';
      append_json_string(out, value);
    }
    out += "}\n";
    dest.append(out.data(), out.data() + out.size());
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

void append_quoted(std::string& out, std::string_view value) {
  if (!needs_quotes(value)) {
    out += value;
    return;
  }
  out += '"';
  for (char c : value) {
    if (!append_escaped(out, c)) out += c;
  }
  out += '"';
}

std::vector<std::pair<std::string, std::string>> parse_fields(std::string_view line) {
  std::vector<std::pair<std::string, std::string>> fields;
  std::string words;  // tokens without '=': the line's free text
  std::size_t i = 0;
  const auto n = line.size();
  while (i < n) {
    while (i < n && line[i] == ' ') ++i;
    if (i >= n) break;
    std::size_t start = i;
    while (i < n && line[i] != ' ' && line[i] != '=' && line[i] != '"') ++i;
    if (i < n && line[i] == '=' && i > start) {
      std::string key(line.substr(start, i - start));
      ++i;
      std::string value;
      if (i < n && line[i] == '"') {
        ++i;
        while (i < n && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < n) {
            ++i;
            switch (line[i]) {
              case 'n': value += '\n'; break;
              case 'r': value += '\r'; break;
              case 't': value += '\t'; break;
              default: value += line[i];
            }
          } else {
            value += line[i];
          }
          ++i;
        }
        if (i < n) ++i;  // the closing quote
      } else {
        std::size_t v = i;
        while (i < n && line[i] != ' ') ++i;
        value.assign(line.substr(v, i - v));
      }
      fields.emplace_back(std::move(key), std::move(value));
    } else {
      // A word that is not key=value (e.g. "ari: connected"): kept whole, in order, as msg.
      i = start;
      while (i < n && line[i] != ' ') ++i;
      if (!words.empty()) words += ' ';
      words.append(line.substr(start, i - start));
    }
  }
  if (!words.empty()) fields.emplace(fields.begin(), "msg", std::move(words));
  return fields;
}

LogFormat parse_log_format(std::string_view name) {
  if (name == "text") return LogFormat::text;
  if (name == "json") return LogFormat::json;
  throw std::invalid_argument("log format must be text or json, not '" + std::string(name) + "'");
}

void set_log_format(spdlog::logger& logger, LogFormat format) {
  if (format == LogFormat::json) {
    logger.set_formatter(make_json_formatter());
  } else {
    logger.set_pattern("%Y-%m-%dT%H:%M:%S.%fZ level=%l logger=%n %v", spdlog::pattern_time_type::utc);
  }
}

std::unique_ptr<spdlog::formatter> make_json_formatter() { return std::make_unique<JsonFormatter>(); }

std::shared_ptr<spdlog::logger> logger_or_default(std::shared_ptr<spdlog::logger> configured) {
  return configured ? std::move(configured) : spdlog::default_logger();
}

std::string redact_sip(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  bool in_headers = true;
  bool redacting = false;  // inside a redacted header's folded lines
  std::size_t pos = 0;
  std::size_t line_no = 0;
  while (pos < message.size()) {
    auto end = message.find('\n', pos);
    auto stop = end == std::string_view::npos ? message.size() : end + 1;
    auto line = message.substr(pos, stop - pos);
    pos = stop;
    auto text = line;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    if (!in_headers) {
      out += line;
      continue;
    }
    if (line_no++ > 0 && text.empty()) {
      in_headers = false;
      out += line;
      continue;
    }
    if (redacting && !text.empty() && (text.front() == ' ' || text.front() == '\t')) continue;  // a fold
    redacting = false;
    auto colon = text.find(':');
    if (colon != std::string_view::npos) {
      auto name = text.substr(0, colon);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      auto is = [&](std::string_view h) {
        return name.size() == h.size() && strncasecmp(name.data(), h.data(), h.size()) == 0;
      };
      if (is("Authorization") || is("Proxy-Authorization")) {
        out.append(text.substr(0, colon + 1));
        out += " <redacted>";
        out.append(line.substr(text.size()));
        redacting = true;
        continue;
      }
    }
    out += line;
  }
  return out;
}

}  // namespace astmrf::util
