#include "astmrf_test/sandbox_instance.hpp"

#include "astmrf_test/process.hpp"
#include "astmrf_test/sandbox.hpp"

#include <stdexcept>
#include <utility>

namespace astmrf_test {

SandboxInstance::SandboxInstance(SandboxInstanceOptions options) : options_(std::move(options)) {
  if (options_.name.empty()) throw std::invalid_argument("SandboxInstance needs a name");
}

SandboxInstance::~SandboxInstance() {
  if (started_) down();
}

std::string SandboxInstance::run_tool(std::vector<std::string> args) const {
  std::vector<std::string> argv{sandbox().tool};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
  auto result = run(argv, options_.timeout);
  if (result.exit_code == 0) return {};
  std::string command;
  for (const auto& arg : argv) command += (command.empty() ? "" : " ") + arg;
  std::string why = result.timed_out ? "timed out after " + std::to_string(options_.timeout.count()) + " s"
                                     : "exit code " + std::to_string(result.exit_code);
  return command + ": " + why + "\n" + result.output;
}

std::string SandboxInstance::up() {
  // Set first: an up that failed halfway may still leave something for the destructor to stop.
  started_ = true;
  const auto& box = sandbox();
  return run_tool({"up", "--name", options_.name, "--sip-port", std::to_string(options_.sip_port), "--ari-port",
                   std::to_string(options_.ari_port), "--rtp-ports", options_.rtp_ports, "--ari-user", box.ari_user,
                   "--ari-password", box.ari_password, "--dialplan", options_.dialplan});
}

void SandboxInstance::up_or_throw() {
  if (auto error = up(); !error.empty()) throw std::runtime_error(error);
}

std::string SandboxInstance::down() { return run_tool({"down", "--name", options_.name}); }

std::string SandboxInstance::kill() { return run_tool({"kill", "--name", options_.name}); }

std::string SandboxInstance::restart() {
  if (auto error = down(); !error.empty()) return error;
  return up();
}

bool SandboxInstance::running() const { return run_tool({"status", "--name", options_.name}).empty(); }

std::string SandboxInstance::sip_host_port() const { return "127.0.0.1:" + std::to_string(options_.sip_port); }

}  // namespace astmrf_test
