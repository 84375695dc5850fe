// The library's log lines are key=value text: `event=endpoint_up call_id=... channel_id=...`.
// Values that need it are quoted (util::quote), so that one parser reads every line back:
// the JSON formatter below turns the same lines into JSON objects, one per line.
//
// Each module takes an spdlog logger in its options (null: spdlog's default logger).
// Levels: error (a bug or a broken invariant), warn (a call or a server failed), info (a
// server's state changed, a connection came or went), debug (a call's steps: setup,
// answer, end, with call_id and channel_id), trace (every SIP message and ARI event;
// Authorization headers, passwords and the drachtio secret are replaced by `<redacted>`).
#pragma once

#include <fmt/format.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spdlog {
class logger;
class formatter;
}  // namespace spdlog

namespace astmrf::util {

/// A value written into a key=value line: quoted when it is empty or holds a space, `"`,
/// `=` or a control character (`\"`, `\\`, `\n`, `\r`, `\t` escaped).
struct Quoted {
  std::string_view value;  ///< the text, written quoted only when it needs to be
};
/// Marks `value` for quoting as needed in a `{}` of a log line.
inline Quoted quote(std::string_view value) noexcept { return Quoted{value}; }
/// Appends `value`, quoted as needed.
void append_quoted(std::string& out, std::string_view value);

/// Parses a key=value line back into its fields (`msg` for words without `=`), in order.
std::vector<std::pair<std::string, std::string>> parse_fields(std::string_view line);

/// How log lines are written.
enum class LogFormat : std::uint8_t {
  text,  ///< `2026-12-06T12:00:00.000000Z level=info logger=ivr event=...`
  json   ///< `{"time":"...","level":"info","logger":"ivr","event":"...",...}`
};
/// Parses "text" or "json"; throws std::invalid_argument otherwise.
LogFormat parse_log_format(std::string_view name);
/// Sets `logger`'s format (UTC times in both).
void set_log_format(spdlog::logger& logger, LogFormat format);
/// The JSON lines formatter set by set_log_format (for sinks configured one by one).
std::unique_ptr<spdlog::formatter> make_json_formatter();

/// The logger a module uses: `configured`, or spdlog's default one.
std::shared_ptr<spdlog::logger> logger_or_default(std::shared_ptr<spdlog::logger> configured);

/// A SIP message for a trace line: Authorization and Proxy-Authorization values redacted.
std::string redact_sip(std::string_view message);

}  // namespace astmrf::util

/// @cond fmt_support
// `{}` of a Quoted writes its value quoted as needed (see append_quoted).
template <>
struct fmt::formatter<astmrf::util::Quoted> : fmt::formatter<std::string_view> {
  template <typename Context>
  auto format(const astmrf::util::Quoted& q, Context& ctx) const {
    std::string out;
    astmrf::util::append_quoted(out, q.value);
    return fmt::formatter<std::string_view>::format(out, ctx);
  }
};
/// @endcond
