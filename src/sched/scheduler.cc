#include "sched/scheduler.h"

#include <limits>
#include <thread>

#include "sched/task_pool.h"

namespace unihal::sched {
namespace {

// What a queued or running task costs in placement beyond its estimate, so queue depth still
// separates lanes when no estimate is known yet.
constexpr int64_t kPerTaskNs = 1000;

bool InMask(uint64_t mask, int lane) { return lane < 64 && ((mask >> lane) & 1u) != 0; }

bool AllValid(const LaneList& lanes, int num_lanes) {
  for (int lane : lanes) {
    if (lane >= num_lanes) return false;
  }
  return true;
}

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
      auto worker = std::make_unique<Worker>();
      worker->scheduler = this;
      worker->lane = lanes_[i].get();
      worker->lane_index = static_cast<int>(i);
      worker->id = workers_.size() + 1;
      workers_.push_back(std::move(worker));
    }
  }
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    w->lane->workers.emplace_back([this, w] { WorkerLoop(*w); });
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

Result<Scheduler::Checked> Scheduler::Check(const RunOptions& options, const TaskRunner* runner,
                                            const LaneList& candidates, const LaneList& failover) {
  if (stopping_.load(std::memory_order_relaxed)) {
    return UnavailableError("the scheduler is shutting down; the task was not submitted");
  }
  if (!runner || candidates.empty()) {
    return InvalidArgumentError("a task needs something to run and at least one device lane");
  }
  for (int lane : candidates) {
    if (lane >= num_lanes() || !AllValid(failover, num_lanes())) {
      return InvalidArgumentError("a task names a lane the scheduler does not have (it has " +
                                  std::to_string(num_lanes()) + ")");
    }
  }
  Checked checked;
  checked.now_ns = NowNs();
  if (options.deadline) {
    checked.deadline_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(options.deadline->time_since_epoch())
            .count();
    if (*checked.deadline_ns <= checked.now_ns) {
      return InvalidArgumentError("the deadline is " +
                                  std::to_string((checked.now_ns - *checked.deadline_ns) / 1000) +
                                  " us in the past; give a deadline after now (steady_clock)");
    }
  }
  UH_ASSIGN_OR_RETURN(checked.tenant, FindTenant(options.tenant));
  UH_ASSIGN_OR_RETURN(checked.level, checked.tenant->ApplyCeiling(options.priority));
  return checked;
}

std::shared_ptr<TaskRecord> Scheduler::NewTask(const Checked& checked, RunOptions options,
                                               std::shared_ptr<const TaskRunner> runner,
                                               const LaneList& candidates, const LaneList& failover,
                                               int64_t memory_bytes) {
  auto task = std::allocate_shared<TaskRecord>(TaskBlockAllocator<TaskRecord>());
  task->options = std::move(options);
  task->level = checked.level;
  task->submit_ns = checked.now_ns;
  task->key_ns = checked.now_ns + checked.level * options_.aging_step.count();
  task->deadline_ns = checked.deadline_ns;
  task->runner = std::move(runner);
  task->memory_bytes = memory_bytes;
  task->candidates = candidates;
  task->failover = failover;
  task->tenant = checked.tenant;
  task->owner = this;
  return task;
}

Result<TaskHandle> Scheduler::Submit(SubmitRequest request) {
  UH_ASSIGN_OR_RETURN(Checked checked, Check(request.options, request.runner.get(),
                                             request.candidates, request.failover));
  std::shared_ptr<TaskRecord> task =
      NewTask(checked, std::move(request.options), std::move(request.runner), request.candidates,
              request.failover, request.memory_bytes);
  task->inputs = std::move(request.inputs);
  if (request.on_complete) task->SetFirstCallback(std::move(request.on_complete));

  in_flight_.fetch_add(1);
  Result<bool> admitted = checked.tenant->Admit(task, checked.now_ns);
  if (!admitted.ok()) {
    in_flight_.fetch_sub(1);
    return admitted.status();
  }
  if (checked.deadline_ns) WatchDeadline(task);
  if (*admitted) Place(task);
  return TaskHandle(std::move(task));
}

