#include "sched/scheduler.h"

#include <limits>
#include <thread>

namespace unihal::sched {
namespace {

// What a queued or running task costs in placement beyond its estimate, so queue depth still
// separates lanes when no estimate is known yet.
constexpr int64_t kPerTaskNs = 1000;

bool InMask(uint64_t mask, int lane) { return lane < 64 && ((mask >> lane) & 1u) != 0; }

}  // namespace

Scheduler::Scheduler(std::vector<LaneConfig> lanes, SchedulerOptions options)
    : options_(std::move(options)) {
  for (LaneConfig& config : lanes) {
    auto lane = std::make_unique<Lane>();
    lane->name = std::move(config.name);
    lane->device = std::move(config.device);
    lane->is_cpu = lane->device && lane->device->info().kind == hal::DeviceKind::kCpu;
    lane->num_workers = std::max(1, config.workers);
    lanes_.push_back(std::move(lane));
  }
  tenants_[""] = std::make_unique<Tenant>(TenantConfig{});
  for (const TenantConfig& config : options_.tenants) {
    tenants_[config.name] = std::make_unique<Tenant>(config);
  }
  for (size_t i = 0; i < lanes_.size(); ++i) {
    for (int w = 0; w < lanes_[i]->num_workers; ++w) {
      lanes_[i]->workers.emplace_back([this, i] { WorkerLoop(static_cast<int>(i)); });
    }
  }
  timer_ = std::thread([this] { TimerLoop(); });
}

Scheduler::~Scheduler() {
  stopping_.store(true);
  const Status shutdown = CancelledError("the runtime shut down before the task ran");
  for (auto& lane : lanes_) {
    std::deque<std::shared_ptr<TaskRecord>> queued;
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      queued = lane->queue.TakeAll();
      lane->nonempty_mask.store(0);
      lane->depth.store(0);
    }
    lane->wake.notify_all();
    for (auto& task : queued) task->Finish(TaskState::kQueued, TaskState::kCancelled, shutdown, {});
  }
  for (auto& [name, tenant] : tenants_) {
    for (auto& task : tenant->TakeDeferred()) {
      task->Finish(TaskState::kQueued, TaskState::kCancelled, shutdown, {});
    }
  }
  for (auto& lane : lanes_) {
    for (std::thread& worker : lane->workers) worker.join();
  }
  {
    std::lock_guard<std::mutex> lock(timer_mu_);
    timer_stop_ = true;
  }
  timer_wake_.notify_all();
  timer_.join();
  // A caller's Cancel may still be finishing a task it won.
  while (in_flight_.load() > 0) std::this_thread::yield();
}

Result<Tenant*> Scheduler::FindTenant(const std::string& name) {
  auto it = tenants_.find(name);
  if (it != tenants_.end()) return it->second.get();
  std::string known;
  for (const auto& [n, t] : tenants_) {
    if (!n.empty()) known += (known.empty() ? "" : ", ") + n;
  }
  return NotFoundError("unknown tenant '" + name +
                       "'; known tenants: " + (known.empty() ? std::string("none") : known) +
                       " (configure it in RuntimeOptions::tenants, or leave RunOptions::tenant "
                       "empty for the default tenant)");
}

Result<TaskHandle> Scheduler::Submit(SubmitRequest request) {
  if (stopping_.load(std::memory_order_relaxed)) {
    return UnavailableError("the scheduler is shutting down; the task was not submitted");
  }
  if (!request.runner || request.candidates.empty()) {
    return InvalidArgumentError("a task needs something to run and at least one device lane");
  }
  for (int lane : request.candidates) {
    if (lane < 0 || lane >= num_lanes())
      return InvalidArgumentError("no lane " + std::to_string(lane));
  }
  const int64_t now = NowNs();
  std::optional<int64_t> deadline;
  if (request.options.deadline) {
    deadline = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   request.options.deadline->time_since_epoch())
                   .count();
    if (*deadline <= now) {
      return InvalidArgumentError("the deadline is " + std::to_string((now - *deadline) / 1000) +
                                  " us in the past; give a deadline after now (steady_clock)");
    }
  }
  UH_ASSIGN_OR_RETURN(Tenant * tenant, FindTenant(request.options.tenant));
  UH_ASSIGN_OR_RETURN(int level, tenant->ApplyCeiling(request.options.priority));

  auto task = std::make_shared<TaskRecord>();
  task->options = std::move(request.options);
  task->level = level;
  task->submit_ns = now;
  task->key_ns = now + level * options_.aging_step.count();
  task->deadline_ns = deadline;
  task->runner = std::move(request.runner);
  task->inputs = std::move(request.inputs);
  task->memory_bytes = request.memory_bytes;
  task->candidates = std::move(request.candidates);
  task->failover = std::move(request.failover);
  task->tenant = tenant;
  task->owner = this;
  if (request.on_complete) task->AddCallback(std::move(request.on_complete));

  in_flight_.fetch_add(1);
  Result<bool> admitted = tenant->Admit(task, now);
  if (!admitted.ok()) {
    in_flight_.fetch_sub(1);
    return admitted.status();
  }
  if (deadline) WatchDeadline(task);
  if (*admitted) Place(task);
  return TaskHandle(std::move(task));
}

