#include "unihal/session.h"

#include <chrono>
#include <filesystem>

#include "api/model_cache.h"
#include "api/session_batcher.h"
#include "api/session_replicas.h"
#include "api/value_inputs.h"
#include "exec/graph_executor.h"
#include "exec/plan_executor.h"
#include "ir/passes.h"
#include "onnx/onnx_loader.h"
#include "planner/partitioner.h"
#include "sched/scheduler.h"

namespace unihal {
namespace {

// Evaluates one node on the CPU, for constant folding.
ir::NodeEvaluator CpuEvaluator(std::shared_ptr<hal::Device> cpu) {
  return [cpu](const ir::Node& node,
               const std::vector<Tensor>& inputs) -> Result<std::vector<Tensor>> {
    ir::Graph graph;
    graph.name = "fold:" + node.name;
    graph.nodes.push_back(node);
    for (size_t i = 0; i < node.inputs.size() && i < inputs.size(); ++i) {
      if (!node.inputs[i].empty()) graph.initializers[node.inputs[i]] = inputs[i];
    }
    for (const auto& out : node.outputs) {
      if (!out.empty()) graph.outputs.push_back(ir::ValueInfo{out, DType::kUndefined, {}});
    }
    UH_ASSIGN_OR_RETURN(std::shared_ptr<hal::Executable> exe,
                        cpu->Compile(graph, hal::CompileOptions{}));
    std::vector<Value> values;
    UH_RETURN_IF_ERROR(exe->RunValues({}, values));
    std::vector<Tensor> outputs;
    for (Value& value : values) {
      // Weights are tensors: a node that makes a sequence or an optional stays a node.
      if (!value.is_tensor()) {
        return UnimplementedError(node.Describe() + " gives a " +
                                  std::string(ValueKindName(value.kind())) +
                                  ", which cannot be folded into a weight");
      }
      outputs.push_back(std::move(value.mutable_tensor()));
    }
    return outputs;
  };
}

// The devices to plan on: the preference list, or the one `device` (pinned: no fallback).
Result<planner::PartitionOptions> PartitionOptionsFor(const Runtime& runtime,
                                                      const SessionOptions& options) {
  planner::PartitionOptions partition;
  partition.fallback = options.fallback;
  partition.pinned = options.devices.empty();
  if (partition.pinned) {
    UH_ASSIGN_OR_RETURN(std::shared_ptr<hal::Device> device, runtime.FindDevice(options.device));
    partition.devices.push_back(std::move(device));
  }
  for (const std::string& id : options.devices) {
    Result<std::shared_ptr<hal::Device>> device = runtime.FindDevice(id);
    if (!device.ok()) return device.status().WithContext("device list");
    partition.devices.push_back(*std::move(device));
  }
  return partition;
}

// "sim-npu:0,cpu:0": the devices a plan's segments use, in preference order.
std::string DevicesUsed(const planner::Plan& plan) {
  std::string ids;
  for (const std::string& id : plan.preference) {
    bool used = false;
    for (const planner::Segment& s : plan.segments) used = used || s.device->info().id == id;
    if (used) ids += (ids.empty() ? "" : ",") + id;
  }
  return ids;
}

// The monitor's outcome of a finished run (R5.2 final states).
TaskState OutcomeOf(const Status& status) {
  if (status.ok()) return TaskState::kSucceeded;
  if (status.code() == StatusCode::kCancelled) return TaskState::kCancelled;
  if (status.code() == StatusCode::kDeadlineExceeded) return TaskState::kTimedOut;
  return TaskState::kFailed;
}

std::string MonitorModelName(const ir::Model& model) {
  if (!model.path.empty()) return std::filesystem::path(model.path).stem().string();
  return model.graph.name.empty() ? "model" : model.graph.name;
}

}  // namespace

Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::Load(std::shared_ptr<Runtime> runtime,
                                               const std::string& path,
                                               const SessionOptions& options) {
  const std::string key = ModelCacheKeyForFile(path, options.optimize);
  if (runtime && !key.empty()) {
    if (std::shared_ptr<const ir::Model> cached = runtime->model_cache().Find(key)) {
      return Create(std::move(runtime), std::make_unique<ir::Model>(*cached), options, key, cached);
    }
  }
  UH_ASSIGN_OR_RETURN(ir::Model model, onnx_import::LoadModelFromFile(path));
  return Create(std::move(runtime), std::make_unique<ir::Model>(std::move(model)), options, key);
}

Result<std::unique_ptr<Session>> Session::LoadFromBytes(std::shared_ptr<Runtime> runtime,
                                                        std::string_view bytes,
                                                        const SessionOptions& options) {
  const std::string key = ModelCacheKeyForBytes(bytes, options.optimize);
  if (runtime) {
    if (std::shared_ptr<const ir::Model> cached = runtime->model_cache().Find(key)) {
      return Create(std::move(runtime), std::make_unique<ir::Model>(*cached), options, key, cached);
    }
  }
  UH_ASSIGN_OR_RETURN(ir::Model model, onnx_import::LoadModelFromBytes(bytes, "."));
  return Create(std::move(runtime), std::make_unique<ir::Model>(std::move(model)), options, key);
}

Result<std::unique_ptr<Session>> Session::Create(std::shared_ptr<Runtime> runtime,
                                                 std::unique_ptr<ir::Model> model,
                                                 const SessionOptions& options,
                                                 const std::string& cache_key,
                                                 std::shared_ptr<const ir::Model> cached) {
  if (!runtime) return InvalidArgumentError("Session needs a Runtime");
  UH_ASSIGN_OR_RETURN(planner::PartitionOptions partition, PartitionOptionsFor(*runtime, options));
  const std::string where = model->path.empty() ? "model" : model->path;
  if (options.optimize && !cached) {  // a cached model is already optimized
    UH_RETURN_IF_ERROR(ir::FoldConstants(model->graph, CpuEvaluator(runtime->cpu()))
                           .WithContext("optimizing " + where));
    UH_RETURN_IF_ERROR(ir::FoldBatchNormIntoConv(model->graph).WithContext("optimizing " + where));
    UH_RETURN_IF_ERROR(ir::RemoveDeadNodes(model->graph).WithContext("optimizing " + where));
  }
  UH_ASSIGN_OR_RETURN(planner::Plan plan, planner::Partition(model->graph, partition));
  std::unique_ptr<Session> session(new Session());  // private constructor
  std::shared_ptr<hal::Device> device =
      plan.segments.empty() ? partition.devices.front() : plan.segments.front().device;
  session->device_id_ = device->info().id;
  // RunAsync's replicas run the whole model on one device each, except that a split plan's
  // async runs follow the plan from its first segment's device (other devices: failover).
  if (plan.segments.size() <= 1) {
    UH_ASSIGN_OR_RETURN(session->executor_, exec::GraphExecutor::Create(device, model->graph));
  } else {
    UH_ASSIGN_OR_RETURN(session->plan_executor_, exec::PlanExecutor::Create(plan, model->graph));
    session->device_id_ = DevicesUsed(plan);
  }
  if (options.profile) {
    session->executor_ ? session->executor_->EnableProfiling()
                       : session->plan_executor_->EnableProfiling();
  }
  UH_ASSIGN_OR_RETURN(session->replicas_,
                      SessionReplicas::Create(*runtime, model->graph, *device, options,
                                              session->executor_, session->plan_executor_));
  // R3.4: later loads of the same model share these weights while this session holds them.
  if (!cached && !cache_key.empty()) cached = runtime->model_cache().Insert(cache_key, *model);
  session->cached_model_ = std::move(cached);
  if (options.batching.max_batch > 1) {
    for (const ir::ValueInfo& input : model->graph.inputs) {
      if (!input.shape || input.shape->empty() || (*input.shape)[0].is_static()) {
        return InvalidArgumentError(
            "batching (SessionOptions::batching) needs a symbolic first "
            "dim on every input, but " +
            where + " has input " + input.Describe() + "; set max_batch to 1");
      }
    }
    const Session* self = session.get();
    session->batcher_ = std::make_unique<SessionBatcher>(
        options.batching, [self](std::map<std::string, Tensor> inputs, const RunOptions& o) {
          return self->Submit(std::move(inputs), o);
        });
  }
  session->runtime_ = std::move(runtime);
  session->model_ = std::move(model);
  session->device_ = std::move(device);
  session->plan_ = std::make_unique<planner::Plan>(std::move(plan));
  session->model_name_ = MonitorModelName(*session->model_);
  return session;
}

const std::vector<ir::ValueInfo>& Session::inputs() const { return model_->graph.inputs; }
const std::vector<ir::ValueInfo>& Session::outputs() const { return model_->graph.outputs; }
const std::string& Session::device_id() const { return device_id_; }

std::vector<hal::NodeTime> Session::NodeTimes() const {
  return executor_ ? executor_->NodeTimes() : plan_executor_->NodeTimes();
}

std::optional<double> Session::ModeledLatencySeconds() const {
  return executor_ ? executor_->ModeledLatencySeconds() : plan_executor_->ModeledLatencySeconds();
}

Status Session::CheckInputs(const std::map<std::string, Tensor>& inputs) const {
  std::string expected;
  for (const auto& info : this->inputs()) expected += "\n  " + info.Describe();
  for (const auto& [name, tensor] : inputs) {
    bool known = false;
    for (const auto& info : this->inputs()) known = known || info.name == name;
    if (!known) {
      return InvalidArgumentError("the model has no input named '" + name +
                                  "'; its inputs are:" + expected);
    }
  }
  std::map<std::string, int64_t> symbols;
  for (const auto& info : this->inputs()) {
    if (!info.is_tensor()) continue;  // sequences and optionals: api::CheckValueInputs
    auto it = inputs.find(info.name);
    if (it == inputs.end() || !it->second.defined()) {
      return InvalidArgumentError("input '" + info.name +
                                  "' is missing; the model expects:" + expected);
    }
    const Tensor& t = it->second;
    if (!t.is_host()) {
      return InvalidArgumentError("input '" + info.name + "' is not in host memory");
    }
    if (info.dtype != DType::kUndefined && t.dtype() != info.dtype) {
      return InvalidArgumentError("input '" + info.name + "' has dtype " +
                                  std::string(DTypeName(t.dtype())) + " but the model expects " +
                                  info.Describe());
    }
    if (!info.shape) continue;
    const auto& dims = *info.shape;
    bool match = dims.size() == t.shape().size();
    for (size_t d = 0; match && d < dims.size(); ++d) {
      const int64_t actual = t.shape()[d];
      if (dims[d].is_static()) {
        match = dims[d].value == actual;
      } else if (!dims[d].symbol.empty()) {
        auto [sym, inserted] = symbols.emplace(dims[d].symbol, actual);
        if (!inserted && sym->second != actual) {
          return InvalidArgumentError("input '" + info.name + "' has shape " +
                                      ShapeToString(t.shape()) + ", but dimension '" +
                                      dims[d].symbol + "' is " + std::to_string(sym->second) +
                                      " in another input");
        }
      }
    }
    if (!match) {
      return InvalidArgumentError("input '" + info.name + "' has shape " +
                                  ShapeToString(t.shape()) + " but the model expects " +
                                  info.Describe());
    }
  }
  return Status::Ok();
}

namespace {
bool IsDefault(const RunOptions& o) {
  return o.priority == Priority::kNormal && !o.deadline && o.tenant.empty() &&
         o.device_kind.empty() && o.pinned_device.empty() && o.fallback_allowed;
}
}  // namespace

Result<std::vector<Tensor>> Session::Execute(const std::map<std::string, Tensor>& inputs) const {
  UH_RETURN_IF_ERROR(api::RequireTensorInterface(this->inputs(), outputs()));
  UH_RETURN_IF_ERROR(CheckInputs(inputs));
  return executor_ ? executor_->Run(inputs) : plan_executor_->Run(inputs);
}

Result<std::vector<Tensor>> Session::Run(const std::map<std::string, Tensor>& inputs,
                                         const RunOptions& options) const {
  if (!IsDefault(options)) {  // priorities, deadlines, tenants, hints: through the scheduler
    UH_ASSIGN_OR_RETURN(TaskHandle task, RunAsync(inputs, options));
    return task.Get();
  }
  const auto start = std::chrono::steady_clock::now();
  Result<std::vector<Tensor>> outputs = Execute(inputs);
  RunRecord record;
  record.device = device_id();
  record.model = model_name_;
  record.tenant = options.tenant;
  record.priority = options.priority;
  record.finished = std::chrono::steady_clock::now();
  record.latency = record.finished - start;
  record.outcome = OutcomeOf(outputs.status());
  runtime_->perf_monitor().Record(record);
  return outputs;
}

Result<std::vector<Value>> Session::RunValues(const std::map<std::string, Value>& inputs,
                                              const RunOptions& /*options*/) const {
  UH_RETURN_IF_ERROR(api::CheckValueInputs(this->inputs(), inputs));
  std::map<std::string, Tensor> tensors;
  for (const auto& info : this->inputs()) {
    if (info.is_tensor()) tensors.emplace(info.name, inputs.at(info.name).tensor());
  }
  UH_RETURN_IF_ERROR(CheckInputs(tensors));
  if (!executor_) {
    return UnimplementedError("this model's plan is split across devices (" + device_id() +
                              "), which passes tensors only between its segments; run a model "
                              "with sequence or optional values on one device");
  }
  return executor_->RunValues(inputs);
}

Result<TaskHandle> Session::RunAsync(std::map<std::string, Tensor> inputs,
                                     const RunOptions& options) const {
  UH_RETURN_IF_ERROR(CheckInputs(inputs));
  if (!batcher_) return Submit(std::move(inputs), options);
  // What the scheduler would reject at submit, rejected here for batched requests too.
  std::vector<int> candidates, failover;
  UH_RETURN_IF_ERROR(replicas_->Route(*runtime_, options, candidates, failover));
  UH_RETURN_IF_ERROR(runtime_->scheduler().tenant_stats(options.tenant).status());
  return batcher_->Add(std::move(inputs), options);
}

Result<TaskHandle> Session::Submit(std::map<std::string, Tensor> inputs,
                                   const RunOptions& options) const {
  sched::SubmitRequest request;
  std::vector<int> candidates, failover;
  UH_RETURN_IF_ERROR(replicas_->Route(*runtime_, options, candidates, failover));
  request.candidates = candidates;
  request.failover = failover;
  int64_t bytes = 0;
  for (const auto& [name, tensor] : inputs) bytes += static_cast<int64_t>(tensor.nbytes());
  // The inputs it holds and its working memory (intermediates and outputs at their peak).
  request.memory_bytes = bytes + replicas_->WorkingBytes(inputs);
  request.options = options;
  request.runner = replicas_;
  request.inputs = std::move(inputs);
  const auto submitted = std::chrono::steady_clock::now();
  UH_ASSIGN_OR_RETURN(TaskHandle task, runtime_->scheduler().Submit(std::move(request)));
  RecordWhenDone(task, options, submitted);
  return task;
}

// R5.8: the task's run into the monitor once it ends, from submit to completion. The monitor
// outlives the scheduler's workers (Runtime declares it first), so a raw pointer is safe here.
void Session::RecordWhenDone(const TaskHandle& task, const RunOptions& options,
                             std::chrono::steady_clock::time_point submitted) const {
  PerfMonitor* monitor = &runtime_->perf_monitor();
  task.OnComplete(
      [monitor, task, submitted, model = model_name_, tenant = options.tenant,
       priority = options.priority](TaskState state, const Status&, const std::vector<Tensor>&) {
        RunRecord record;
        record.device = task.device_id();
        record.model = model;
        record.tenant = tenant;
        record.priority = priority;
        record.finished = std::chrono::steady_clock::now();
        record.latency = record.finished - submitted;
        record.outcome = state;
        record.retried = task.attempts() > 1;
        monitor->Record(record);
      });
}

std::vector<std::string> Session::replica_devices() const { return replicas_->DeviceIds(); }

}  // namespace unihal
