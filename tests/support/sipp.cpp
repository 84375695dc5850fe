#include "astmrf_test/sipp.hpp"

#include "astmrf_test/sandbox.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <unistd.h>

namespace astmrf_test {
namespace {

std::string make_trace_path() {
  char path_template[] = "/tmp/astmrf-sipp-trace-XXXXXX";
  int fd = ::mkstemp(path_template);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  return path_template;
}

std::vector<std::string> command_for(const SippCall& call, const std::string& trace_path) {
  const auto& box = sandbox();
  std::string scenario =
      call.scenario.find('/') == std::string::npos ? box.sipp_dir + "/" + call.scenario : call.scenario;
  std::string remote = call.remote.empty() ? box.sip_host + ":" + std::to_string(box.sip_port) : call.remote;
  std::vector<std::string> argv{box.sipp,
                                remote,
                                "-sf",
                                scenario,
                                "-i",
                                "127.0.0.1",
                                "-t",
                                call.transport,
                                "-m",
                                std::to_string(call.calls),
                                "-nostdin",
                                "-timeout",
                                std::to_string(call.timeout.count()) + "s",
                                "-timeout_error",
                                "-trace_msg",
                                "-message_file",
                                trace_path};
  if (!call.service.empty()) {
    argv.insert(argv.end(), {"-s", call.service});
  }
  for (const auto& [name, value] : call.keys) {
    argv.insert(argv.end(), {"-key", name, value});
  }
  argv.insert(argv.end(), call.extra_args.begin(), call.extra_args.end());
  return argv;
}

}  // namespace

SippProcess::SippProcess(const SippCall& call)
    : trace_path_(make_trace_path()), process_(std::make_unique<Process>(command_for(call, trace_path_))) {}

SippProcess::~SippProcess() {
  process_.reset();
  ::unlink(trace_path_.c_str());
}

ProcessResult SippProcess::wait(std::chrono::milliseconds timeout) {
  ProcessResult result = process_->wait(timeout);
  std::ifstream trace(trace_path_);
  std::stringstream text;
  text << trace.rdbuf();
  result.output += "\n----- sipp message trace -----\n" + text.str();
  return result;
}

ProcessResult run_sipp(const SippCall& call) {
  SippProcess sipp(call);
  return sipp.wait();
}

}  // namespace astmrf_test
