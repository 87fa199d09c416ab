#include "cli/ort_worker_client.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

extern char** environ;

namespace unihal::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kHowToFix[] =
    "run 'make setup' to install ONNX Runtime into .venv, or pass --python PATH (or set "
    "UNIHAL_PYTHON) to a Python that has the onnxruntime package";

// The folder of this binary and the current directory, then each of their parents.
std::vector<fs::path> SearchRoots() {
  std::vector<fs::path> roots;
  std::error_code error;
  for (fs::path start :
       {fs::read_symlink("/proc/self/exe", error).parent_path(), fs::current_path(error)}) {
    for (fs::path dir = start; !dir.empty(); dir = dir.parent_path()) {
      roots.push_back(dir);
      if (dir == dir.root_path()) break;
    }
  }
  return roots;
}

std::string Tail(const std::string& path, size_t max_chars) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  while (!all.empty() && (all.back() == '\n' || all.back() == ' ')) all.pop_back();
  return all.size() > max_chars ? "..." + all.substr(all.size() - max_chars) : all;
}

}  // namespace

std::string ChoosePython(const std::string& python_flag) {
  if (!python_flag.empty()) return python_flag;
  if (const char* env = std::getenv("UNIHAL_PYTHON"); env != nullptr && *env != '\0') return env;
  std::error_code error;
  for (const fs::path& root : SearchRoots()) {
    const fs::path candidate = root / ".venv" / "bin" / "python";
    if (fs::exists(candidate, error) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
  }
  return "python3";
}

Result<std::string> FindOrtWorkerScript() {
  std::error_code error;
  for (const fs::path& root : SearchRoots()) {
    const fs::path candidate = root / "tools" / "cli" / "ort_worker.py";
    if (fs::is_regular_file(candidate, error)) return candidate.string();
  }
  return NotFoundError(
      "cannot find tools/cli/ort_worker.py (the ONNX Runtime worker) in the source tree of the "
      "unihal binary or the current directory; run from the unihal checkout");
}

Result<std::unique_ptr<OrtWorker>> OrtWorker::Start(const std::string& python,
                                                    const std::string& script,
                                                    const std::string& stderr_path) {
  // A worker that dies mid-write must give us EPIPE, not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0)
    return InternalError("pipe: " + std::string(strerror(errno)));
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    ::close(to_child[0]);
    ::close(to_child[1]);
    return InternalError("pipe: " + std::string(strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<std::string> args = {python, "-u", script};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, python.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(to_child[0]);
  ::close(from_child[1]);
  if (spawned != 0) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    return FailedPreconditionError("cannot start Python '" + python + "' for ONNX Runtime (" +
                                   std::strerror(spawned) + "); " + kHowToFix);
  }
  std::unique_ptr<OrtWorker> worker(new OrtWorker());
  worker->pid_ = pid;
  worker->to_child_ = to_child[1];
  worker->from_child_ = from_child[0];
  worker->stderr_path_ = stderr_path;
  worker->python_ = python;
  Result<nlohmann::json> hello = worker->Receive();
  if (!hello.ok()) {
    return FailedPreconditionError("Python '" + python +
                                   "' did not start the ONNX Runtime worker (" +
                                   hello.status().message() + "); " + kHowToFix);
  }
  if (!hello->value("ok", false)) {
    return FailedPreconditionError("Python '" + python + "' cannot import numpy and onnxruntime (" +
                                   hello->value("error", std::string("no reason given")) + "); " +
                                   kHowToFix);
  }
  worker->version_ = hello->value("onnxruntime", std::string());
  return worker;
}

OrtWorker::~OrtWorker() {
  if (to_child_ >= 0) {
    Send(R"({"cmd": "quit"})").IgnoreError();
    ::close(to_child_);
  }
  if (from_child_ >= 0) ::close(from_child_);
  if (pid_ > 0) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

Status OrtWorker::Send(const std::string& line) {
  const std::string data = line + "\n";
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(to_child_, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return WorkerDied("stopped reading requests");
    written += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<nlohmann::json> OrtWorker::Receive() {
  size_t newline;
  while ((newline = buffer_.find('\n')) == std::string::npos) {
    char chunk[4096];
    const ssize_t n = ::read(from_child_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return WorkerDied("exited");
    buffer_.append(chunk, static_cast<size_t>(n));
  }
  const std::string line = buffer_.substr(0, newline);
  buffer_.erase(0, newline + 1);
  nlohmann::json reply = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!reply.is_object()) return InternalError("the ONNX Runtime worker replied '" + line + "'");
  return reply;
}

Result<nlohmann::json> OrtWorker::Call(const nlohmann::json& request) {
  UH_RETURN_IF_ERROR(Send(request.dump()));
  UH_ASSIGN_OR_RETURN(nlohmann::json reply, Receive());
  if (!reply.value("ok", false)) {
    return InvalidArgumentError(reply.value("error", std::string("no reason given")));
  }
  return reply;
}

Status OrtWorker::WorkerDied(const std::string& what) {
  std::string how;
  if (pid_ > 0) {
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_) {
      pid_ = -1;
      how = WIFEXITED(status) ? " with status " + std::to_string(WEXITSTATUS(status))
                              : " on signal " + std::to_string(WTERMSIG(status));
    }
  }
  const std::string tail = Tail(stderr_path_, 2000);
  return InternalError("the ONNX Runtime worker (" + python_ + ") " + what + how +
                       (tail.empty() ? std::string() : "; its stderr:\n" + tail));
}

}  // namespace unihal::cli
