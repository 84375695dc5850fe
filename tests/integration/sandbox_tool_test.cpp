// The sandbox tool's failure paths: each one ends with a clear message and a
// non-zero exit, and starts nothing. Also its --dialplan variant, on an instance of its own.
#include "astmrf_test/process.hpp"
#include "astmrf_test/sandbox.hpp"
#include "astmrf_test/sipp.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

astmrf_test::ProcessResult sandbox_tool(std::vector<std::string> args) {
  args.insert(args.begin(), astmrf_test::sandbox().tool);
  return astmrf_test::run(std::move(args), 60s);
}

// A loopback port that is free right now (the kernel picks it).
template <typename Protocol>
std::uint16_t free_port(asio::io_context& ioc) {
  typename Protocol::socket socket(ioc, typename Protocol::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return socket.local_endpoint().port();
}

TEST(SandboxTool, RefusesASipPortThatIsTaken) {
  asio::io_context ioc;
  asio::ip::udp::socket taken(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = std::to_string(taken.local_endpoint().port());
  auto ari_port = std::to_string(free_port<asio::ip::tcp>(ioc));
  auto result = sandbox_tool({"up", "--name", "port-taken-test", "--sip-port", port, "--ari-port", ari_port});
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("port " + port + "/udp (sip) is already in use"), std::string::npos) << result.output;
  EXPECT_NE(sandbox_tool({"status", "--name", "port-taken-test"}).exit_code, 0);
}

TEST(SandboxTool, RefusesAnAriPortThatIsTaken) {
  asio::io_context ioc;
  asio::ip::tcp::acceptor taken(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = std::to_string(taken.local_endpoint().port());
  auto sip_port = std::to_string(free_port<asio::ip::udp>(ioc));
  auto result = sandbox_tool({"up", "--name", "port-taken-test", "--sip-port", sip_port, "--ari-port", port});
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("port " + port + "/tcp (ari) is already in use"), std::string::npos) << result.output;
}

// Runs a copy of scripts/<script> as an unprivileged user (nobody) with `args`.
astmrf_test::ProcessResult run_as_nobody(const std::string& script, std::vector<std::string> args) {
  // A copy in a directory anyone can enter: the checkout itself may sit below one that only
  // root may traverse (a mktemp -d clone), and the check must be reached, not the path denied.
  char dir_template[] = "/tmp/astmrf-notroot-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return {-1, false, "mkdtemp failed"};
  const std::filesystem::path dir(dir_template);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                        std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                        std::filesystem::perms::others_exec);
  const auto copy = dir / script;
  std::filesystem::copy_file(std::filesystem::path(astmrf_test::sandbox().tool).parent_path() / script, copy);
  args.insert(args.begin(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", copy.string()});
  auto result = astmrf_test::run(std::move(args), 30s);
  std::filesystem::remove_all(dir);
  return result;
}

TEST(SandboxTool, RefusesToRunWithoutRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to another user";
  auto result = run_as_nobody("asterisk-sandbox", {"up", "--name", "not-root-test"});
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("must be run as root"), std::string::npos) << result.output;
}

// The README's commands are typed as root or, by a sudoer, after `sudo`: run by anyone else they
// stop before doing anything and say how to run them.
TEST(ReadmeCommands, RefuseToRunWithoutRootAndNameSudo) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to another user";
  for (const std::string script : {"demo", "test", "setup-deps"}) {
    auto result = run_as_nobody(script, {});
    EXPECT_NE(result.exit_code, 0) << script << ": " << result.output;
    EXPECT_NE(result.output.find("must be run as root"), std::string::npos) << script << ": " << result.output;
    EXPECT_NE(result.output.find("sudo scripts/" + script), std::string::npos) << script << ": " << result.output;
  }
}

