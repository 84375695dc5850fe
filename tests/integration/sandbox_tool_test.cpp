// The sandbox tool's failure paths: each one ends with a clear message and a
// non-zero exit, and starts nothing.
#include "astmrf_test/process.hpp"
#include "astmrf_test/sandbox.hpp"

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

TEST(SandboxTool, FixtureInstanceReportsRunning) {
  auto status = sandbox_tool({"status", "--name", astmrf_test::sandbox().instance});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("running"), std::string::npos) << status.output;
}

}  // namespace
