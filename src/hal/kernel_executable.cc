#include "unihal/hal/kernel_executable.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <unordered_set>

#include "hal/buffer_pool.h"
#include "hal/memory_plan.h"
#include "unihal/hal/preemption.h"

namespace unihal::hal {
namespace {

// Per-run scratch: value table and the free buffers. Kept between runs (one per concurrent run).
// Slots hold values of any kind (unihal/value.h); most are tensors.
struct RunState {
  std::vector<Value> values;
  BufferPool pool;
};

// Gives a dead value's storage back to the pool where nobody else holds it (a view may still
// share it), and empties the slot.
void Release(Value& dead, BufferPool& pool) {
  auto give = [&pool](const Tensor& tensor) {
    if (tensor.buffer() && tensor.buffer().use_count() == 1) pool.Give(tensor.buffer());
  };
  if (dead.is_tensor()) give(dead.tensor());
  for (const Tensor& element : dead.elements()) give(element);
  dead = Value();
}

class NodeContext final : public KernelContext {
 public:
  NodeContext(const ir::Node& node, const std::vector<int>& ins, const std::vector<int>& outs,
              const std::vector<int>& released, const std::map<int, Placement>& placements,
              RunState& state, ThreadPool& pool)
      : node_(node),
        ins_(ins),
        outs_(outs),
        released_(released),
        placements_(placements),
        state_(state),
        thread_pool_(pool) {}

  const ir::Node& node() const override { return node_; }
  size_t num_inputs() const override { return ins_.size(); }
  const Tensor* input(size_t i) const override {
    const Value* value = input_value(i);
    return value && value->is_tensor() ? &value->tensor() : nullptr;
  }
  const Value* input_value(size_t i) const override {
    if (i >= ins_.size() || ins_[i] == MemoryPlan::kAbsent) return nullptr;
    const Value& value = state_.values[static_cast<size_t>(ins_[i])];
    return value.defined() ? &value : nullptr;
  }
  size_t num_outputs() const override { return outs_.size(); }

  Result<Tensor*> AllocateOutput(size_t i, DType dtype, Shape shape) override {
    UH_ASSIGN_OR_RETURN(Value * slot, OutputSlot(i));
    for (int64_t d : shape) {
      if (d < 0) {
        return InvalidArgumentError(node_.Describe() + ": output " + std::to_string(i) +
                                    " would have negative shape " + ShapeToString(shape));
      }
    }
    if (outs_[i] != MemoryPlan::kAbsent) {
      auto placed = placements_.find(outs_[i]);
      if (placed != placements_.end() && placed->second.dtype == dtype &&
          placed->second.shape == shape) {
        return PlacedTensor(outs_[i]);
      }
    }
    const size_t bytes = StorageBytes(dtype, NumElements(shape));
    std::shared_ptr<Buffer> buffer = state_.pool.Take(bytes);
    if (!buffer) {
      return ResourceExhaustedError(node_.Describe() + ": out of host memory for output " +
                                    std::to_string(i) + " (" + std::to_string(bytes) + " bytes)");
    }
    *slot = Tensor(dtype, std::move(shape), std::move(buffer));
    return &slot->mutable_tensor();
  }

  Result<Tensor*> AllocateOutputInPlace(size_t i, size_t input, DType dtype,
                                        Shape shape) override {
    if (Tensor* reusable = ReusableInput(i, input, dtype, NumElements(shape))) {
      UH_ASSIGN_OR_RETURN(Value * slot, OutputSlot(i));
      *slot = Tensor(dtype, std::move(shape), reusable->buffer(), reusable->offset());
      return &slot->mutable_tensor();
    }
    return AllocateOutput(i, dtype, std::move(shape));
  }

  Status SetOutput(size_t i, Tensor tensor) override {
    UH_ASSIGN_OR_RETURN(Value * slot, OutputSlot(i));
    *slot = std::move(tensor);
    return Status::Ok();
  }

  Status SetOutputValue(size_t i, Value value) override {
    UH_ASSIGN_OR_RETURN(Value * slot, OutputSlot(i));
    *slot = std::move(value);
    return Status::Ok();
  }

  ThreadPool& thread_pool() override { return thread_pool_; }

 private:
  Result<Value*> OutputSlot(size_t i) {
    if (i >= outs_.size()) {
      return InternalError(node_.Describe() + ": kernel wrote output " + std::to_string(i) +
                           " but the node has " + std::to_string(outs_.size()));
    }
    if (outs_[i] == MemoryPlan::kAbsent) return &discarded_;
    return &state_.values[static_cast<size_t>(outs_[i])];
  }

