// The IVR's options: what the command line turns into, and which media servers.
#include "options.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace {

using astmrf::ivr::IvrOptions;
using astmrf::ivr::media_servers;
using astmrf::ivr::parse_command_line;
using astmrf::ivr::parse_host_port;

std::optional<IvrOptions> parse(std::vector<std::string> args, int& exit_code) {
  args.insert(args.begin(), "astmrf-ivr");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(), exit_code);
}

TEST(IvrOptions, DefaultsAreOneLocalAsterisk) {
  int code = -1;
  auto options = parse({}, code);
  ASSERT_TRUE(options);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(options->listen, (std::vector<std::string>{"127.0.0.1:5080"}));
  const auto servers = media_servers(*options);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].ari.host, "127.0.0.1");
  EXPECT_EQ(servers[0].ari.port, 8088);
  EXPECT_FALSE(servers[0].ari_tls);
  EXPECT_EQ(servers[0].sip.host, "127.0.0.1");
  EXPECT_EQ(servers[0].sip.port, 5060);
}

TEST(IvrOptions, EveryOptionIsRead) {
  int code = -1;
  auto options = parse({"--listen",
                        "127.0.0.1:5999",
                        "--ari-url",
                        "https://10.0.0.2/ari",
                        "--ari-user",
                        "u",
                        "--ari-password",
                        "p",
                        "--media-sip",
                        "10.0.0.2:5070",
                        "--max-digits",
                        "3",
                        "--first-digit-timeout-ms",
                        "100",
                        "--inter-digit-timeout-ms",
                        "200",
                        "--log-level",
                        "debug",
                        "--max-calls",
                        "2",
                        "--prompt",
                        "sound:beep",
                        "--prompt",
                        "sound:hello"},
                       code);
  ASSERT_TRUE(options);
  EXPECT_EQ(options->listen, (std::vector<std::string>{"127.0.0.1:5999"}));
  EXPECT_EQ(options->ari_user, "u");
  EXPECT_EQ(options->ari_password, "p");
  EXPECT_EQ(options->max_digits, 3u);
  EXPECT_EQ(options->first_digit_timeout.count(), 100);
  EXPECT_EQ(options->inter_digit_timeout.count(), 200);
  EXPECT_EQ(options->log_level, "debug");
  EXPECT_EQ(options->max_calls, 2u);
  EXPECT_EQ(options->prompt, (std::vector<std::string>{"sound:beep", "sound:hello"}));
  const auto servers = media_servers(*options);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_TRUE(servers[0].ari_tls);
  EXPECT_EQ(servers[0].ari.port, 8089);  // https's default
  EXPECT_EQ(servers[0].sip.port, 5070);
}

TEST(IvrOptions, SeveralAsterisksReplaceTheSingleOne) {
  int code = -1;
  auto options = parse({"--media-sip", "127.0.0.1:5070", "--asterisk", "http://127.0.0.2:8090,127.0.0.2:5062",
                        "--asterisk", "http://127.0.0.3:8091"},
                       code);
  ASSERT_TRUE(options);
  const auto servers = media_servers(*options);
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[0].ari.host, "127.0.0.2");
  EXPECT_EQ(servers[0].ari.port, 8090);
  EXPECT_EQ(servers[0].sip.port, 5062);
  EXPECT_EQ(servers[1].ari.host, "127.0.0.3");
  EXPECT_EQ(servers[1].sip.host, "127.0.0.3");  // the ARI host, on the --media-sip port
  EXPECT_EQ(servers[1].sip.port, 5070);
}

TEST(IvrOptions, PoolMembersTakeHostNamesAndWeights) {
  int code = -1;
  auto options = parse({"--pool-policy", "weighted", "--stats-interval", "0", "--asterisk",
                        "http://localhost:8088,localhost:5060,weight=3", "--asterisk",
                        "http://ms2.example:8090,weight=2", "--asterisk", "http://127.0.0.1:8091"},
                       code);
  ASSERT_TRUE(options);
  EXPECT_EQ(options->pool_policy, "weighted");
  EXPECT_EQ(options->stats_interval_s, 0u);
  const auto servers = media_servers(*options);
  ASSERT_EQ(servers.size(), 3u);
  EXPECT_EQ(servers[0].ari.host, "localhost");
  EXPECT_EQ(servers[0].sip.host, "localhost");
  EXPECT_EQ(servers[0].weight, 3u);
  EXPECT_EQ(servers[1].ari.host, "ms2.example");
  EXPECT_EQ(servers[1].sip.host, "ms2.example");  // no SIP address: the ARI host on --media-sip's port
  EXPECT_EQ(servers[1].sip.port, 5060);
  EXPECT_EQ(servers[1].weight, 2u);
  EXPECT_EQ(servers[2].weight, 1u);
}

TEST(IvrOptions, InstanceIdIsReadAndChecked) {
  int code = -1;
  auto options = parse({}, code);
  ASSERT_TRUE(options);
  EXPECT_TRUE(options->instance_id.empty());
  options = parse({"--instance-id", "ivr-1"}, code);
  ASSERT_TRUE(options);
  EXPECT_EQ(options->instance_id, "ivr-1");
  EXPECT_FALSE(parse({"--instance-id", "ivr 1"}, code));
  EXPECT_NE(code, 0);
  EXPECT_FALSE(parse({"--instance-id", std::string(129, 'a')}, code));
  EXPECT_NE(code, 0);
}

