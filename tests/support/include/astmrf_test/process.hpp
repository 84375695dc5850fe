// Child processes for tests (sipp, the sandbox tool): started without a shell,
// output captured to a file, bounded by a deadline, killed if the test ends first.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace astmrf_test {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal or on timeout
  bool timed_out = false;
  std::string output;  // stdout and stderr, interleaved
};

class Process {
 public:
  // Starts argv[0] (searched in PATH) with the given arguments.
  explicit Process(std::vector<std::string> argv);
  ~Process();  // kills the child (SIGKILL) if it still runs
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Waits for the child to end; on timeout kills it and reports timed_out.
  ProcessResult wait(std::chrono::milliseconds timeout);
  // True while the child runs.
  bool running();
  pid_t pid() const { return pid_; }
  // What the child has written so far (it may still be writing).
  std::string output() const { return read_output(); }

 private:
  std::string read_output() const;

  pid_t pid_ = -1;
  std::string output_path_;
  std::optional<int> status_;
};

// Starts a process and waits for it.
ProcessResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout);

}  // namespace astmrf_test