  // Input `input`'s tensor when output i may take its storage (AllocateOutputInPlace): the
  // input's slot is released after this node and is no other input, neither slot is placed,
  // and the input's buffer has no other holder (a view, the caller, a weight).
  Tensor* ReusableInput(size_t i, size_t input, DType dtype, int64_t elements) {
    if (i >= outs_.size() || input >= ins_.size()) return nullptr;
    const int out_slot = outs_[i], in_slot = ins_[input];
    if (out_slot == MemoryPlan::kAbsent || in_slot == MemoryPlan::kAbsent) return nullptr;
    if (placements_.count(out_slot) || placements_.count(in_slot)) return nullptr;
    if (std::find(released_.begin(), released_.end(), in_slot) == released_.end()) return nullptr;
    if (std::count(ins_.begin(), ins_.end(), in_slot) != 1) return nullptr;
    Value& value = state_.values[static_cast<size_t>(in_slot)];
    if (!value.is_tensor() || !value.defined()) return nullptr;
    Tensor& tensor = value.mutable_tensor();
    if (tensor.dtype() != dtype || tensor.num_elements() != elements) return nullptr;
    if (!tensor.buffer() || tensor.buffer().use_count() != 1) return nullptr;
    return &tensor;
  }

  // The tensor of a placed slot (MemoryPlan::placements): a view into its parent's, which the
  // first of the values sharing that buffer to be made allocates.
  Result<Tensor*> PlacedTensor(int slot) {
    Value& value = state_.values[static_cast<size_t>(slot)];
    if (value.is_tensor() && value.defined()) return &value.mutable_tensor();
    const Placement& p = placements_.at(slot);
    if (p.parent == MemoryPlan::kAbsent) {
      const size_t bytes = StorageBytes(p.dtype, NumElements(p.shape));
      std::shared_ptr<Buffer> buffer = state_.pool.Take(bytes);
      if (!buffer) {
        return ResourceExhaustedError(node_.Describe() + ": out of host memory for a " +
                                      std::to_string(bytes) + "-byte Concat output");
      }
      value = Tensor(p.dtype, p.shape, std::move(buffer));
    } else {
      UH_ASSIGN_OR_RETURN(Tensor * parent, PlacedTensor(p.parent));
      value = Tensor(p.dtype, p.shape, parent->buffer(), parent->offset() + p.byte_offset);
    }
    return &value.mutable_tensor();
  }

  const ir::Node& node_;
  const std::vector<int>& ins_;
  const std::vector<int>& outs_;
  const std::vector<int>& released_;  // slots released after this node
  const std::map<int, Placement>& placements_;
  RunState& state_;
  ThreadPool& thread_pool_;
  Value discarded_;  // an optional output the graph does not use
};

class KernelExecutable final : public Executable {
 public:
  KernelExecutable(ir::Graph graph, MemoryPlan plan, std::vector<std::unique_ptr<Kernel>> kernels,
                   ThreadPool& pool)
      : graph_(std::move(graph)),
        plan_(std::move(plan)),
        kernels_(std::move(kernels)),
        thread_pool_(pool) {
    for (const auto& [name, tensor] : graph_.initializers) {
      if (tensor.buffer()) constant_buffers_.insert(tensor.buffer().get());
    }
  }

  const std::vector<ir::ValueInfo>& inputs() const override { return graph_.inputs; }
  const std::vector<ir::ValueInfo>& outputs() const override { return graph_.outputs; }

  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    std::vector<Value> values;
    UH_RETURN_IF_ERROR(RunBound(inputs, values));
    outputs.resize(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      if (!values[i].is_tensor()) {
        return InvalidArgumentError(
            "output '" + graph_.outputs[i].name + "' of subgraph '" + graph_.name + "' is " +
            values[i].Describe() +
            ", not a tensor; run the model with Session::RunValues (Executable::RunValues)");
      }
      outputs[i] = std::move(values[i].mutable_tensor());
    }
    return Status::Ok();
  }

  Status RunValues(std::span<const Value> inputs, std::vector<Value>& outputs) override {
    return RunBound(inputs, outputs);
  }

  void EnableProfiling() override {
    std::call_once(profiling_once_, [this] {
      node_nanoseconds_ = std::make_unique<std::atomic<int64_t>[]>(kernels_.size());
      node_runs_ = std::make_unique<std::atomic<int64_t>[]>(kernels_.size());
      profiling_.store(true, std::memory_order_release);
    });
  }

  std::vector<NodeTime> NodeTimes() const override {
    if (!profiling_.load(std::memory_order_acquire)) return {};
    std::vector<NodeTime> times;
    times.reserve(kernels_.size());
    for (size_t n = 0; n < kernels_.size(); ++n) {
      const ir::Node& node = graph_.nodes[n];
      times.push_back(NodeTime{node.name,
                               node.op_type,
                               {},
                               node_runs_[n].load(std::memory_order_relaxed),
                               node_nanoseconds_[n].load(std::memory_order_relaxed) * 1e-6});
    }
    return times;
  }

 private:
  // Runs with `inputs` (tensors or values) bound to the input slots.
  template <typename Input>
  Status RunBound(std::span<const Input> inputs, std::vector<Value>& outputs) {
    if (inputs.size() != plan_.input_slots.size()) {
      return InvalidArgumentError("subgraph '" + graph_.name + "' takes " +
                                  std::to_string(plan_.input_slots.size()) + " inputs, got " +
                                  std::to_string(inputs.size()));
    }
    thread_pool_.SpreadWorkersAfterIdle();
    std::unique_ptr<RunState> state = AcquireState();
    state->values.assign(static_cast<size_t>(plan_.num_slots), Value());
    for (size_t i = 0; i < inputs.size(); ++i) {
      state->values[static_cast<size_t>(plan_.input_slots[i])] = inputs[i];
    }
    Status status = RunWith(*state, outputs);
    for (Value& v : state->values) v = Value();  // drop references; pooled buffers stay
    ReleaseState(std::move(state));
    return status;
  }

