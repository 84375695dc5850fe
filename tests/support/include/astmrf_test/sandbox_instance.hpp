// An extra Asterisk instance beside the ctest fixture's, for tests that need servers of
// their own (a media server pool, a rejecting server, one to crash). It drives
// scripts/asterisk-sandbox with the fixture's tool and ARI credentials.
//
// Every command blocks until the tool returns. Failures come back as text (the command
// line and the tool's output), empty on success, so that a suite's SetUp can FAIL()
// with it; up_or_throw() is the same as an exception.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace astmrf_test {

struct SandboxInstanceOptions {
  std::string name;                   // instance name; pick one no other test uses
  std::uint16_t sip_port = 0;         // SIP, UDP and TCP on 127.0.0.1
  std::uint16_t ari_port = 0;         // HTTP/ARI on 127.0.0.1
  std::string rtp_ports;              // "FROM-TO", disjoint from every other instance's range
  std::string dialplan = "stasis";    // stasis, answer-first or reject (asterisk-sandbox --dialplan)
  std::chrono::seconds timeout{180};  // bound on one tool run (up waits for ARI within it)
};

class SandboxInstance {
 public:
  explicit SandboxInstance(SandboxInstanceOptions options);
  // Brings the instance down if this object ever started it.
  ~SandboxInstance();
  SandboxInstance(const SandboxInstance&) = delete;
  SandboxInstance& operator=(const SandboxInstance&) = delete;

  // `up`: starts the instance (again, after down() or kill()); returns when ARI answers.
  [[nodiscard]] std::string up();
  void up_or_throw();
  // `down`: a clean stop; a stopped instance is fine.
  std::string down();
  // `kill`: SIGKILL, as a crash; up() starts it again.
  std::string kill();
  // down() then up().
  [[nodiscard]] std::string restart();
  // `status` exits 0 while Asterisk runs.
  bool running() const;

  const SandboxInstanceOptions& options() const { return options_; }
  const std::string& name() const { return options_.name; }
  std::uint16_t sip_port() const { return options_.sip_port; }
  std::uint16_t ari_port() const { return options_.ari_port; }
  // "127.0.0.1:<sip port>", as sipp's remote or a SIP URI's host part.
  std::string sip_host_port() const;

 private:
  std::string run_tool(std::vector<std::string> args) const;

  SandboxInstanceOptions options_;
  bool started_ = false;
};

}  // namespace astmrf_test
