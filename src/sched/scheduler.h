// The multi-tenant priority scheduler (SPEC R5.1-R5.7), one per Runtime. Each device has a
// lane: a five-level aging priority queue served by its own worker threads. Submit checks the
// request (deadline, tenant, ceiling, budget), places the task on the candidate lane with the
// earliest estimated finish (skipping failed devices, penalising throttling or faulty ones and
// those without the memory), and a worker runs it. A device fault moves the task to another
// capable lane, keeping its place in line; the task ends exactly once however it ends.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "sched/lane.h"
#include "sched/task.h"
#include "sched/tenant.h"
#include "unihal/monitor.h"
#include "unihal/task.h"
#include "unihal/tenant.h"

namespace unihal::sched {

struct SchedulerOptions {
  // Aging: a task at level L is never overtaken by work submitted L * aging_step after it.
  std::chrono::nanoseconds aging_step = std::chrono::milliseconds(20);
  // A worker spins this many times on an empty queue before it sleeps.
  int spin_iterations = 4000;
  // Attempts per task over all its devices before it fails.
  int max_attempts = 3;
  // Health sampling, recovery probes and energy windows.
  std::chrono::milliseconds health_interval{100};
  // Consecutive faults after which a lane is marked failed until a probe says healthy.
  int faults_to_fail = 3;
  // R5.6 hangs: an attempt that runs longer than hang_estimates times its estimate (and at
  // least min_hang_timeout) is given up on: the task moves to another device at once and the
  // worker's late result is dropped. Attempts without an estimate are never called hung; any
  // attempt is given up on when its task's deadline passes (the task times out then).
  std::chrono::nanoseconds min_hang_timeout = std::chrono::milliseconds(500);
  int hang_estimates = 20;
  // R2.3: where device health comes from. With a monitor the scheduler reads its samples
  // (and reports run errors and recoveries to it); without one it calls Device::Health()
  // itself every health_interval. Must outlive the scheduler.
  HealthMonitor* health_monitor = nullptr;
  std::vector<TenantConfig> tenants;
};

struct LaneConfig {
  std::string name;
  std::shared_ptr<hal::Device> device;  // null: a lane without a device
  int workers = 1;
};

struct LaneStats {
  int64_t depth = 0;
  int64_t running = 0;
  int64_t completed = 0;
  int64_t faults = 0;
  bool failed = false;
  bool degraded = false;
  bool throttling = false;
};

struct SubmitRequest {
  RunOptions options;
  std::shared_ptr<const TaskRunner> runner;
  std::map<std::string, Tensor> inputs;
  LaneList candidates;       // lanes it may start on (placement picks one)
  LaneList failover;         // lanes it may move to on a device fault, in order of preference
  int64_t memory_bytes = 0;  // charged to the tenant while admitted
  TaskCallback on_complete;  // optional; registered before the task can end
};

// Many tasks that share everything but their inputs (SubmitBatch).
struct SubmitBatchRequest {
  RunOptions options;
  std::shared_ptr<const TaskRunner> runner;
  // One task per entry; `count` tasks without inputs when this is empty.
  std::vector<std::map<std::string, Tensor>> inputs;
  size_t count = 0;
  LaneList candidates;
  LaneList failover;
  int64_t memory_bytes = 0;  // per task
  TaskCallback on_complete;  // copied into every task
};

class Scheduler final : public TaskOwner {
 public:
  Scheduler(std::vector<LaneConfig> lanes, SchedulerOptions options);
  ~Scheduler() override;  // cancels what is queued, waits for what runs
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // A deadline in the past, an unknown tenant or no candidate lane is an error here;
  // over budget is kResourceExhausted under the tenant's reject policy.
  Result<TaskHandle> Submit(SubmitRequest request);
  // The tasks of `request` in one pass: the checks of Submit once (an error fails the whole
  // batch, nothing is submitted), then one lock and one wake-up per lane instead of one per
  // task. Returns a handle per task, in order; a task its tenant's budget rejects (kReject
  // policy) is a handle that has already failed with kResourceExhausted.
  Result<std::vector<TaskHandle>> SubmitBatch(SubmitBatchRequest request);

  int num_lanes() const { return static_cast<int>(lanes_.size()); }
  const std::string& lane_name(int lane) const { return lanes_[static_cast<size_t>(lane)]->name; }
  LaneStats lane_stats(int lane) const;
  Result<TenantStats> tenant_stats(const std::string& tenant) const;
  const SchedulerOptions& options() const { return options_; }

  void OnTaskFinal(TaskRecord& task) override;

 private:
  struct Attempt {
    std::shared_ptr<TaskRecord> task;
    uint64_t token = 0;
    int64_t start_ns = 0;
    int64_t hang_after_ns = 0;  // 0: never called hung
    bool hung = false;          // given up on as hung (not for a deadline)
  };
  struct Worker {
    Scheduler* scheduler = nullptr;
    Lane* lane = nullptr;
    int lane_index = 0;
    uint64_t id = 0;                   // > 0; the high bits of its attempt tokens
    uint64_t attempts_started = 0;     // the low bits
    std::vector<TaskRecord*> running;  // a stack: preemption nests higher work
    // The same stack for the hang watchdog (timer thread). Guarded by attempt_mu.
    std::mutex attempt_mu;
    std::vector<Attempt> attempts;
  };

