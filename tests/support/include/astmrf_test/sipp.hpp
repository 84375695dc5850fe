// Runs sipp as a real SIP peer against the sandbox (or against astmrf itself).
#pragma once

#include "astmrf_test/process.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace astmrf_test {

struct SippCall {
  std::string scenario;                     // file in the sipp scenario dir, or a path
  std::string service;                      // Request-URI user: [service]
  std::map<std::string, std::string> keys;  // -key NAME VALUE: [NAME] in the scenario
  std::string transport = "u1";             // -t: u1 (UDP) or t1 (TCP)
  std::string remote;                       // host:port; default: the sandbox's SIP port
  int calls = 1;                            // -m: calls before sipp exits
  std::vector<std::string> extra_args;
  std::chrono::seconds timeout{30};  // sipp's own global timeout
};

// A sipp running in the background. Its SIP message trace is appended to the
// result's output, so a failed assertion shows what was on the wire.
class SippProcess {
 public:
  explicit SippProcess(const SippCall& call);
  ~SippProcess();
  SippProcess(const SippProcess&) = delete;
  SippProcess& operator=(const SippProcess&) = delete;

  ProcessResult wait(std::chrono::milliseconds timeout = std::chrono::seconds(40));

 private:
  std::string trace_path_;
  std::unique_ptr<Process> process_;
};

// Runs one sipp call to completion. sipp exits 0 when the scenario passed.
ProcessResult run_sipp(const SippCall& call);

}  // namespace astmrf_test