Result<std::vector<TaskHandle>> Scheduler::SubmitBatch(SubmitBatchRequest request) {
  UH_ASSIGN_OR_RETURN(Checked checked, Check(request.options, request.runner.get(),
                                             request.candidates, request.failover));
  const size_t n = request.inputs.empty() ? request.count : request.inputs.size();
  std::vector<TaskHandle> handles;
  handles.reserve(n);
  // Per lane, the tasks placed there by this batch, enqueued together at the end.
  std::vector<std::vector<std::shared_ptr<TaskRecord>>> by_lane(lanes_.size());
  std::vector<int64_t> pending(lanes_.size(), 0);
  in_flight_.fetch_add(static_cast<int64_t>(n));
  for (size_t i = 0; i < n; ++i) {
    std::shared_ptr<TaskRecord> task =
        NewTask(checked, request.options, request.runner, request.candidates, request.failover,
                request.memory_bytes);
    if (!request.inputs.empty()) task->inputs = std::move(request.inputs[i]);
    if (request.on_complete) task->SetFirstCallback(request.on_complete);
    Result<bool> admitted = checked.tenant->Admit(task, checked.now_ns);
    if (!admitted.ok()) {  // a handle that has failed, so the caller sees every task's end
      task->Finish(TaskState::kQueued, TaskState::kFailed, admitted.status(), {});
    } else {
      if (checked.deadline_ns) WatchDeadline(task);
      if (*admitted) {
        const int lane = ChooseLane(*task, pending.data());
        if (lane < 0) {
          FailUnplaceable(*task);
        } else {
          ++pending[static_cast<size_t>(lane)];
          by_lane[static_cast<size_t>(lane)].push_back(task);
        }
      }
    }
    handles.emplace_back(std::move(task));
  }
  for (size_t lane = 0; lane < by_lane.size(); ++lane) {
    if (!by_lane[lane].empty()) EnqueueMany(static_cast<int>(lane), by_lane[lane]);
  }
  return handles;
}

std::optional<int64_t> Scheduler::Score(const TaskRecord& task, int index, int64_t pending) const {
  const Lane& lane = *lanes_[static_cast<size_t>(index)];
  if (lane.failed.load(std::memory_order_relaxed)) return std::nullopt;
  if (lane.hung_attempts.load(std::memory_order_relaxed) >= lane.num_workers) return std::nullopt;
  const int64_t workers = lane.num_workers;
  const int64_t estimate = task.runner->EstimateNs(index);
  const int64_t tasks = lane.depth.load(std::memory_order_relaxed) +
                        lane.running.load(std::memory_order_relaxed) + pending;
  int64_t score =
      (lane.backlog_ns.load(std::memory_order_relaxed) + pending * estimate + tasks * kPerTaskNs) /
          workers +
      estimate;
  if (lane.throttling.load(std::memory_order_relaxed)) score *= 2;
  if (lane.degraded.load(std::memory_order_relaxed)) score += score / 2 + kPerTaskNs;
  const int64_t free_bytes = lane.memory_free_bytes.load(std::memory_order_relaxed);
  if (free_bytes >= 0 && task.memory_bytes > free_bytes) score += int64_t{1} << 40;
  return score;
}

int Scheduler::PickLane(const TaskRecord& task, const LaneList& lanes, uint64_t exclude,
                        const int64_t* pending) const {
  int best = -1;
  int64_t best_score = std::numeric_limits<int64_t>::max();
  for (int index : lanes) {
    if (InMask(exclude, index)) continue;
    if (lanes.size() == 1) {  // nothing to compare: only whether it may take work
      const Lane& lane = *lanes_[static_cast<size_t>(index)];
      const bool usable = !lane.failed.load(std::memory_order_relaxed) &&
                          lane.hung_attempts.load(std::memory_order_relaxed) < lane.num_workers;
      return usable ? index : -1;
    }
    const std::optional<int64_t> score = Score(task, index, pending ? pending[index] : 0);
    if (score && *score < best_score) {
      best = index;
      best_score = *score;
    }
  }
  return best;
}

void Scheduler::MoveQueuedWork(int from) {
  Lane& lane = *lanes_[static_cast<size_t>(from)];
  const uint64_t self = from < 64 ? uint64_t{1} << from : 0;
  std::vector<int64_t> pending(lanes_.size(), 0);
  std::vector<std::pair<int, std::shared_ptr<TaskRecord>>> moves;
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    if (lane.queue.empty()) return;
    for (std::shared_ptr<TaskRecord>& task : lane.queue.TakeAll()) {
      if (task->state.load(std::memory_order_acquire) != TaskState::kQueued) continue;
      int to = PickLane(*task, task->candidates, self, pending.data());
      if (to < 0 && task->options.fallback_allowed) {
        to = PickLane(*task, task->failover, self, pending.data());
      }
      // Stays unless the other lane is expected to finish it sooner than this one.
      const std::optional<int64_t> here = Score(*task, from, 0);
      const std::optional<int64_t> there =
          to < 0 ? std::nullopt : Score(*task, to, pending[static_cast<size_t>(to)]);
      if (there && (!here || *there < *here)) {
        ++pending[static_cast<size_t>(to)];
        moves.emplace_back(to, std::move(task));
      } else {
        lane.queue.Push(std::move(task));  // in the order taken: FIFO per level is kept
      }
    }
    lane.nonempty_mask.store(lane.queue.nonempty_mask(), std::memory_order_relaxed);
    lane.depth.store(lane.queue.size(), std::memory_order_relaxed);
  }
  for (auto& [to, task] : moves) {
    Uncharge(*task);
    Enqueue(to, std::move(task));
  }
}

