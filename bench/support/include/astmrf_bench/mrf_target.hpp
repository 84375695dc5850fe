// What the Mrf load targets (astmrf-mrf-loadtarget, astmrf-ivr-flow) share: where Asterisk
// is and where to listen, as command-line options; the embedded engine's UDP listen point;
// and running one target on one thread.
#pragma once

#include <astmrf/mrf/mrf.hpp>
#include <astmrf/sip/engine/engine.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

namespace astmrf_bench {

/// Where the target listens and where its Asterisk is (ARI and SIP on one address).
struct AsteriskTarget {
  std::string listen{"127.0.0.1:5070"};
  std::string ari_address{"127.0.0.1"};
  std::uint16_t ari_port{8088};
  std::string ari_user{"astmrf"};
  std::string ari_password;  ///< or the environment's ASTMRF_ARI_PASSWORD (kept off the command line)
  std::uint16_t asterisk_sip_port{5060};
};

/// The options of AsteriskTarget on `cli`.
inline void add_target_options(CLI::App& cli, AsteriskTarget& o) {
  cli.add_option("--listen", o.listen, "SIP UDP listen point ADDRESS:PORT")->capture_default_str();
  cli.add_option("--ari-address", o.ari_address, "Asterisk's address (ARI and SIP)")->capture_default_str();
  cli.add_option("--ari-port", o.ari_port, "Asterisk's ARI (HTTP) port")->capture_default_str();
  cli.add_option("--ari-user", o.ari_user, "ARI user")->capture_default_str();
  cli.add_option("--ari-password", o.ari_password, "ARI password (or env ASTMRF_ARI_PASSWORD)");
  cli.add_option("--asterisk-sip-port", o.asterisk_sip_port, "Asterisk's SIP (UDP) port")->capture_default_str();
}

/// Mrf connect options for the target's Asterisk (UDP).
inline astmrf::mrf::ConnectOptions connect_options(const AsteriskTarget& o) {
  astmrf::mrf::ConnectOptions connect;
  connect.ari = {.address = o.ari_address, .port = o.ari_port, .username = o.ari_user, .password = o.ari_password};
  connect.sip = {.address = o.ari_address, .port = o.asterisk_sip_port, .transport = astmrf::sip::Transport::udp};
  return connect;
}

/// An engine configuration listening on UDP `listen` (ADDRESS:PORT).
inline astmrf::sip::EngineConfig udp_engine_config(const std::string& listen, std::string user_agent) {
  astmrf::sip::EngineConfig config;
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw CLI::ValidationError("--listen", "expected ADDRESS:PORT");
  config.listen = {{astmrf::sip::Transport::udp, listen.substr(0, colon),
                    static_cast<std::uint16_t>(std::stoul(listen.substr(colon + 1)))}};
  config.user_agent = std::move(user_agent);
  return config;
}

/// Runs `Target(io, options)` on one thread until it stops; its exit code, 1 on an exception.
template <typename Target, typename Options>
int run_on_one_thread(const char* name, Options options) {
  if (options.ari_password.empty()) {
    if (const char* env = std::getenv("ASTMRF_ARI_PASSWORD")) options.ari_password = env;
  }
  spdlog::set_level(spdlog::level::warn);
  try {
    boost::asio::io_context io{1};
    Target target(io, std::move(options));
    target.start();
    io.run();
    return target.exit_code();
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace astmrf_bench