TEST(SandboxTool, RejectsMalformedOptions) {
  auto bad_range = sandbox_tool({"up", "--name", "bad-options-test", "--rtp-ports", "2000-1000"});
  EXPECT_NE(bad_range.exit_code, 0);
  EXPECT_NE(bad_range.output.find("--rtp-ports '2000-1000' must be FROM-TO"), std::string::npos) << bad_range.output;

  auto bad_port = sandbox_tool({"up", "--name", "bad-options-test", "--sip-port", "70000"});
  EXPECT_NE(bad_port.exit_code, 0);
  EXPECT_NE(bad_port.output.find("is not a port number"), std::string::npos) << bad_port.output;

  auto bad_name = sandbox_tool({"up", "--name", "../escape"});
  EXPECT_NE(bad_name.exit_code, 0);
  EXPECT_NE(bad_name.output.find("instance name"), std::string::npos) << bad_name.output;

  auto bad_dialplan = sandbox_tool({"up", "--name", "bad-options-test", "--dialplan", "hangup-first"});
  EXPECT_NE(bad_dialplan.exit_code, 0);
  EXPECT_NE(bad_dialplan.output.find("--dialplan 'hangup-first' must be stasis or answer-first"), std::string::npos)
      << bad_dialplan.output;

  auto unknown = sandbox_tool({"frobnicate"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("unknown command 'frobnicate'"), std::string::npos) << unknown.output;
}

TEST(SandboxTool, TlsNeedsACertificateAndKey) {
  auto result = sandbox_tool({"up", "--name", "tls-test", "--tls-port", "28443"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("--tls-port needs a readable --tls-cert"), std::string::npos) << result.output;
}

TEST(SandboxTool, StatusAndDownOfAStoppedInstance) {
  auto status = sandbox_tool({"status", "--name", "never-started-test"});
  EXPECT_EQ(status.exit_code, 3) << status.output;
  EXPECT_NE(status.output.find("stopped"), std::string::npos);
  auto down = sandbox_tool({"down", "--name", "never-started-test"});
  EXPECT_EQ(down.exit_code, 0) << down.output;  // idempotent
}

// The answer-first variant (a 200 OK before StasisStart): the SIP endpoint lands in a
// context that answers, then enters Stasis. A second instance beside the fixture's, on
// ports the kernel picks; it takes no call, so its RTP range binds nothing.
TEST(SandboxTool, AnswerFirstDialplanVariantComesUpWithItsContext) {
  asio::io_context ioc;
  const std::string name = astmrf_test::sandbox().instance + "-answer-first";
  const auto sip_port = std::to_string(free_port<asio::ip::udp>(ioc));
  const auto ari_port = std::to_string(free_port<asio::ip::tcp>(ioc));
  struct Down {
    std::string name;
    ~Down() { sandbox_tool({"down", "--name", name}); }
  } down{name};

  auto up = sandbox_tool(
      {"up", "--name", name, "--sip-port", sip_port, "--ari-port", ari_port, "--dialplan", "answer-first"});
  ASSERT_EQ(up.exit_code, 0) << up.output;
  auto status = sandbox_tool({"status", "--name", name});
  EXPECT_NE(status.output.find("dialplan answer-first"), std::string::npos) << status.output;

  auto endpoint = sandbox_tool({"cli", "--name", name, "pjsip show endpoint drachtio"});
  EXPECT_NE(endpoint.output.find("drachtio-answer-first"), std::string::npos) << endpoint.output;
  auto context = sandbox_tool({"cli", "--name", name, "dialplan show drachtio-answer-first"});
  EXPECT_NE(context.output.find("Answer()"), std::string::npos) << context.output;
  EXPECT_NE(context.output.find("Stasis(${EXTEN})"), std::string::npos) << context.output;
  EXPECT_LT(context.output.find("Answer()"), context.output.find("Stasis(${EXTEN})")) << context.output;

  // A call for an application that nobody runs is answered (200) before Stasis() fails and
  // hangs up (BYE); the default dialplan declines the same call (603, asterisk_sandbox_test).
  astmrf_test::SippCall call;
  call.scenario = "invite-answer-wait-bye.xml";
  call.service = astmrf_test::unique_app_name();
  call.keys["from_user"] = astmrf_test::random_uuid();
  call.remote = "127.0.0.1:" + sip_port;
  auto answered = astmrf_test::run_sipp(call);
  EXPECT_EQ(answered.exit_code, 0) << answered.output;
}

TEST(SandboxTool, FixtureInstanceReportsRunning) {
  auto status = sandbox_tool({"status", "--name", astmrf_test::sandbox().instance});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("running"), std::string::npos) << status.output;
}

}  // namespace
