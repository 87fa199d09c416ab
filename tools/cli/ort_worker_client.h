// A child process running tools/cli/ort_worker.py: ONNX Runtime, driven over pipes with one
// JSON object per line (the protocol is described in the script).
#pragma once

#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "unihal/status.h"

namespace unihal::cli {

// Where to find what the worker needs. The Python is the first of: `python_flag` when not
// empty, $UNIHAL_PYTHON, a .venv/bin/python in the folder of the binary or the current
// directory or one of their parents, else "python3" on the PATH.
std::string ChoosePython(const std::string& python_flag);
// ort_worker.py under tools/cli/ of the source tree that holds the binary or the current
// directory; NotFound when neither does.
Result<std::string> FindOrtWorkerScript();

class OrtWorker {
 public:
  // Starts `python script` with stderr saved to `stderr_path`, and waits for its greeting.
  // FailedPrecondition when the Python cannot be started or cannot import onnxruntime.
  static Result<std::unique_ptr<OrtWorker>> Start(const std::string& python,
                                                  const std::string& script,
                                                  const std::string& stderr_path);
  ~OrtWorker();
  OrtWorker(const OrtWorker&) = delete;
  OrtWorker& operator=(const OrtWorker&) = delete;

  // Sends one request and returns the reply's fields; a reply with "ok": false becomes an
  // error with its message, a dead worker an Internal error with the tail of its stderr.
  Result<nlohmann::json> Call(const nlohmann::json& request);

  const std::string& onnxruntime_version() const { return version_; }

 private:
  OrtWorker() = default;
  Status Send(const std::string& line);
  Result<nlohmann::json> Receive();
  Status WorkerDied(const std::string& what);

  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buffer_;
  std::string stderr_path_;
  std::string python_;
  std::string version_;
};

}  // namespace unihal::cli
