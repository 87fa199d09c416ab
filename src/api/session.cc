#include "unihal/session.h"

#include <filesystem>

#include "api/model_cache.h"
#include "api/session_batcher.h"
#include "api/session_replicas.h"
#include "sched/scheduler.h"
#include "exec/graph_executor.h"
#include "ir/passes.h"
#include "onnx/onnx_loader.h"

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
    std::vector<Tensor> outputs;
    UH_RETURN_IF_ERROR(exe->Run({}, outputs));
    return outputs;
  };
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
  UH_ASSIGN_OR_RETURN(std::shared_ptr<hal::Device> device, runtime->FindDevice(options.device));
  const std::string where = model->path.empty() ? "model" : model->path;
  if (options.optimize && !cached) {  // a cached model is already optimized
    UH_RETURN_IF_ERROR(ir::FoldConstants(model->graph, CpuEvaluator(runtime->cpu()))
                           .WithContext("optimizing " + where));
    UH_RETURN_IF_ERROR(ir::FoldBatchNormIntoConv(model->graph).WithContext("optimizing " + where));
    UH_RETURN_IF_ERROR(ir::RemoveDeadNodes(model->graph).WithContext("optimizing " + where));
  }
  UH_ASSIGN_OR_RETURN(std::unique_ptr<exec::GraphExecutor> executor,
                      exec::GraphExecutor::Create(device, model->graph));
  UH_ASSIGN_OR_RETURN(std::shared_ptr<SessionReplicas> replicas,
                      SessionReplicas::Create(*runtime, model->graph, *device, options));
  // R3.4: later loads of the same model share these weights while this session holds them.
  if (!cached && !cache_key.empty()) cached = runtime->model_cache().Insert(cache_key, *model);
  std::unique_ptr<Session> session(new Session());  // private constructor
  session->cached_model_ = std::move(cached);
  session->replicas_ = std::move(replicas);
  if (options.batching.max_batch > 1) {
    for (const ir::ValueInfo& input : model->graph.inputs) {
      if (!input.shape || input.shape->empty() || (*input.shape)[0].is_static()) {
        return InvalidArgumentError("batching (SessionOptions::batching) needs a symbolic first "
                                    "dim on every input, but " + where + " has input " +
                                    input.Describe() + "; set max_batch to 1");
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
  session->executor_ = std::move(executor);
  return session;
}

const std::vector<ir::ValueInfo>& Session::inputs() const { return model_->graph.inputs; }
const std::vector<ir::ValueInfo>& Session::outputs() const { return model_->graph.outputs; }
const std::string& Session::device_id() const { return device_->info().id; }

std::optional<double> Session::ModeledLatencySeconds() const {
  return executor_->ModeledLatencySeconds();
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
    auto it = inputs.find(info.name);
    if (it == inputs.end() || !it->second.defined()) {
      return InvalidArgumentError("input '" + info.name + "' is missing; the model expects:" +
                                  expected);
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

Result<std::vector<Tensor>> Session::Run(const std::map<std::string, Tensor>& inputs,
                                         const RunOptions& options) const {
  if (!IsDefault(options)) {
    UH_ASSIGN_OR_RETURN(TaskHandle task, RunAsync(inputs, options));
    return task.Get();
  }
  UH_RETURN_IF_ERROR(CheckInputs(inputs));
  return executor_->Run(inputs);
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
  UH_RETURN_IF_ERROR(
      replicas_->Route(*runtime_, options, request.candidates, request.failover));
  int64_t bytes = 0;
  for (const auto& [name, tensor] : inputs) bytes += static_cast<int64_t>(tensor.nbytes());
  request.memory_bytes = bytes;  // the inputs it holds; outputs and scratch are not known here
  request.options = options;
  request.runner = replicas_;
  request.inputs = std::move(inputs);
  return runtime_->scheduler().Submit(std::move(request));
}

std::vector<std::string> Session::replica_devices() const { return replicas_->DeviceIds(); }

}  // namespace unihal
