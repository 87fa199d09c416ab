// For the CLI tests: runs the built `unihal` binary and captures what it prints.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace unihal::cli::testing {

enum class CliStderr { kCaptured, kDiscarded, kShown };

// `unihal ARGS`: its stdout (and stderr when kCaptured); *exit_code gets its exit status.
inline std::string RunCli(const std::string& args, int* exit_code,
                          CliStderr stderr_mode = CliStderr::kCaptured) {
  const char* redirect = stderr_mode == CliStderr::kCaptured    ? " 2>&1"
                         : stderr_mode == CliStderr::kDiscarded ? " 2>/dev/null"
                                                                : "";
  const std::string command = std::string(UNIHAL_CLI_PATH) + " " + args + redirect;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *exit_code = -1;
    return "";
  }
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  const int status = pclose(pipe);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace unihal::cli::testing
