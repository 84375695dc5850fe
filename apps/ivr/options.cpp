#include "options.hpp"

#include <astmrf/mrf/mrf.hpp>

#include <CLI/CLI.hpp>

#include <stdexcept>

namespace astmrf::ivr {

namespace {

// A whole decimal number in [1, max], or 0 when `text` is not one.
unsigned long parse_positive(const std::string& text, unsigned long max) {
  std::size_t used = 0;
  unsigned long value = 0;
  try {
    value = std::stoul(text, &used);
  } catch (const std::exception&) {
    return 0;
  }
  return used == text.size() && value <= max ? value : 0;
}

unsigned parse_weight(const std::string& text, const std::string& context) {
  const auto value = parse_positive(text, 1000);
  if (value == 0) throw std::invalid_argument("bad weight '" + text + "' in '" + context + "' (1 to 1000)");
  return static_cast<unsigned>(value);
}

// http://HOST[:PORT][/ari] -> the ARI address (8088 / 8089 by default).
MediaServerAddress parse_ari_url(const std::string& url) {
  MediaServerAddress server;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
    server.ari_tls = true;
  } else {
    throw std::invalid_argument("ARI URL '" + url + "' must start with http:// or https://");
  }
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    const auto path = rest.substr(slash);
    if (path != "/" && path != "/ari" && path != "/ari/")
      throw std::invalid_argument("ARI URL '" + url + "': unexpected path " + path);
    rest.resize(slash);
  }
  if (rest.find('@') != std::string::npos)
    throw std::invalid_argument("ARI URL '" + url + "': put credentials in --ari-user/--ari-password");
  if (rest.empty()) throw std::invalid_argument("ARI URL '" + url + "' has no host");
  try {
    server.ari = parse_host_port(rest, server.ari_tls ? 8089 : 8088);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("ARI URL '" + url + "': " + e.what());
  }
  return server;
}

}  // namespace

std::vector<MediaServerAddress> media_servers(const IvrOptions& options) {
  std::vector<MediaServerAddress> servers;
  if (options.asterisk.empty()) {
    auto server = parse_ari_url(options.ari_url);
    server.sip = parse_host_port(options.media_sip);
    servers.push_back(server);
    return servers;
  }
  for (const auto& entry : options.asterisk) {
    std::vector<std::string> fields;
    for (std::size_t from = 0;;) {
      const auto comma = entry.find(',', from);
      fields.push_back(entry.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
      if (comma == std::string::npos) break;
      from = comma + 1;
    }
    auto server = parse_ari_url(fields[0]);
    // Without a SIP address: the ARI host on the --media-sip port.
    server.sip = {server.ari.host, parse_host_port(options.media_sip).port};
    bool have_sip = false;
    bool have_weight = false;
    for (std::size_t i = 1; i < fields.size(); ++i) {
      const auto& field = fields[i];
      if (field.rfind("weight=", 0) == 0 && !have_weight) {
        server.weight = parse_weight(field.substr(7), entry);
        have_weight = true;
      } else if (!have_sip && !have_weight) {
        server.sip = parse_host_port(field);
        have_sip = true;
      } else {
        throw std::invalid_argument("--asterisk '" + entry + "': expected ARI_URL[,SIP_HOST:PORT][,weight=N]");
      }
    }
    servers.push_back(server);
  }
  return servers;
}

std::optional<IvrOptions> parse_command_line(int argc, char** argv, int& exit_code) {
  IvrOptions o;
  CLI::App app{
      "astmrf-ivr: answers each call through Asterisk, plays a prompt, collects DTMF digits, "
      "reads them back and hangs up."};
  app.option_defaults()->always_capture_default();
  app.add_option("--listen", o.listen,
                 "SIP listen address of the embedded engine, UDP and TCP: HOST:PORT or [IPV6]:PORT; repeat it to "
                 "listen on several (e.g. 127.0.0.1:5080 and [::1]:5080)");
  app.add_option("--drachtio", o.drachtio, "use a drachtio-server instead of the embedded engine: host:port:secret");
  app.add_option("--ari-url", o.ari_url, "Asterisk's ARI base URL (an IP address or a host name)");
  app.add_option("--ari-user", o.ari_user, "ARI user");
  app.add_option("--ari-password", o.ari_password, "ARI password (better: the environment variable)")
      ->envname("ASTMRF_ARI_PASSWORD")
      ->default_str("");
  app.add_option("--media-sip", o.media_sip, "Asterisk's SIP address (HOST:PORT) for the media legs");
  app.add_option("--asterisk", o.asterisk,
                 "a media server as ARI_URL[,SIP_HOST:PORT][,weight=N]; repeat it for a pool of servers "
                 "(replaces --ari-url/--media-sip; same ARI user and password)");
  app.add_option("--pool-policy", o.pool_policy, "which media server takes a new call")
      ->check(CLI::IsMember({"round_robin", "least_calls", "weighted"}));
  app.add_option("--prompt", o.prompt, "media played when the call is answered (ARI media URIs)");
  app.add_option("--max-digits", o.max_digits, "digits collected at most ('#' ends earlier)")->check(CLI::Range(1, 32));
  unsigned first_ms = static_cast<unsigned>(o.first_digit_timeout.count());
  unsigned inter_ms = static_cast<unsigned>(o.inter_digit_timeout.count());
  app.add_option("--first-digit-timeout-ms", first_ms, "wait for the first digit after the prompt");
  app.add_option("--inter-digit-timeout-ms", inter_ms, "wait for each next digit");
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_option("--log-format", o.log_format, "text (key=value lines) or json (one JSON object per line)")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--metrics", o.metrics,
                 "serve Prometheus /metrics, /healthz and /readyz on this IP:PORT (e.g. 127.0.0.1:9464; off by "
                 "default)");
  app.add_option("--max-calls", o.max_calls, "exit after this many calls (0: run until SIGINT/SIGTERM)");
  app.add_option("--stats-interval", o.stats_interval_s, "seconds between event=stats log lines (0: none)");
  app.add_option("--drain-timeout", o.drain_timeout_s,
                 "SIGTERM: seconds to let the calls in progress finish (OPTIONS answered 503 meanwhile) before "
                 "hanging up the rest and exiting; 0: stop at once");
  app.add_flag("--drain-refuses-calls", o.drain_refuses_calls,
               "while draining, answer new INVITEs 503 with Retry-After (a balancer that retries 503 elsewhere, as "
               "config/kamailio does, moves them to another instance); default: serve them");
  app.add_option("--instance-id", o.instance_id,
                 "a stable name of this instance (e.g. ivr-1): the same Stasis application after a restart, whose "
                 "left-over calls are then hung up; one per instance of a cluster (default: random, no sweep)")
      ->check(
          [](const std::string& id) {
            auto error = mrf::instance_id_error(id);
            return error.empty() ? error : "the instance id " + error;
          },
          "NAME");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e);
    return std::nullopt;
  }
  o.first_digit_timeout = std::chrono::milliseconds(first_ms);
  o.inter_digit_timeout = std::chrono::milliseconds(inter_ms);
  exit_code = 0;
  return o;
}

}  // namespace astmrf::ivr