int Scheduler::PickLane(const TaskRecord& task, const std::vector<int>& lanes,
                        uint64_t exclude) const {
  int best = -1;
  int64_t best_score = std::numeric_limits<int64_t>::max();
  for (int index : lanes) {
    if (InMask(exclude, index)) continue;
    const Lane& lane = *lanes_[static_cast<size_t>(index)];
    if (lane.failed.load(std::memory_order_relaxed)) continue;
    if (lanes.size() == 1) return index;
    const int64_t workers = lane.num_workers;
    const int64_t tasks =
        lane.depth.load(std::memory_order_relaxed) + lane.running.load(std::memory_order_relaxed);
    int64_t score =
        (lane.backlog_ns.load(std::memory_order_relaxed) + tasks * kPerTaskNs) / workers +
        task.runner->EstimateNs(index);
    if (lane.throttling.load(std::memory_order_relaxed)) score *= 2;
    if (lane.degraded.load(std::memory_order_relaxed)) score += score / 2 + kPerTaskNs;
    const int64_t free_bytes = lane.memory_free_bytes.load(std::memory_order_relaxed);
    if (free_bytes >= 0 && task.memory_bytes > free_bytes) score += int64_t{1} << 40;
    if (score < best_score) {
      best = index;
      best_score = score;
    }
  }
  return best;
}

void Scheduler::Place(std::shared_ptr<TaskRecord> task) {
  int lane = PickLane(*task, task->candidates, 0);
  if (lane < 0 && task->options.fallback_allowed) lane = PickLane(*task, task->failover, 0);
  if (lane < 0) {
    std::string names;
    for (int i : task->candidates) names += (names.empty() ? "" : ", ") + lane_name(i);
    task->Finish(TaskState::kQueued, TaskState::kFailed,
                 UnavailableError("every device that may run the task (" + names +
                                  ") is marked failed; they are probed for recovery every " +
                                  std::to_string(options_.health_interval.count()) + " ms"),
                 {});
    return;
  }
  Enqueue(lane, std::move(task));
}

void Scheduler::Enqueue(int index, std::shared_ptr<TaskRecord> task) {
  Lane& lane = *lanes_[static_cast<size_t>(index)];
  task->estimate_ns = task->runner->EstimateNs(index);
  lane.backlog_ns.fetch_add(task->estimate_ns, std::memory_order_relaxed);
  task->charged_lane.store(index);
  // A task that ended meanwhile (cancelled) may have missed the charge: take it back.
  if (IsFinal(task->state.load())) Uncharge(*task);
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    if (!stopping_.load(std::memory_order_relaxed)) {
      lane.queue.Push(task);
      lane.nonempty_mask.store(lane.queue.nonempty_mask(), std::memory_order_relaxed);
      lane.depth.store(lane.queue.size(), std::memory_order_relaxed);
      wake = lane.sleepers > 0;
      task = nullptr;
    }
  }
  if (wake) lane.wake.notify_one();
  if (task) {
    task->Finish(TaskState::kQueued, TaskState::kCancelled,
                 CancelledError("the runtime shut down before the task ran"), {});
  }
}

void Scheduler::Uncharge(TaskRecord& task) {
  const int lane = task.charged_lane.exchange(-1);
  if (lane < 0) return;
  lanes_[static_cast<size_t>(lane)]->backlog_ns.fetch_sub(task.estimate_ns,
                                                          std::memory_order_relaxed);
}

void Scheduler::OnTaskFinal(TaskRecord& task) {
  Uncharge(task);
  std::vector<std::shared_ptr<TaskRecord>> admitted = task.tenant->Release(task, NowNs());
  for (auto& next : admitted) Place(std::move(next));
  in_flight_.fetch_sub(1);  // last: the scheduler may be destroyed after this
}

LaneStats Scheduler::lane_stats(int index) const {
  const Lane& lane = *lanes_[static_cast<size_t>(index)];
  LaneStats s;
  s.depth = lane.depth.load();
  s.running = lane.running.load();
  s.completed = lane.completed.load();
  s.faults = lane.faults.load();
  s.failed = lane.failed.load();
  s.degraded = lane.degraded.load();
  return s;
}

Result<TenantStats> Scheduler::tenant_stats(const std::string& name) const {
  auto it = tenants_.find(name);
  if (it == tenants_.end()) return NotFoundError("unknown tenant '" + name + "'");
  return it->second->stats();
}

}  // namespace unihal::sched
