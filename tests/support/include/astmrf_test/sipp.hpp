// Runs sipp as a real SIP peer against the sandbox (or against astmrf itself).
#pragma once

#include "astmrf_test/process.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf_test {

struct SippCall {
  std::string scenario;                     // file in the sipp scenario dir, or a path
  std::string service;                      // Request-URI user: [service]
  std::map<std::string, std::string> keys;  // -key NAME VALUE: [NAME] in the scenario
  std::string transport = "u1";             // -t: u1 (UDP) or t1 (TCP)
  std::string remote;                       // host:port or [ipv6]:port; default: the sandbox's SIP port
  std::string local_ip = "127.0.0.1";       // -i: sipp's own address ("::1" for an IPv6 peer)
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

  // The SIP message trace written so far (sipp may still be running).
  std::string trace() const;
  // The SDP body of the last message sipp received that carried one (the far end's
  // offer or answer, e.g. in a 200 OK): what an RtpPeer standing for sipp's caller
  // needs when the far end does not speak first. Nothing while none arrived.
  std::optional<std::string> last_received_sdp() const;
  // Waits up to `timeout` for last_received_sdp() to give an SDP.
  std::optional<std::string> wait_for_received_sdp(std::chrono::milliseconds timeout) const;

 private:
  std::string trace_path_;
  std::unique_ptr<Process> process_;
};

// The SDP body of the last received message in a sipp message trace (-trace_msg format).
std::optional<std::string> last_received_sdp(std::string_view trace);

// Runs one sipp call to completion. sipp exits 0 when the scenario passed.
ProcessResult run_sipp(const SippCall& call);

}  // namespace astmrf_test