int Scheduler::ChooseLane(const TaskRecord& task, const int64_t* pending) const {
  int lane = PickLane(task, task.candidates, 0, pending);
  if (lane < 0 && task.options.fallback_allowed) lane = PickLane(task, task.failover, 0, pending);
  return lane;
}

void Scheduler::FailUnplaceable(TaskRecord& task) {
  std::string names;
  for (int i : task.candidates) names += (names.empty() ? "" : ", ") + lane_name(i);
  task.Finish(TaskState::kQueued, TaskState::kFailed,
              UnavailableError("every device that may run the task (" + names +
                               ") is marked failed or hung; they are probed for recovery every " +
                               std::to_string(options_.health_interval.count()) + " ms"),
              {});
}

void Scheduler::Place(std::shared_ptr<TaskRecord> task) {
  const int lane = ChooseLane(*task);
  if (lane < 0) {
    FailUnplaceable(*task);
    return;
  }
  Enqueue(lane, std::move(task));
}

void Scheduler::Charge(int index, TaskRecord& task) {
  task.estimate_ns = task.runner->EstimateNs(index);
  if (task.estimate_ns != 0) {
    lanes_[static_cast<size_t>(index)]->backlog_ns.fetch_add(task.estimate_ns,
                                                             std::memory_order_relaxed);
  }
  task.charged_lane.store(index, std::memory_order_relaxed);
  // A task that ended meanwhile (cancelled) may have missed the charge: take it back.
  if (IsFinal(task.state.load())) Uncharge(task);
}

void Scheduler::Enqueue(int index, std::shared_ptr<TaskRecord> task) {
  Lane& lane = *lanes_[static_cast<size_t>(index)];
  Charge(index, *task);
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    if (!stopping_.load(std::memory_order_relaxed)) {
      lane.queue.Push(std::move(task));
      lane.nonempty_mask.store(lane.queue.nonempty_mask(), std::memory_order_relaxed);
      lane.depth.store(lane.queue.size(), std::memory_order_relaxed);
      wake = lane.sleepers > 0;
    }
  }
  if (wake) lane.wake.notify_one();
  if (task) {  // not queued: shutting down
    task->Finish(TaskState::kQueued, TaskState::kCancelled,
                 CancelledError("the runtime shut down before the task ran"), {});
  }
}

void Scheduler::EnqueueMany(int index, std::vector<std::shared_ptr<TaskRecord>>& tasks) {
  Lane& lane = *lanes_[static_cast<size_t>(index)];
  for (auto& task : tasks) Charge(index, *task);
  int64_t wake = 0;
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    if (!stopping_.load(std::memory_order_relaxed)) {
      for (auto& task : tasks) lane.queue.Push(std::move(task));
      lane.nonempty_mask.store(lane.queue.nonempty_mask(), std::memory_order_relaxed);
      lane.depth.store(lane.queue.size(), std::memory_order_relaxed);
      wake = std::min<int64_t>(lane.sleepers, static_cast<int64_t>(tasks.size()));
      queued = true;
    }
  }
  if (wake == 1) lane.wake.notify_one();
  if (wake > 1) lane.wake.notify_all();
  if (!queued) {
    for (auto& task : tasks) {
      task->Finish(TaskState::kQueued, TaskState::kCancelled,
                   CancelledError("the runtime shut down before the task ran"), {});
    }
  }
  tasks.clear();
}

void Scheduler::Uncharge(TaskRecord& task) {
  const int lane = task.charged_lane.exchange(-1);
  if (lane < 0 || task.estimate_ns == 0) return;
  lanes_[static_cast<size_t>(lane)]->backlog_ns.fetch_sub(task.estimate_ns,
                                                          std::memory_order_relaxed);
}

void Scheduler::OnTaskFinal(TaskRecord& task) {
  Uncharge(task);
  std::vector<std::shared_ptr<TaskRecord>> admitted = task.tenant->Release(task);
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
  s.throttling = lane.throttling.load();
  return s;
}

Result<TenantStats> Scheduler::tenant_stats(const std::string& name) const {
  auto it = tenants_.find(name);
  if (it == tenants_.end()) return NotFoundError("unknown tenant '" + name + "'");
  return it->second->stats();
}

}  // namespace unihal::sched
