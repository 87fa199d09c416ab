// The scheduler's timer thread: ends tasks whose deadline passed (queued ones at once, running
// ones at their next op boundary), samples each device's health for placement, probes failed
// devices for recovery, and rolls tenants' energy windows.
#include <vector>

#include "sched/scheduler.h"

namespace unihal::sched {

void Scheduler::WatchDeadline(const std::shared_ptr<TaskRecord>& task) {
  bool earliest = false;
  {
    std::lock_guard<std::mutex> lock(timer_mu_);
    earliest = deadlines_.empty() || *task->deadline_ns < deadlines_.top().deadline_ns;
    deadlines_.push({*task->deadline_ns, task});
  }
  if (earliest) timer_wake_.notify_one();
}

void Scheduler::ExpireDeadlines(int64_t now_ns) {
  std::vector<std::shared_ptr<TaskRecord>> expired;
  {
    std::lock_guard<std::mutex> lock(timer_mu_);
    while (!deadlines_.empty() && deadlines_.top().deadline_ns <= now_ns) {
      if (std::shared_ptr<TaskRecord> task = deadlines_.top().task.lock()) {
        expired.push_back(std::move(task));
      }
      deadlines_.pop();
    }
  }
  for (auto& task : expired) {
    if (task->done()) continue;
    AbortReason none = AbortReason::kNone;
    task->abort.compare_exchange_strong(none, AbortReason::kDeadline);
    // Queued (or waiting for its tenant's budget): ends now. Running: at its next op boundary.
    task->Finish(TaskState::kQueued, TaskState::kTimedOut,
                 DeadlineExceededError("the task's deadline passed before it ran"), {});
  }
}

void Scheduler::SampleHealth(int64_t now_ns) {
  for (auto& lane : lanes_) {
    if (!lane->device) continue;
    const hal::DeviceHealth health = lane->device->Health();
    lane->throttling.store(health.throttling.value_or(false), std::memory_order_relaxed);
    lane->power_w.store(health.power_w.value_or(0.0), std::memory_order_relaxed);
    lane->memory_free_bytes.store(health.memory_free_bytes.value_or(-1), std::memory_order_relaxed);
    if (health.state == hal::HealthState::kFailed) {
      lane->failed.store(true);
    } else if (lane->failed.load()) {
      // The recovery probe: the device answers and does not call itself failed.
      lane->failed.store(false);
      lane->consecutive_faults.store(0);
    }
    if (health.state == hal::HealthState::kDegraded) lane->degraded.store(true);
  }
  for (auto& [name, tenant] : tenants_) {
    for (auto& task : tenant->Tick(now_ns)) Place(std::move(task));
  }
}

void Scheduler::TimerLoop() {
  const int64_t interval = std::chrono::nanoseconds(options_.health_interval).count();
  int64_t next_health = NowNs();
  std::unique_lock<std::mutex> lock(timer_mu_);
  while (!timer_stop_) {
    int64_t now = NowNs();
    if (now >= next_health) {
      lock.unlock();
      SampleHealth(now);
      lock.lock();
      next_health = now + interval;
    }
    lock.unlock();
    ExpireDeadlines(NowNs());
    lock.lock();
    int64_t wake_at = next_health;
    if (!deadlines_.empty()) wake_at = std::min(wake_at, deadlines_.top().deadline_ns);
    if (timer_stop_) break;
    timer_wake_.wait_until(
        lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(wake_at)));
  }
}

}  // namespace unihal::sched
