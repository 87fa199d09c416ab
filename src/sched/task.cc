#include "sched/task.h"

#include <thread>

namespace unihal::sched {
namespace {

// Spins this many times on `done` before a waiter sleeps: most trivial tasks finish within a
// few microseconds, and a futex round trip costs more than that.
constexpr int kWaitSpins = 500;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool TaskRecord::TryStart() {
  TaskState expected = TaskState::kQueued;
  return state.compare_exchange_strong(expected, TaskState::kRunning, std::memory_order_acq_rel);
}

bool TaskRecord::Finish(TaskState from, TaskState final_state, Status status,
                        std::vector<Tensor> outputs) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    TaskState expected = from;
    if (!state.compare_exchange_strong(expected, final_state, std::memory_order_acq_rel)) {
      return false;
    }
    status_ = std::move(status);
    outputs_ = std::move(outputs);
  }
  // Budgets first, so a caller that wakes up can submit again at once; then the callbacks,
  // so when Wait() returns they have run (a callback must not wait for its own task).
  if (owner) owner->OnTaskFinal(*this);
  if (first_callback_) {
    first_callback_(final_state, status_, outputs_);
    first_callback_ = nullptr;  // what it captured is released with it
  }
  bool notify = false;
  while (true) {
    std::vector<TaskCallback> callbacks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (callbacks_.empty()) {
        done_.store(true, std::memory_order_release);
        notify = waiters_ > 0;
        break;
      }
      callbacks.swap(callbacks_);
    }
    for (TaskCallback& callback : callbacks) callback(final_state, status_, outputs_);
  }
  if (notify) cv_.notify_all();
  return true;
}

bool TaskRecord::Cancel() {
  if (done()) return false;
  abort.store(AbortReason::kCancel, std::memory_order_release);
  if (Finish(TaskState::kQueued, TaskState::kCancelled,
             CancelledError("the task was cancelled before it started"), {})) {
    return true;
  }
  // A running task may see the abort and end kCancelled before this line reads its state.
  const TaskState now = state.load(std::memory_order_acquire);
  return !IsFinal(now) || now == TaskState::kCancelled;
}

void TaskRecord::Wait() {
  for (int i = 0; i < kWaitSpins; ++i) {
    if (done()) return;
    // Pause, never yield: a yielding waiter on a busy machine sees its task end a whole time
    // slice of some other thread late.
    CpuRelax();
  }
  std::unique_lock<std::mutex> lock(mu_);
  ++waiters_;
  cv_.wait(lock, [this] { return done(); });
  --waiters_;
}

bool TaskRecord::WaitFor(std::chrono::nanoseconds timeout) {
  if (done()) return true;
  std::unique_lock<std::mutex> lock(mu_);
  ++waiters_;
  bool finished = cv_.wait_for(lock, timeout, [this] { return done(); });
  --waiters_;
  return finished;
}

void TaskRecord::AddCallback(TaskCallback callback) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!done()) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  callback(state.load(std::memory_order_acquire), status_, outputs_);
}

Result<std::vector<Tensor>> TaskRecord::Get() {
  Wait();
  if (!status_.ok()) return status_;
  return outputs_;
}

}  // namespace unihal::sched

namespace unihal {

TaskHandle::TaskHandle(std::shared_ptr<sched::TaskRecord> record) : record_(std::move(record)) {}

TaskState TaskHandle::state() const {
  return record_ ? record_->state.load(std::memory_order_acquire) : TaskState::kFailed;
}
void TaskHandle::Wait() const {
  if (record_) record_->Wait();
}
bool TaskHandle::WaitFor(std::chrono::nanoseconds timeout) const {
  return !record_ || record_->WaitFor(timeout);
}
bool TaskHandle::Cancel() const { return record_ && record_->Cancel(); }
Result<std::vector<Tensor>> TaskHandle::Get() const {
  if (!record_) return FailedPreconditionError("TaskHandle: no task (default-constructed handle)");
  return record_->Get();
}
void TaskHandle::OnComplete(TaskCallback callback) const {
  if (record_) record_->AddCallback(std::move(callback));
}
std::string TaskHandle::device_id() const {
  return record_ && IsFinal(record_->state.load(std::memory_order_acquire)) ? record_->device_name
                                                                            : std::string();
}
int TaskHandle::attempts() const { return record_ ? record_->attempts.load() : 0; }

}  // namespace unihal
