#include "api/session_replicas.h"

#include <algorithm>

namespace unihal {
namespace {

int LaneOf(const Runtime& runtime, const hal::Device& device) {
  const auto& devices = runtime.devices();
  for (size_t i = 0; i < devices.size(); ++i) {
    if (devices[i].get() == &device) return static_cast<int>(i);
  }
  return -1;
}

void AddOnce(std::vector<int>& lanes, int lane) {
  if (lane >= 0 && std::find(lanes.begin(), lanes.end(), lane) == lanes.end()) {
    lanes.push_back(lane);
  }
}

}  // namespace

Result<std::shared_ptr<SessionReplicas>> SessionReplicas::Create(
    const Runtime& runtime, const ir::Graph& graph, const hal::Device& primary,
    const SessionOptions& options, std::shared_ptr<exec::GraphExecutor> primary_executor,
    std::shared_ptr<const exec::PlanExecutor> plan) {
  auto self = std::make_shared<SessionReplicas>();
  self->graph_ = graph;
  self->working_ = std::make_unique<WorkingMemoryEstimate>(self->graph_);
  for (const auto& device : runtime.devices()) {
    auto replica = std::make_unique<Replica>();
    replica->device = device;
    replica->lane = static_cast<int>(self->replicas_.size());
    replica->capable = exec::CheckDeviceSupportsGraph(*device, graph);
    if (primary_executor && device.get() == &primary) {
      replica->executor = primary_executor;
      replica->ready.store(primary_executor.get());
    }
    if (plan && device.get() == &primary) {  // runs the plan, which it cannot run alone
      replica->plan = plan;
      replica->capable = Status::Ok();
    }
    self->replicas_.push_back(std::move(replica));
  }
  auto capable = [&](int lane) { return lane >= 0 && self->replicas_[lane]->capable.ok(); };
  // The session's devices in preference order: SessionOptions::devices, else the primary.
  std::vector<int> preferred;
  AddOnce(preferred, LaneOf(runtime, primary));
  for (const std::string& id : options.devices) {
    UH_ASSIGN_OR_RETURN(std::shared_ptr<hal::Device> device, runtime.FindDevice(id));
    AddOnce(preferred, LaneOf(runtime, *device));
  }
  if (options.mode == ExecutionMode::kThroughput) {
    if (options.devices.empty()) {  // every capable real device; simulated ones only when named
      for (const auto& r : self->replicas_) {
        if (!r->device->info().is_simulated) AddOnce(preferred, r->lane);
      }
    }
    for (int lane : preferred) {
      if (capable(lane)) self->home_.push_back(lane);
    }
  } else {
    self->home_.push_back(preferred.front());
  }
  if (self->home_.empty() || !capable(self->home_.front())) {
    const Status& why = self->replicas_[static_cast<size_t>(preferred.front())]->capable;
    if (!why.ok()) return why;
    return InvalidArgumentError("none of the session's devices can run the model");
  }
  for (int lane : preferred) {
    if (capable(lane)) AddOnce(self->failover_, lane);
  }
  const int cpu = runtime.cpu() ? LaneOf(runtime, *runtime.cpu()) : -1;
  if (capable(cpu)) AddOnce(self->failover_, cpu);
  return self;
}

Status SessionReplicas::Route(const Runtime& runtime, const RunOptions& options,
                              std::vector<int>& candidates, std::vector<int>& failover) const {
  candidates.clear();
  failover.clear();
  if (!options.pinned_device.empty()) {
    UH_ASSIGN_OR_RETURN(std::shared_ptr<hal::Device> device,
                        runtime.FindDevice(options.pinned_device));
    const Replica& replica = *replicas_[static_cast<size_t>(LaneOf(runtime, *device))];
    if (!replica.capable.ok()) {
      return InvalidArgumentError("the pinned device " + device->info().id +
                                  " cannot run this model: " + replica.capable.message());
    }
    candidates.push_back(replica.lane);
  } else if (!options.device_kind.empty()) {
    for (int lane : failover_) {
      const auto kind = replicas_[static_cast<size_t>(lane)]->device->info().kind;
      if (hal::DeviceKindName(kind) == options.device_kind) candidates.push_back(lane);
    }
    if (candidates.empty()) {
      return InvalidArgumentError("no " + options.device_kind +
                                  " device of this session can run the model; its devices: " + [&] {
                                    std::string ids;
                                    for (const std::string& id : DeviceIds()) ids += " " + id;
                                    return ids;
                                  }());
    }
  } else {
    candidates = home_;
  }
  if (options.fallback_allowed) failover = failover_;
  return Status::Ok();
}

std::vector<std::string> SessionReplicas::DeviceIds() const {
  std::vector<std::string> ids;
  for (int lane : home_) ids.push_back(replicas_[static_cast<size_t>(lane)]->device->info().id);
  return ids;
}

const SessionReplicas::Replica* SessionReplicas::ForLane(int lane) const {
  if (lane < 0 || lane >= static_cast<int>(replicas_.size())) return nullptr;
  return replicas_[static_cast<size_t>(lane)].get();
}

Result<const exec::GraphExecutor*> SessionReplicas::Executor(const Replica& replica) const {
  if (const exec::GraphExecutor* ready = replica.ready.load(std::memory_order_acquire)) {
    return ready;
  }
  std::lock_guard<std::mutex> lock(replica.compile_mu);
  if (!replica.executor) {
    UH_ASSIGN_OR_RETURN(replica.executor, exec::GraphExecutor::Create(replica.device, graph_));
    replica.ready.store(replica.executor.get(), std::memory_order_release);
  }
  return replica.executor.get();
}

Result<std::vector<Tensor>> SessionReplicas::RunOn(int lane, sched::TaskRecord& task) const {
  const Replica* replica = ForLane(lane);
  if (!replica) return InternalError("no replica for lane " + std::to_string(lane));
  if (!replica->capable.ok()) return replica->capable;
  if (replica->plan) return replica->plan->Run(task.inputs);
  UH_ASSIGN_OR_RETURN(const exec::GraphExecutor* executor, Executor(*replica));
  if (replica->estimate_ns.load(std::memory_order_relaxed) == 0) {
    if (std::optional<double> modelled = executor->ModeledLatencySeconds()) {
      replica->estimate_ns.store(static_cast<int64_t>(*modelled * 1e9), std::memory_order_relaxed);
    }
  }
  return executor->Run(task.inputs);
}

int64_t SessionReplicas::EstimateNs(int lane) const {
  const Replica* replica = ForLane(lane);
  return replica ? replica->estimate_ns.load(std::memory_order_relaxed) : 0;
}

void SessionReplicas::RecordRun(int lane, int64_t ns) const {
  const Replica* replica = ForLane(lane);
  if (!replica) return;
  const int64_t old = replica->estimate_ns.load(std::memory_order_relaxed);
  replica->estimate_ns.store(old == 0 ? ns : (old * 7 + ns) / 8, std::memory_order_relaxed);
}

}  // namespace unihal
