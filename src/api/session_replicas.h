// A Session's replicas (SPEC R4.4, R5.3, R5.6): the model compiled for each device it may run
// on, each bound to that device's scheduler lane. Latency mode runs on the primary device and
// keeps the other capable devices as failover targets; throughput mode balances requests over
// every capable device of the session. Executors compile on first use, so a failover target
// costs nothing until a fault needs it. It is the sched::TaskRunner of the session's tasks and
// outlives the Session while any of them is in flight.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/working_memory.h"
#include "exec/graph_executor.h"
#include "exec/plan_executor.h"
#include "sched/task.h"
#include "unihal/run_options.h"
#include "unihal/runtime.h"
#include "unihal/session.h"

namespace unihal {

class SessionReplicas final : public sched::TaskRunner {
 public:
  // `graph`: the optimized graph (copied; weights are shared, not duplicated).
  // `primary_executor`: the model already compiled for `primary` (the Session's), reused.
  // `plan`: a plan split across devices, run from `primary`'s lane by the primary replica
  // (its segments on their own devices, a preemption point between them); the other replicas
  // run the whole model on one device each (failover targets).
  static Result<std::shared_ptr<SessionReplicas>> Create(
      const Runtime& runtime, const ir::Graph& graph, const hal::Device& primary,
      const SessionOptions& options,
      std::shared_ptr<exec::GraphExecutor> primary_executor = nullptr,
      std::shared_ptr<const exec::PlanExecutor> plan = nullptr);

  // The lanes a request may start on and move to, from its hints. A pinned device or kind
  // that cannot run the model is kInvalidArgument naming why.
  Status Route(const Runtime& runtime, const RunOptions& options, std::vector<int>& candidates,
               std::vector<int>& failover) const;
  // Device ids of the replicas requests may use without hints.
  std::vector<std::string> DeviceIds() const;
  // R5.7: bytes a run holds besides its inputs (intermediates and outputs at their peak).
  int64_t WorkingBytes(const std::map<std::string, Tensor>& inputs) const {
    return working_->PeakBytes(inputs);
  }

  Result<std::vector<Tensor>> RunOn(int lane, sched::TaskRecord& task) const override;
  int64_t EstimateNs(int lane) const override;
  void RecordRun(int lane, int64_t ns) const override;

 private:
  struct Replica {
    std::shared_ptr<hal::Device> device;
    int lane = -1;
    Status capable;                 // why it cannot run the model, when not
    mutable std::mutex compile_mu;  // compiles once it succeeds; a failure is tried again
    mutable std::shared_ptr<exec::GraphExecutor> executor;
    mutable std::atomic<const exec::GraphExecutor*> ready{nullptr};
    mutable std::atomic<int64_t> estimate_ns{0};     // measured (moving average) or modelled
    std::shared_ptr<const exec::PlanExecutor> plan;  // the split plan, instead of an executor
  };
  const Replica* ForLane(int lane) const;
  Result<const exec::GraphExecutor*> Executor(const Replica& replica) const;

  ir::Graph graph_;
  std::unique_ptr<WorkingMemoryEstimate> working_;
  std::vector<std::unique_ptr<Replica>> replicas_;  // one per runtime device, by lane
  std::vector<int> home_;                           // lanes requests start on without hints
  std::vector<int> failover_;                       // capable lanes in preference order
};

}  // namespace unihal
