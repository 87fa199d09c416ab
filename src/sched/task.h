// The scheduler's record of one task (SPEC R5.2) and the interface that runs it. A TaskRecord
// is shared by the scheduler (queues, workers) and the caller's TaskHandle.
//
// State machine: queued -> running -> (queued again on failover) -> final. queued -> final is
// a compare-and-swap that the caller (Cancel), the deadline watcher and a worker race for;
// running -> anything is done only by the worker that runs it. The outputs are written before
// the task is marked done, and read only after.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sched/lane_list.h"
#include "unihal/run_options.h"
#include "unihal/status.h"
#include "unihal/task.h"
#include "unihal/tensor.h"

namespace unihal::sched {

class TaskRecord;

// What a task does: one attempt on one lane (one device). Implemented by Session (run the
// model's replica for that device) and by tests and benchmarks (empty or synthetic work).
class TaskRunner {
 public:
  virtual ~TaskRunner() = default;
  virtual Result<std::vector<Tensor>> RunOn(int lane, TaskRecord& task) const = 0;
  // Estimated duration of one attempt on `lane`, for placement; 0 when unknown.
  virtual int64_t EstimateNs(int /*lane*/) const { return 0; }
  // A measured attempt, to refine the estimate.
  virtual void RecordRun(int /*lane*/, int64_t /*ns*/) const {}
};

// Told when a task becomes final, before waiters wake and callbacks run, so budgets are free
// again by the time Wait() returns.
class TaskOwner {
 public:
  virtual ~TaskOwner() = default;
  virtual void OnTaskFinal(TaskRecord& task) = 0;
};

// Why a running task must stop at its next op boundary.
enum class AbortReason : uint8_t { kNone, kCancel, kDeadline };

class Tenant;

class TaskRecord {
 public:
  // Set at submit, read-only afterwards.
  RunOptions options;
  int level = 2;          // priority index after the tenant's ceiling
  int64_t submit_ns = 0;  // steady clock
  int64_t key_ns = 0;     // aging order: submit_ns + level * aging_step
  std::optional<int64_t> deadline_ns;
  std::shared_ptr<const TaskRunner> runner;
  std::map<std::string, Tensor> inputs;
  int64_t memory_bytes = 0;    // charged to the tenant while admitted
  LaneList candidates;         // lanes it may start on
  LaneList failover;           // lanes it may move to after a device fault
  Tenant* tenant = nullptr;    // owned by the scheduler
  TaskOwner* owner = nullptr;  // the scheduler; valid until OnTaskFinal returned
  bool admitted = false;       // holds a tenant slot (written by the tenant under its lock)

  // Owned by the worker that runs it.
  uint64_t tried_lanes = 0;
  int64_t estimate_ns = 0;            // added to the lane's backlog while queued or running there
  std::atomic<int> charged_lane{-1};  // the lane whose backlog holds estimate_ns

  std::atomic<TaskState> state{TaskState::kQueued};
  std::atomic<AbortReason> abort{AbortReason::kNone};
  std::atomic<int> attempts{0};
  std::atomic<int> last_lane{-1};
  // The running attempt that owns the task (0: none). The worker that ran it and the hang or
  // deadline watchdog race to clear it; the winner decides what the attempt means.
  std::atomic<uint64_t> attempt_token{0};

  // queued -> running; false when someone else ended it first.
  bool TryStart();
  // running -> queued (a failover retry), by the worker that ran it.
  void Requeue() { state.store(TaskState::kQueued, std::memory_order_release); }
  // queued or running -> `final_state`, once. False (and nothing changes) when already final
  // or when `from` does not match.
  bool Finish(TaskState from, TaskState final_state, Status status, std::vector<Tensor> outputs);
  // Cancel from the caller: see TaskHandle::Cancel.
  bool Cancel();

  // The callback given at submit, before the task can end: kept inline (no allocation).
  void SetFirstCallback(TaskCallback callback) { first_callback_ = std::move(callback); }

  void Wait();
  bool WaitFor(std::chrono::nanoseconds timeout);
  void AddCallback(TaskCallback callback);
  Result<std::vector<Tensor>> Get();
  bool done() const { return done_.load(std::memory_order_acquire); }

  std::string device_name;  // written with last_lane, read after done

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiters_ = 0;
  std::atomic<bool> done_{false};
  Status status_;
  std::vector<Tensor> outputs_;
  TaskCallback first_callback_;  // set before the task is shared; run by Finish
  std::vector<TaskCallback> callbacks_;
};

// Steady-clock nanoseconds.
int64_t NowNs();

}  // namespace unihal::sched
