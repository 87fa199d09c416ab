// The scheduler's workers: take the best task of their lane, run it, and decide what its
// result means (success, cancel, deadline, device fault and failover, plain failure). Between
// the ops of a running task, a worker runs waiting higher-priority work of its lane (R5.4).
#include <thread>
#include <vector>

#include "hal/caller_thread_cap.h"
#include "sched/scheduler.h"
#include "unihal/hal/preemption.h"

namespace unihal::sched {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Errors that say the device (not the request) failed: the task may succeed elsewhere.
bool IsDeviceFault(StatusCode code) {
  switch (code) {
    case StatusCode::kUnavailable:
    case StatusCode::kInternal:
    case StatusCode::kDeadlineExceeded:   // a hang the driver gave up on
    case StatusCode::kCancelled:          // a hang the driver released
    case StatusCode::kResourceExhausted:  // device memory
    case StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

std::shared_ptr<TaskRecord> PopLocked(Lane& lane) {
  std::shared_ptr<TaskRecord> task = lane.queue.Pop();
  lane.nonempty_mask.store(lane.queue.nonempty_mask(), std::memory_order_relaxed);
  lane.depth.store(lane.queue.size(), std::memory_order_relaxed);
  return task;
}

// R2.6: a tenant's share of the CPU, for the tasks it runs on the CPU device.
class ScopedCpuShare {
 public:
  explicit ScopedCpuShare(int cores) : active_(cores > 0) {
    if (active_) previous_ = hal::SetCallerThreadCap(cores);
  }
  ~ScopedCpuShare() {
    if (active_) hal::SetCallerThreadCap(previous_);
  }

 private:
  bool active_;
  int previous_ = 0;
};

}  // namespace

namespace {
thread_local bool on_scheduler_thread = false;  // per thread by design: who runs callbacks
}  // namespace

bool OnSchedulerThread() { return on_scheduler_thread; }
void MarkSchedulerThread() { on_scheduler_thread = true; }

void Scheduler::WorkerLoop(Worker& worker) {
  on_scheduler_thread = true;
  worker.running.reserve(kNumPriorities);
  {
    std::lock_guard<std::mutex> lock(worker.attempt_mu);
    worker.attempts.reserve(kNumPriorities);
  }
  hal::SetThreadPreemptionHook(&Scheduler::PreemptionHook, &worker);
  while (std::shared_ptr<TaskRecord> task = NextTask(*worker.lane))
    RunTask(worker, std::move(task));
  hal::SetThreadPreemptionHook(nullptr, nullptr);
}

uint64_t Scheduler::BeginAttempt(Worker& worker, const std::shared_ptr<TaskRecord>& task) {
  const uint64_t token =
      (worker.id << 40) | (++worker.attempts_started & ((uint64_t{1} << 40) - 1));
  task->attempt_token.store(token, std::memory_order_release);
  Attempt attempt;
  attempt.task = task;
  attempt.token = token;
  attempt.start_ns = NowNs();
  if (task->estimate_ns > 0) {
    attempt.hang_after_ns = std::max<int64_t>(options_.min_hang_timeout.count(),
                                              task->estimate_ns * options_.hang_estimates);
  }
  std::lock_guard<std::mutex> lock(worker.attempt_mu);
  worker.attempts.push_back(std::move(attempt));
  return token;
}

bool Scheduler::EndAttempt(Worker& worker, TaskRecord& task, uint64_t token) {
  bool hung = false;
  std::shared_ptr<TaskRecord> keep;  // released outside the lock
  {
    std::lock_guard<std::mutex> lock(worker.attempt_mu);
    hung = worker.attempts.back().hung;
    keep = std::move(worker.attempts.back().task);
    worker.attempts.pop_back();
  }
  uint64_t expected = token;
  if (task.attempt_token.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) {
    return true;
  }
  // The watchdog gave this attempt up and has moved the task on: drop what it made.
  worker.lane->running.fetch_sub(1, std::memory_order_relaxed);
  if (hung) worker.lane->hung_attempts.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

std::shared_ptr<TaskRecord> Scheduler::NextTask(Lane& lane) {
  // Spin a little first: waking a sleeping thread costs more than a trivial task.
  for (int i = 0; i < options_.spin_iterations; ++i) {
    if (lane.nonempty_mask.load(std::memory_order_relaxed) != 0) {
      std::lock_guard<std::mutex> lock(lane.mu);
      if (std::shared_ptr<TaskRecord> task = PopLocked(lane)) return task;
    } else if (stopping_.load(std::memory_order_relaxed)) {
      break;
    }
    if (i % 64 == 63) {
      std::this_thread::yield();  // let runnable work (other lanes, submitters) have the core
    } else {
      CpuRelax();
    }
  }
  std::unique_lock<std::mutex> lock(lane.mu);
  while (true) {
    if (std::shared_ptr<TaskRecord> task = PopLocked(lane)) return task;
    if (stopping_.load()) return nullptr;
    ++lane.sleepers;
    lane.wake.wait(lock);
    --lane.sleepers;
  }
}

void Scheduler::RunTask(Worker& worker, std::shared_ptr<TaskRecord> task) {
  if (!task->TryStart()) return;  // ended while queued; whoever ended it uncharged it
  Lane& lane = *worker.lane;
  lane.running.fetch_add(1, std::memory_order_relaxed);
  task->attempts.fetch_add(1, std::memory_order_relaxed);
  task->last_lane.store(worker.lane_index, std::memory_order_relaxed);
  task->device_name = lane.name;
  if (worker.lane_index < 64) task->tried_lanes |= uint64_t{1} << worker.lane_index;

  const bool expired = task->deadline_ns && NowNs() > *task->deadline_ns;
  if (task->abort.load(std::memory_order_acquire) != AbortReason::kNone || expired) {
    AfterAttempt(worker, std::move(task), CancelledError("not started"), 0);
    return;
  }
  if (lane.failed.load(std::memory_order_relaxed)) {
    AfterAttempt(worker, std::move(task),
                 UnavailableError(lane.name + " is marked failed; the task did not run there"), 0);
    return;
  }
  const int cores = lane.is_cpu ? task->tenant->config().cpu_cores.value_or(0) : 0;
  worker.running.push_back(task.get());
  const uint64_t token = BeginAttempt(worker, task);
  const int64_t start = NowNs();
  Result<std::vector<Tensor>> result = [&] {
    ScopedCpuShare share(cores);
    return task->runner->RunOn(worker.lane_index, *task);
  }();
  const int64_t elapsed = NowNs() - start;
  worker.running.pop_back();
  if (!EndAttempt(worker, *task, token)) return;
  AfterAttempt(worker, std::move(task), std::move(result), elapsed);
}

void Scheduler::AfterAttempt(Worker& worker, std::shared_ptr<TaskRecord> task,
                             Result<std::vector<Tensor>> result, int64_t elapsed_ns) {
  Lane& lane = *worker.lane;
  lane.running.fetch_sub(1, std::memory_order_relaxed);
  Uncharge(*task);
  const double power = lane.power_w.load(std::memory_order_relaxed);
  if (power > 0 && elapsed_ns > 0) task->tenant->ChargeEnergy(power * elapsed_ns * 1e-9, NowNs());

  const AbortReason abort = task->abort.load(std::memory_order_acquire);
  const bool expired = task->deadline_ns && NowNs() > *task->deadline_ns;
  if (abort == AbortReason::kCancel) {
    task->Finish(TaskState::kRunning, TaskState::kCancelled,
                 CancelledError("the task was cancelled while it ran on " + lane.name), {});
  } else if (abort == AbortReason::kDeadline || expired) {
    task->Finish(TaskState::kRunning, TaskState::kTimedOut,
                 DeadlineExceededError("the task's deadline passed while it ran on " + lane.name),
                 {});
  } else if (result.ok()) {
    // Written only after faults: a store per task would bounce the line placement reads.
    if (lane.consecutive_faults.load(std::memory_order_relaxed) != 0) {
      lane.consecutive_faults.store(0, std::memory_order_relaxed);
      if (options_.health_monitor && lane.device) {
        options_.health_monitor->ReportRunSuccess(lane.name);
      }
    }
    if (lane.degraded.load(std::memory_order_relaxed)) {
      lane.degraded.store(false, std::memory_order_relaxed);
    }
    lane.completed.fetch_add(1, std::memory_order_relaxed);
    task->runner->RecordRun(worker.lane_index, elapsed_ns);
    task->Finish(TaskState::kRunning, TaskState::kSucceeded, Status::Ok(), *std::move(result));
  } else if (IsDeviceFault(result.status().code())) {
    if (elapsed_ns > 0) NoteFault(lane);  // 0: not run because the lane was already failed
    Failover(std::move(task), result.status().WithContext("on " + lane.name));
  } else {
    task->Finish(TaskState::kRunning, TaskState::kFailed, result.status(), {});
  }
}

void Scheduler::NoteFault(Lane& lane) {
  if (options_.health_monitor && lane.device) options_.health_monitor->ReportRunError(lane.name);
  lane.faults.fetch_add(1, std::memory_order_relaxed);
  lane.degraded.store(true, std::memory_order_relaxed);
  const int consecutive = lane.consecutive_faults.fetch_add(1) + 1;
  bool failed = consecutive >= options_.faults_to_fail;
  // A fault is news the monitor's last sample may predate (a device lost a moment ago): ask
  // the device itself once, on the fault, not periodically.
  if (!failed && lane.device) failed = lane.device->Health().state == hal::HealthState::kFailed;
  if (failed) {
    lane.failed_at_ns.store(NowNs(), std::memory_order_relaxed);
    lane.failed.store(true);
  }
}

void Scheduler::Failover(std::shared_ptr<TaskRecord> task, Status error) {
  const int attempts = task->attempts.load();
  std::string why;
  int next = -1;
  if (!task->options.fallback_allowed) {
    why = "; not retried elsewhere: RunOptions::fallback_allowed is false";
  } else if (attempts >= options_.max_attempts) {
    why = "; gave up after " + std::to_string(attempts) + " attempts";
  } else {
    // Another device first; the same ones again (once healthy) only when there is no other.
    next = PickLane(*task, task->failover, task->tried_lanes);
    if (next < 0) next = PickLane(*task, task->candidates, task->tried_lanes);
    if (next < 0) next = PickLane(*task, task->failover, 0);
    if (next < 0) next = PickLane(*task, task->candidates, 0);
    if (next < 0) why = "; no other capable device is healthy";
  }
  if (next < 0) {
    task->Finish(TaskState::kRunning, TaskState::kFailed, std::move(error).WithContext(why), {});
    return;
  }
  task->Requeue();  // keeps its aging key: it does not lose its place in line
  Enqueue(next, std::move(task));
}

Status Scheduler::PreemptionHook(void* context) {
  Worker& worker = *static_cast<Worker*>(context);
  if (worker.running.empty()) return Status::Ok();
  TaskRecord& current = *worker.running.back();
  switch (current.abort.load(std::memory_order_relaxed)) {
    case AbortReason::kCancel:
      return CancelledError("the task was cancelled");
    case AbortReason::kDeadline:
      return DeadlineExceededError("the task's deadline passed");
    case AbortReason::kNone:
      break;
  }
  if (current.deadline_ns && NowNs() > *current.deadline_ns) {
    return DeadlineExceededError("the task's deadline passed");
  }
  Lane& lane = *worker.lane;
  const uint32_t higher = (1u << current.level) - 1;
  while ((lane.nonempty_mask.load(std::memory_order_relaxed) & higher) != 0) {
    std::shared_ptr<TaskRecord> next;
    {
      std::lock_guard<std::mutex> lock(lane.mu);
      next = lane.queue.PopHigherThan(current.level, current.key_ns);
      lane.nonempty_mask.store(lane.queue.nonempty_mask(), std::memory_order_relaxed);
      lane.depth.store(lane.queue.size(), std::memory_order_relaxed);
    }
    if (!next) break;
    worker.scheduler->RunTask(worker, std::move(next));
  }
  return Status::Ok();
}

}  // namespace unihal::sched
