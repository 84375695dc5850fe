#include "astmrf_test/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace astmrf_test {

Process::Process(std::vector<std::string> argv) {
  char path_template[] = "/tmp/astmrf-test-process-XXXXXX";
  int fd = ::mkstemp(path_template);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  output_path_ = path_template;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fd, 1);
  posix_spawn_file_actions_adddup2(&actions, fd, 2);
  posix_spawn_file_actions_addclose(&actions, fd);
  // Nothing else of the test process: Asio does not open its sockets close-on-exec, and a sipp
  // that held a copy of a TCP connection kept it open when the test closed (or reset) its own.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  std::vector<char*> args;
  for (auto& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  int rc = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fd);
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error("cannot start " + argv.front() + ": " + std::strerror(rc));
  }
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (!output_path_.empty()) ::unlink(output_path_.c_str());
}

bool Process::running() {
  if (pid_ < 0 || status_) return false;
  int status = 0;
  pid_t rc = ::waitpid(pid_, &status, WNOHANG);
  if (rc == pid_) {
    status_ = status;
    return false;
  }
  return rc == 0;
}

std::string Process::read_output() const {
  std::ifstream in(output_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ProcessResult Process::wait(std::chrono::milliseconds timeout) {
  ProcessResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      status_ = status;
      result.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (status_ && !result.timed_out && WIFEXITED(*status_)) result.exit_code = WEXITSTATUS(*status_);
  result.output = read_output();
  return result;
}

ProcessResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  Process process(std::move(argv));
  return process.wait(timeout);
}

}  // namespace astmrf_test
