// The scheduler's timer thread: ends tasks whose deadline passed (queued ones at once, running
// ones by giving their attempt up), gives up hung attempts and fails their tasks over, reads
// each device's health for placement (from the HealthMonitor when there is one), moves queued
// work off throttling, failed or hung devices, probes failed devices for recovery, and rolls
// tenants' energy windows.
#include <algorithm>
#include <vector>

#include "sched/scheduler.h"

namespace unihal::sched {
namespace {

int64_t SampledNs(const DeviceHealthStatus& status) {
  if (!status.latest) return 0;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(status.latest->at.time_since_epoch())
      .count();
}

}  // namespace

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
    // Queued (or waiting for its tenant's budget): ends now.
    if (task->Finish(TaskState::kQueued, TaskState::kTimedOut,
                     DeadlineExceededError("the task's deadline passed before it ran"), {})) {
      continue;
    }
    // Running: its attempt is given up (a hung device does not hold the answer back); the
    // worker stops at its next op boundary and drops what it made.
    uint64_t token = task->attempt_token.load(std::memory_order_acquire);
    if (token != 0 && task->attempt_token.compare_exchange_strong(token, 0)) {
      const int lane = task->last_lane.load();
      AbandonAttempt(lane, std::move(task), /*hung=*/false, 0);
    }
  }
}

void Scheduler::WatchHangs(int64_t now_ns) {
  struct Hung {
    int lane;
    std::shared_ptr<TaskRecord> task;
    int64_t ran_ns;
  };
  std::vector<Hung> hung;
  for (auto& worker : workers_) {
    std::lock_guard<std::mutex> lock(worker->attempt_mu);
    if (worker->attempts.empty()) continue;
    // Only the innermost attempt runs; the ones below it wait for it (preemption nests
    // higher work on the same thread), so only its time says "hung". When it is, the ones
    // below are stuck behind it and move on too.
    const Attempt& innermost = worker->attempts.back();
    const int64_t ran = now_ns - innermost.start_ns;
    if (innermost.hung || innermost.hang_after_ns == 0 || ran < innermost.hang_after_ns) continue;
    for (Attempt& attempt : worker->attempts) {
      uint64_t token = attempt.token;
      if (attempt.hung || !attempt.task->attempt_token.compare_exchange_strong(token, 0)) {
        continue;  // already given up, or ended (a deadline)
      }
      attempt.hung = true;
      worker->lane->hung_attempts.fetch_add(1, std::memory_order_relaxed);
      hung.push_back({worker->lane_index, attempt.task, now_ns - attempt.start_ns});
    }
  }
  for (Hung& h : hung) {
    AbandonAttempt(h.lane, std::move(h.task), /*hung=*/true, h.ran_ns);
    MoveQueuedWork(h.lane);  // its worker is stuck: what waits behind it goes elsewhere
  }
}

void Scheduler::AbandonAttempt(int index, std::shared_ptr<TaskRecord> task, bool hung,
                               int64_t ran_ns) {
  Lane& lane = *lanes_[static_cast<size_t>(index)];
  Uncharge(*task);
  if (hung) NoteFault(lane);
  const AbortReason abort = task->abort.load(std::memory_order_acquire);
  const bool expired = task->deadline_ns && NowNs() > *task->deadline_ns;
  if (abort == AbortReason::kDeadline || expired) {
    task->Finish(TaskState::kRunning, TaskState::kTimedOut,
                 DeadlineExceededError("the task's deadline passed while it ran on " + lane.name +
                                       " (the attempt was given up on)"),
                 {});
  } else if (abort == AbortReason::kCancel) {
    task->Finish(TaskState::kRunning, TaskState::kCancelled,
                 CancelledError("the task was cancelled while it ran on " + lane.name), {});
  } else {
    Failover(std::move(task),
             UnavailableError(lane.name + " hung: the attempt ran " +
                              std::to_string(ran_ns / 1'000'000) +
                              " ms, over its limit (SchedulerOptions::hang_estimates times its "
                              "estimate, at least min_hang_timeout)"));
  }
}

