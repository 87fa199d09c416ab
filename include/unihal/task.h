// A handle to one task (one run in flight) submitted with Session::RunAsync (SPEC R5.2):
// wait for it, cancel it, read its state and result, or be called back when it ends.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "unihal/run_options.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal {

namespace sched {
class TaskRecord;
}

// Called exactly once, on the thread that finished the task (or at once, on the caller's thread,
// when the task had already ended), before Wait() returns; it must not wait for its own task.
// `status` is Ok exactly when `state` is kSucceeded.
using TaskCallback =
    std::function<void(TaskState state, const Status& status, const std::vector<Tensor>& outputs)>;

class TaskHandle {
 public:
  TaskHandle() = default;
  explicit TaskHandle(std::shared_ptr<sched::TaskRecord> record);

  bool valid() const { return record_ != nullptr; }
  TaskState state() const;
  // Blocks until the task is final.
  void Wait() const;
  // Blocks at most `timeout`; true when the task is final.
  bool WaitFor(std::chrono::nanoseconds timeout) const;
  // Asks the task to end. A queued task ends kCancelled at once; a running one at its next op
  // boundary (or, when it finishes before reaching one, with its real result). True when the
  // task was not final yet, false when it had already ended.
  bool Cancel() const;
  // Waits, then: the outputs when succeeded, else the error (kCancelled, kDeadlineExceeded,
  // or the last attempt's error).
  Result<std::vector<Tensor>> Get() const;
  // Runs `callback` once when the task ends; at once when it already has.
  void OnComplete(TaskCallback callback) const;
  // Once the task has ended: the device of its last attempt ("" if it never ran), and how many
  // attempts it took (more than 1 after a failover).
  std::string device_id() const;
  int attempts() const;

 private:
  std::shared_ptr<sched::TaskRecord> record_;
};

}  // namespace unihal
