#include "astmrf_test/sipp.hpp"

#include "astmrf_test/sandbox.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

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
                                call.local_ip,
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
  result.output += "\n----- sipp message trace -----\n" + trace();
  return result;
}

std::string SippProcess::trace() const {
  std::ifstream file(trace_path_);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::optional<std::string> SippProcess::last_received_sdp() const { return astmrf_test::last_received_sdp(trace()); }

std::optional<std::string> SippProcess::wait_for_received_sdp(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (auto sdp = last_received_sdp()) return sdp;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::optional<std::string> last_received_sdp(std::string_view trace) {
  // Each message follows a line of dashes and a line "<transport> message received [N] bytes :"
  // (or "... sent (N bytes):"), then a blank line; its body follows the first CRLF CRLF.
  constexpr std::string_view separator = "-----------------------------------------------";
  std::optional<std::string> found;
  std::size_t at = trace.find(separator);
  while (at != std::string_view::npos) {
    const std::size_t next = trace.find(separator, at + separator.size());
    const auto block = trace.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at);
    at = next;
    const auto first_line_end = block.find('\n');
    const auto second_line_end = block.find('\n', first_line_end + 1);
    if (first_line_end == std::string_view::npos || second_line_end == std::string_view::npos) continue;
    if (block.substr(first_line_end, second_line_end - first_line_end).find("received") == std::string_view::npos) {
      continue;
    }
    const auto body_start = block.find("\r\n\r\n");
    if (body_start == std::string_view::npos) continue;
    auto body = block.substr(body_start + 4);
    if (body.find("m=audio") == std::string_view::npos) continue;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
    found = std::string(body) + "\r\n";
  }
  return found;
}

ProcessResult run_sipp(const SippCall& call) {
  SippProcess sipp(call);
  return sipp.wait();
}

}  // namespace astmrf_test