void Scheduler::ReadHealth(Lane& lane) {
  hal::DeviceHealth health;
  bool failed_by_device = false;
  bool degraded = false;
  int64_t sampled_ns = NowNs();
  if (HealthMonitor* monitor = options_.health_monitor) {
    std::optional<DeviceHealthStatus> status = monitor->Status(lane.name);
    // The recovery probe of a failed lane: a fresh sampling round by the monitor when its
    // latest sample predates the failure (the monitor's own rounds may be far apart).
    const int64_t failed_at = lane.failed_at_ns.load(std::memory_order_relaxed);
    if (lane.failed.load() && (!status || SampledNs(*status) <= failed_at)) {
      monitor->SampleNow();
      status = monitor->Status(lane.name);
    }
    if (!status || !status->latest) return;  // not sampled yet: nothing new to go by
    health = status->latest->health;
    sampled_ns = SampledNs(*status);
    // Failed by the device's own word. The monitor's derived "failed" (errors in several
    // rounds in a row) is not followed: a device that fails some runs is still worth using,
    // each fault fails over, and the scheduler's own three-in-a-row rule stops a bad one.
    failed_by_device = health.state == hal::HealthState::kFailed;
    degraded =
        status->state != hal::HealthState::kHealthy && status->state != hal::HealthState::kUnknown;
  } else {
    health = lane.device->Health();
    failed_by_device = health.state == hal::HealthState::kFailed;
    degraded = health.state == hal::HealthState::kDegraded;
  }
  lane.throttling.store(health.throttling.value_or(false), std::memory_order_relaxed);
  lane.power_w.store(health.power_w.value_or(0.0), std::memory_order_relaxed);
  lane.memory_free_bytes.store(health.memory_free_bytes.value_or(-1), std::memory_order_relaxed);
  if (failed_by_device) {
    lane.failed_at_ns.store(sampled_ns, std::memory_order_relaxed);
    lane.failed.store(true);
  } else if (lane.failed.load() && sampled_ns > lane.failed_at_ns.load()) {
    // The recovery probe: a sample taken after the lane failed does not call it failed; the
    // next task tries it (three faults in a row fail it again).
    lane.failed.store(false);
    lane.consecutive_faults.store(0);
  }
  if (degraded) lane.degraded.store(true);
}

void Scheduler::SampleHealth(int64_t now_ns) {
  for (size_t i = 0; i < lanes_.size(); ++i) {
    Lane& lane = *lanes_[i];
    if (lane.device) ReadHealth(lane);
    const bool avoid = lane.throttling.load() || lane.failed.load() ||
                       lane.hung_attempts.load() >= lane.num_workers;
    if (avoid && lane.depth.load(std::memory_order_relaxed) > 0) {
      MoveQueuedWork(static_cast<int>(i));
    }
  }
  for (auto& [name, tenant] : tenants_) {
    for (auto& task : tenant->Tick(now_ns)) Place(std::move(task));
  }
}

int64_t Scheduler::TimerTickNs() const {
  const int64_t health = std::chrono::nanoseconds(options_.health_interval).count();
  const int64_t hang = std::max<int64_t>(1'000'000, options_.min_hang_timeout.count() / 2);
  return std::max<int64_t>(1'000'000, std::min(health, hang));
}

void Scheduler::TimerLoop() {
  MarkSchedulerThread();
  const int64_t health_interval = std::chrono::nanoseconds(options_.health_interval).count();
  const int64_t tick = TimerTickNs();
  int64_t next_health = NowNs();
  int64_t next_tick = next_health;
  std::unique_lock<std::mutex> lock(timer_mu_);
  while (!timer_stop_) {
    const int64_t now = NowNs();
    lock.unlock();
    if (now >= next_tick) {
      WatchHangs(now);
      next_tick = now + tick;
    }
    if (now >= next_health) {
      SampleHealth(now);
      next_health = now + health_interval;
    }
    ExpireDeadlines(NowNs());
    lock.lock();
    int64_t wake_at = std::min(next_health, next_tick);
    if (!deadlines_.empty()) wake_at = std::min(wake_at, deadlines_.top().deadline_ns);
    if (timer_stop_) break;
    timer_wake_.wait_until(
        lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(wake_at)));
  }
}

}  // namespace unihal::sched