  struct DeadlineEntry {
    int64_t deadline_ns;
    std::weak_ptr<TaskRecord> task;
    bool operator>(const DeadlineEntry& o) const { return deadline_ns > o.deadline_ns; }
  };

  Result<Tenant*> FindTenant(const std::string& name);
  // What every task of a submit shares: its checked deadline, tenant and level.
  struct Checked {
    int64_t now_ns = 0;
    std::optional<int64_t> deadline_ns;
    Tenant* tenant = nullptr;
    int level = 0;
  };
  Result<Checked> Check(const RunOptions& options, const TaskRunner* runner,
                        const LaneList& candidates, const LaneList& failover);
  std::shared_ptr<TaskRecord> NewTask(const Checked& checked, RunOptions options,
                                      std::shared_ptr<const TaskRunner> runner,
                                      const LaneList& candidates, const LaneList& failover,
                                      int64_t memory_bytes);
  // Placement's cost of running `task` on `lane` (lower is better); nullopt when the lane is
  // failed or every worker of it is stuck in a hung attempt.
  std::optional<int64_t> Score(const TaskRecord& task, int lane, int64_t pending) const;
  // The best lane of `lanes` not in `exclude` (a bit per lane); -1 when all are failed.
  // `pending`: tasks per lane this caller is about to enqueue (a batch), or null.
  int PickLane(const TaskRecord& task, const LaneList& lanes, uint64_t exclude,
               const int64_t* pending = nullptr) const;
  int ChooseLane(const TaskRecord& task, const int64_t* pending = nullptr) const;
  void FailUnplaceable(TaskRecord& task);
  void Place(std::shared_ptr<TaskRecord> task);
  // Adds the task's estimate to the lane's backlog.
  void Charge(int lane, TaskRecord& task);
  void Enqueue(int lane, std::shared_ptr<TaskRecord> task);
  // Enqueues every task of `tasks` on `lane`: one lock, one wake-up.
  void EnqueueMany(int lane, std::vector<std::shared_ptr<TaskRecord>>& tasks);
  void Uncharge(TaskRecord& task);

  // Moves tasks queued on `lane` to lanes where they are expected to finish sooner: off a
  // throttling, failed or hung device (R5.3). Keeps their aging keys.
  void MoveQueuedWork(int lane);

  // scheduler_worker.cc
  void WorkerLoop(Worker& worker);
  // The attempt stack of a worker, read by the hang watchdog.
  uint64_t BeginAttempt(Worker& worker, const std::shared_ptr<TaskRecord>& task);
  // False when the watchdog gave the attempt up (the task has moved on without it).
  bool EndAttempt(Worker& worker, TaskRecord& task, uint64_t token);
  std::shared_ptr<TaskRecord> NextTask(Lane& lane);
  void RunTask(Worker& worker, std::shared_ptr<TaskRecord> task);
  void AfterAttempt(Worker& worker, std::shared_ptr<TaskRecord> task,
                    Result<std::vector<Tensor>> result, int64_t elapsed_ns);
  void NoteFault(Lane& lane);
  void Failover(std::shared_ptr<TaskRecord> task, Status error);
  static Status PreemptionHook(void* worker);

  // scheduler_timer.cc: deadlines, health, recovery probes, energy windows.
  void TimerLoop();
  void WatchDeadline(const std::shared_ptr<TaskRecord>& task);
  void ExpireDeadlines(int64_t now_ns);
  void SampleHealth(int64_t now_ns);
  void ReadHealth(Lane& lane);
  // Gives up hung attempts (SchedulerOptions::min_hang_timeout): fails their tasks over.
  void WatchHangs(int64_t now_ns);
  // Ends a task whose attempt was given up on: timed out, cancelled, or moved elsewhere.
  void AbandonAttempt(int lane, std::shared_ptr<TaskRecord> task, bool hung, int64_t ran_ns);
  int64_t TimerTickNs() const;

  const SchedulerOptions options_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::vector<std::unique_ptr<Worker>> workers_;  // fixed before the threads start
  std::map<std::string, std::unique_ptr<Tenant>> tenants_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> in_flight_{0};

  std::mutex timer_mu_;
  std::condition_variable timer_wake_;
  std::priority_queue<DeadlineEntry, std::vector<DeadlineEntry>, std::greater<>> deadlines_;
  bool timer_stop_ = false;
  std::thread timer_;
};

// True on a scheduler's worker or timer thread (where completion callbacks run).
bool OnSchedulerThread();
void MarkSchedulerThread();  // called by those threads as they start

// Deletes `object` here or, on a scheduler thread, on a new detached thread: a completion
// callback that drops the last reference to what owns a scheduler (a Runtime) would otherwise
// make the scheduler join the very thread it runs on. The use as a shared_ptr deleter:
//   std::shared_ptr<Runtime>(new Runtime(), &DeleteOffSchedulerThreads<Runtime>)
template <typename T>
void DeleteOffSchedulerThreads(T* object) {
  std::unique_ptr<T> owned(object);
  if (!OnSchedulerThread()) return;  // `owned` deletes it here
  std::thread([owned = std::move(owned)]() mutable { owned.reset(); }).detach();
}

}  // namespace unihal::sched