TEST(IvrOptions, BadPoolOptionsAreRejected) {
  int code = -1;
  EXPECT_FALSE(parse({"--pool-policy", "random"}, code));
  EXPECT_NE(code, 0);
  IvrOptions options;
  for (const char* entry : {"http://127.0.0.1:8088,weight=0", "http://127.0.0.1:8088,weight=x",
                            "http://127.0.0.1:8088,weight=2,127.0.0.1:5060", "http://127.0.0.1:8088,127.0.0.1:5060,a:1",
                            "http://127.0.0.1:8088,weight=1,weight=2"}) {
    options.asterisk = {entry};
    EXPECT_THROW(media_servers(options), std::invalid_argument) << entry;
  }
}

TEST(IvrOptions, BadAddressesAreRejected) {
  IvrOptions options;
  for (const char* url : {"ftp://127.0.0.1", "127.0.0.1:8088", "http://u:p@127.0.0.1:8088", "http://127.0.0.1:0",
                          "http://127.0.0.1:99999", "http://127.0.0.1:8088/other", "http://:8088"}) {
    options.ari_url = url;
    EXPECT_THROW(media_servers(options), std::invalid_argument) << url;
  }
  EXPECT_THROW(parse_host_port("127.0.0.1"), std::invalid_argument);
  EXPECT_THROW(parse_host_port(":5060"), std::invalid_argument);
  EXPECT_THROW(parse_host_port("127.0.0.1:x"), std::invalid_argument);
  EXPECT_EQ(parse_host_port("127.0.0.1:5060").port, 5060);
}

// Issue 20: `--listen [::1]:5580` was refused ("Invalid argument"); `::1:5580` worked.
TEST(IvrOptions, ListenTakesBracketedIpv6AndRepeats) {
  int code = -1;
  auto options = parse({"--listen", "[::1]:5580", "--listen", "127.0.0.1:5580", "--listen", "::1:5581"}, code);
  ASSERT_TRUE(options);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(options->listen, (std::vector<std::string>{"[::1]:5580", "127.0.0.1:5580", "::1:5581"}));
  EXPECT_EQ(parse_host_port(options->listen[0]), (astmrf::util::HostPort{"::1", 5580}));
  EXPECT_EQ(parse_host_port(options->listen[1]), (astmrf::util::HostPort{"127.0.0.1", 5580}));
  EXPECT_EQ(parse_host_port(options->listen[2]), (astmrf::util::HostPort{"::1", 5581}));  // still accepted
  for (const char* bad : {"[::1]", "[::1]5580", "[::1:5580", "[127.0.0.1]:5580", "[::1]:0", "fe80::zz:5580"}) {
    EXPECT_THROW(parse_host_port(bad), std::invalid_argument) << bad;
  }
}

TEST(IvrOptions, Ipv6MediaServers) {
  IvrOptions options;
  options.ari_url = "http://[::1]:8088/ari";
  options.media_sip = "[::1]:5060";
  auto servers = media_servers(options);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].ari, (astmrf::util::HostPort{"::1", 8088}));
  EXPECT_EQ(servers[0].sip, (astmrf::util::HostPort{"::1", 5060}));
  options.ari_url = "https://[2001:db8::2]";
  servers = media_servers(options);
  EXPECT_EQ(servers[0].ari, (astmrf::util::HostPort{"2001:db8::2", 8089}));
  options.asterisk = {"http://[::1]:8088,[::1]:5070,weight=2"};
  servers = media_servers(options);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].sip, (astmrf::util::HostPort{"::1", 5070}));
  EXPECT_EQ(servers[0].weight, 2u);
  options.asterisk = {"http://[::1]:8088"};  // the ARI host on the --media-sip port
  servers = media_servers(options);
  EXPECT_EQ(servers[0].sip, (astmrf::util::HostPort{"::1", 5060}));
  options.ari_url = "http://[::1:8088";
  options.asterisk.clear();
  EXPECT_THROW(media_servers(options), std::invalid_argument);
}

TEST(IvrOptions, HelpAndUnknownOptionsExit) {
  int code = -1;
  EXPECT_FALSE(parse({"--help"}, code));
  EXPECT_EQ(code, 0);
  EXPECT_FALSE(parse({"--no-such-option"}, code));
  EXPECT_NE(code, 0);
  EXPECT_FALSE(parse({"--log-level", "loud"}, code));
  EXPECT_NE(code, 0);
}

TEST(IvrOptions, ThePasswordComesFromTheEnvironment) {
  ::setenv("ASTMRF_ARI_PASSWORD", "from-env", 1);
  int code = -1;
  auto options = parse({}, code);
  ::unsetenv("ASTMRF_ARI_PASSWORD");
  ASSERT_TRUE(options);
  EXPECT_EQ(options->ari_password, "from-env");
}

}  // namespace