  Status RunWith(RunState& state, std::vector<Value>& outputs) {
    for (const auto& [slot, name] : plan_.constant_slots) {
      state.values[static_cast<size_t>(slot)] = graph_.initializers.at(name);
    }
    const bool profiling = profiling_.load(std::memory_order_acquire);
    for (size_t n = 0; n < kernels_.size(); ++n) {
      const ir::Node& node = graph_.nodes[n];
      NodeContext context(node, plan_.node_inputs[n], plan_.node_outputs[n],
                          plan_.release_after[n], plan_.placements, state, thread_pool_);
      const auto start =
          profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
      Status status = kernels_[n]->Compute(context);
      if (profiling) {
        const auto elapsed = std::chrono::steady_clock::now() - start;
        node_nanoseconds_[n].fetch_add(
            std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count(),
            std::memory_order_relaxed);
        node_runs_[n].fetch_add(1, std::memory_order_relaxed);
      }
      if (!status.ok()) {
        if (status.message().find("'" + node.name + "'") != std::string::npos) return status;
        return std::move(status).WithContext(node.Describe());
      }
      for (int s : plan_.node_outputs[n]) {
        if (s != MemoryPlan::kAbsent && !state.values[static_cast<size_t>(s)].defined()) {
          return InternalError(node.Describe() + ": kernel did not produce all its outputs");
        }
      }
      for (int s : plan_.release_after[n]) {
        Release(state.values[static_cast<size_t>(s)], state.pool);
      }
      // R5.4: higher-priority work may run here, and a cancelled task stops here.
      if (n + 1 < kernels_.size()) UH_RETURN_IF_ERROR(PreemptionPoint());
    }
    outputs.resize(plan_.output_slots.size());
    for (size_t i = 0; i < plan_.output_slots.size(); ++i) {
      UH_ASSIGN_OR_RETURN(outputs[i],
                          OwnedOutput(state.values[static_cast<size_t>(plan_.output_slots[i])]));
    }
    return Status::Ok();
  }

  // An output that is (a view of) a weight, or a sequence holding one, is copied: a caller
  // writing into it must not change the model.
  Result<Value> OwnedOutput(const Value& value) const {
    auto owned = [this](const Tensor& tensor) -> Result<Tensor> {
      if (tensor.buffer() && constant_buffers_.count(tensor.buffer().get())) return tensor.Clone();
      return tensor;
    };
    if (value.is_tensor()) {
      UH_ASSIGN_OR_RETURN(Tensor tensor, owned(value.tensor()));
      return Value(std::move(tensor));
    }
    if (!value.is_sequence()) return value;
    std::vector<Tensor> elements;
    elements.reserve(value.elements().size());
    for (const Tensor& element : value.elements()) {
      UH_ASSIGN_OR_RETURN(Tensor copy, owned(element));
      elements.push_back(std::move(copy));
    }
    return Value::Sequence(value.element_dtype(), std::move(elements));
  }

  std::unique_ptr<RunState> AcquireState() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_states_.empty()) return std::make_unique<RunState>();
    std::unique_ptr<RunState> state = std::move(idle_states_.back());
    idle_states_.pop_back();
    return state;
  }

  void ReleaseState(std::unique_ptr<RunState> state) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_states_.push_back(std::move(state));
  }

  const ir::Graph graph_;
  const MemoryPlan plan_;
  const std::vector<std::unique_ptr<Kernel>> kernels_;
  ThreadPool& thread_pool_;
  std::unordered_set<const Buffer*> constant_buffers_;
  // Per-node totals, made once by EnableProfiling; runs already going may miss a node or two.
  std::once_flag profiling_once_;
  std::atomic<bool> profiling_{false};
  std::unique_ptr<std::atomic<int64_t>[]> node_nanoseconds_;
  std::unique_ptr<std::atomic<int64_t>[]> node_runs_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<RunState>> idle_states_;
};

}  // namespace

Result<std::shared_ptr<Executable>> CompileWithKernels(const ir::Graph& subgraph,
                                                       const KernelRegistry& registry,
                                                       ThreadPool& thread_pool) {
  ir::Graph graph = subgraph;
  UH_RETURN_IF_ERROR(ir::TopologicalSort(graph));
  UH_ASSIGN_OR_RETURN(MemoryPlan plan, PlanMemory(graph));
  std::vector<std::unique_ptr<Kernel>> kernels;
  kernels.reserve(graph.nodes.size());
  for (const ir::Node& node : graph.nodes) {
    KernelCreateInfo info{node, graph};
    UH_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, registry.Create(info));
    kernels.push_back(std::move(kernel));
  }
  return std::shared_ptr<Executable>(std::make_shared<KernelExecutable>(
      std::move(graph), std::move(plan), std::move(kernels), thread_pool));
}

}  // namespace unihal::hal
