// Session: one model prepared for one device.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "unihal/hal/executable.h"
#include "unihal/ir/graph.h"
#include "unihal/run_options.h"
#include "unihal/runtime.h"
#include "unihal/status.h"
#include "unihal/task.h"
#include "unihal/tensor.h"
#include "unihal/value.h"

namespace unihal {

namespace exec {
class GraphExecutor;
class PlanExecutor;
}  // namespace exec
namespace planner {
struct Plan;
}

// R4.1: what happens to nodes the preferred device cannot run.
enum class FallbackPolicy { kAllow, kWarn, kForbid };
// R4.4: latency = one request split across devices; throughput = the model on every capable
// device with requests balanced across them.
enum class ExecutionMode { kLatency, kThroughput };

// R5.5: dynamic batching of RunAsync requests. Off with max_batch <= 1. Needs every input to
// have a symbolic first (batch) dim; outputs are split back along their first dim.
struct BatchingOptions {
  int max_batch = 1;                         // requests per batch
  std::chrono::microseconds max_delay{500};  // how long the first request waits for others
};

struct SessionOptions {
  std::string device = "auto";  // see Runtime::FindDevice
  // Preference list for the partitioner, e.g. {"sim-npu", "cpu"}; empty means {device}.
  std::vector<std::string> devices;
  FallbackPolicy fallback = FallbackPolicy::kAllow;
  ExecutionMode mode = ExecutionMode::kLatency;
  bool optimize = true;  // constant folding and dead-node removal
  BatchingOptions batching;
  // Time every node of every run (a clock read around each; Session::NodeTimes). Simulated
  // devices report no node times: theirs would be the host's, not the device's.
  bool profile = false;
};

class GraphExecutorHandle;
class SessionReplicas;
class SessionBatcher;

class Session {
 public:
  static Result<std::unique_ptr<Session>> Load(std::shared_ptr<Runtime> runtime,
                                               const std::string& path,
                                               const SessionOptions& options = {});
  static Result<std::unique_ptr<Session>> LoadFromBytes(std::shared_ptr<Runtime> runtime,
                                                        std::string_view bytes,
                                                        const SessionOptions& options = {});
  ~Session();

  const std::vector<ir::ValueInfo>& inputs() const;
  const std::vector<ir::ValueInfo>& outputs() const;
  // The device that runs the model; for a plan split across devices, their ids joined by ','
  // in preference order ("sim-npu:0,cpu:0").
  const std::string& device_id() const;
  // Where each node runs and why, the segments, copies and estimated cost (R4.2).
  const planner::Plan& plan() const { return *plan_; }
  // On a simulated device (sim-npu): the modelled, not measured, latency of one run in seconds
  // at the device's current clock. nullopt on real devices.
  std::optional<double> ModeledLatencySeconds() const;
  const ir::Model& model() const { return *model_; }
  // With SessionOptions::profile: each node's runs and total wall time so far, in execution
  // order, on the devices that time their nodes (after fusion: op_type is what ran). Empty
  // without profile.
  std::vector<hal::NodeTime> NodeTimes() const;

  // Runs once. Every graph input must be given, with its declared dtype and a shape that
  // matches its static dims (symbolic dims must agree across inputs). Outputs follow outputs().
  // Thread-safe. Models whose inputs or outputs are sequences or optionals need RunValues; Run
  // fails naming the first such input or output. With default options the run goes straight to
  // the device; otherwise it is RunAsync(...) waited for.
  Result<std::vector<Tensor>> Run(const std::map<std::string, Tensor>& inputs,
                                  const RunOptions& options = {}) const;
  // Runs once with values of any kind (unihal/value.h): tensors, sequences of tensors, and
  // optionals (an optional input takes its element or Value::None()). Tensor inputs are checked
  // as in Run. Outputs follow outputs(). Thread-safe.
  Result<std::vector<Value>> RunValues(const std::map<std::string, Value>& inputs,
                                       const RunOptions& options = {}) const;

  // R5.2: submits one run to the runtime's scheduler and returns at once. Bad inputs, a
  // deadline in the past, an unknown tenant, a tenant over budget (reject policy) and a pinned
  // device or device kind that cannot run the model fail here. Thread-safe.
  Result<TaskHandle> RunAsync(std::map<std::string, Tensor> inputs,
                              const RunOptions& options = {}) const;
  // RunAsync for many runs with the same options at once: each request is checked as in
  // RunAsync (a bad one fails the call before anything is submitted), then all go to the
  // scheduler in one batch (one lock and one wake-up per device lane, not one per run).
  // Handles follow `inputs`; a run its tenant's budget rejects is a handle that has failed
  // with kResourceExhausted. With dynamic batching on, each request goes through RunAsync.
  Result<std::vector<TaskHandle>> RunAsyncBatch(std::vector<std::map<std::string, Tensor>> inputs,
                                                const RunOptions& options = {}) const;
  // The devices RunAsync balances requests over without hints: the primary in latency mode,
  // every capable device of the session in throughput mode (R4.4).
  std::vector<std::string> replica_devices() const;

 private:
  Session() = default;
  static Result<std::unique_ptr<Session>> Create(std::shared_ptr<Runtime> runtime,
                                                 std::unique_ptr<ir::Model> model,
                                                 const SessionOptions& options,
                                                 const std::string& cache_key = {},
                                                 std::shared_ptr<const ir::Model> cached = nullptr);
  Status CheckInputs(const std::map<std::string, Tensor>& inputs) const;
  // Checks the inputs and runs the plan, without recording into the monitor.
  Result<std::vector<Tensor>> Execute(const std::map<std::string, Tensor>& inputs) const;
  // Hands checked inputs to the scheduler (RunAsync, and the batcher's merged requests).
  Result<TaskHandle> Submit(std::map<std::string, Tensor> inputs, const RunOptions& options) const;
  void RecordWhenDone(const TaskHandle& task, const RunOptions& options,
                      std::chrono::steady_clock::time_point submitted) const;

  std::shared_ptr<Runtime> runtime_;
  std::unique_ptr<ir::Model> model_;
  std::shared_ptr<hal::Device> device_;
  // When the plan has one segment (or none); shared with the primary replica of RunAsync.
  std::shared_ptr<exec::GraphExecutor> executor_;
  std::unique_ptr<planner::Plan> plan_;
  // When the plan has several segments; shared with the primary replica of RunAsync.
  std::shared_ptr<exec::PlanExecutor> plan_executor_;
  std::string device_id_;
  std::string model_name_;  // the monitor's "model" label: file stem, else graph name
  // The model per device for RunAsync (failover targets, throughput replicas); shared with
  // the tasks in flight.
  std::shared_ptr<SessionReplicas> replicas_;
  std::unique_ptr<SessionBatcher> batcher_;
  std::shared_ptr<const ir::Model> cached_model_;  // R3.4: keeps the shared weights loaded
};

}  // namespace unihal
