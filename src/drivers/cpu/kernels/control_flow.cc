// Control flow: If, Loop and Scan. Each kernel compiles its subgraphs once, at kernel creation,
// with the registry that creates it, and runs the compiled body per branch or iteration (see
// compiled_subgraph.h). If's branches and Loop's carried values may be sequences or optionals;
// scan outputs are tensors.
#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/compiled_subgraph.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "unihal/value.h"

namespace unihal::cpu {
namespace {

// A body's output where only a tensor will do (a condition, a scan output, a Scan state).
Result<Tensor> TensorOf(const ir::Node& node, Value value, const std::string& what) {
  if (!value.is_tensor()) {
    return InvalidArgumentError(node.Describe() + ": " + what + " must be a tensor, got " +
                                value.Describe());
  }
  return std::move(value.mutable_tensor());
}

// Body outputs that must all be tensors (Scan's).
Result<std::vector<Tensor>> TensorsOf(const ir::Node& node, std::vector<Value> values) {
  std::vector<Tensor> tensors;
  tensors.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    UH_ASSIGN_OR_RETURN(Tensor tensor,
                        TensorOf(node, std::move(values[i]), "body output " + std::to_string(i)));
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

// The value of a one-element bool tensor.
Result<bool> BoolScalar(const ir::Node& node, const Tensor& value, const std::string& what) {
  if (value.dtype() != DType::kBool || value.num_elements() != 1) {
    return InvalidArgumentError(node.Describe() + ": " + what +
                                " must be a bool tensor with one element, got " + value.Describe());
  }
  return *value.data_as<bool>() != false;
}

// The number of elements of `shape` before `axis`.
int64_t OuterCount(const Shape& shape, int64_t axis) {
  int64_t count = 1;
  for (int64_t d = 0; d < axis; ++d) count *= shape[static_cast<size_t>(d)];
  return count;
}

// `value`[..., index, ...] along `axis`, with that axis removed.
Result<Tensor> SliceAlongAxis(const Tensor& value, int64_t axis, int64_t index) {
  Shape shape = value.shape();
  const int64_t length = shape[static_cast<size_t>(axis)];
  shape.erase(shape.begin() + axis);
  UH_ASSIGN_OR_RETURN(Tensor slice, Tensor::Allocate(value.dtype(), shape));
  const int64_t outer = OuterCount(value.shape(), axis);
  const size_t inner = outer == 0 ? 0 : slice.nbytes() / static_cast<size_t>(outer);
  const auto* src = static_cast<const uint8_t*>(value.data());
  auto* dst = static_cast<uint8_t*>(slice.data());
  for (int64_t o = 0; o < outer; ++o) {
    std::memcpy(dst + static_cast<size_t>(o) * inner,
                src + static_cast<size_t>(o * length + index) * inner, inner);
  }
  return slice;
}

// Stacks same-shaped `items` along a new `axis` (reversed order when `reverse`).
Result<Tensor> StackAlongAxis(const ir::Node& node, const std::string& what,
                              const std::vector<Tensor>& items, int64_t axis, bool reverse) {
  const Tensor& first = items.front();
  for (const Tensor& item : items) {
    if (item.dtype() != first.dtype() || item.shape() != first.shape()) {
      return InvalidArgumentError(node.Describe() + ": " + what + " is " + first.Describe() +
                                  " in one iteration and " + item.Describe() +
                                  " in another; every iteration must give the same type");
    }
  }
  UH_ASSIGN_OR_RETURN(const int64_t at, NormalizeAxis(node, axis, first.rank() + 1));
  const int64_t length = static_cast<int64_t>(items.size());
  Shape shape = first.shape();
  shape.insert(shape.begin() + at, length);
  UH_ASSIGN_OR_RETURN(Tensor stacked, Tensor::Allocate(first.dtype(), shape));
  const int64_t outer = OuterCount(first.shape(), at);
  const size_t inner = outer == 0 ? 0 : first.nbytes() / static_cast<size_t>(outer);
  auto* dst = static_cast<uint8_t*>(stacked.data());
  for (int64_t p = 0; p < length; ++p) {
    const auto* src = static_cast<const uint8_t*>(
        items[static_cast<size_t>(reverse ? length - 1 - p : p)].data());
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(dst + static_cast<size_t>(o * length + p) * inner,
                  src + static_cast<size_t>(o) * inner, inner);
    }
  }
  return stacked;
}

// A scan output after zero iterations: its per-iteration type comes from the body's output.
Result<Tensor> EmptyScanOutput(const ir::Node& node, const ir::ValueInfo& info, int64_t axis) {
  std::optional<Shape> item_shape = info.StaticShape();
  if (info.dtype == DType::kUndefined || !item_shape) {
    return UnimplementedError(node.Describe() +
                              ": ran zero iterations and the body does not "
                              "declare the static type of scan output '" +
                              info.name + "'");
  }
  UH_ASSIGN_OR_RETURN(const int64_t at,
                      NormalizeAxis(node, axis, static_cast<int64_t>(item_shape->size()) + 1));
  item_shape->insert(item_shape->begin() + at, 0);
  return Tensor::Allocate(info.dtype, *item_shape);
}

// Stacked scan output, or the empty one when there were no iterations.
Result<Tensor> ScanOutput(const ir::Node& node, const ir::ValueInfo& info,
                          const std::vector<Tensor>& items, int64_t axis, bool reverse) {
  if (items.empty()) return EmptyScanOutput(node, info, axis);
  return StackAlongAxis(node, "scan output '" + info.name + "'", items, axis, reverse);
}

// ---------------------------------------------------------------------------------------------
// If

class IfKernel final : public hal::Kernel {
 public:
  static Result<std::unique_ptr<hal::Kernel>> Create(const hal::KernelCreateInfo& info,
                                                     const hal::KernelRegistry& registry) {
    const ir::Node& node = info.node;
    UH_ASSIGN_OR_RETURN(const size_t num_explicit, NumExplicitInputs(node));
    if (num_explicit != 1) {
      return InvalidArgumentError(node.Describe() + " takes 1 input (cond), got " +
                                  std::to_string(num_explicit));
    }
    UH_ASSIGN_OR_RETURN(CompiledSubgraph then_branch,
                        CompiledSubgraph::Compile(info, "then_branch", 1, registry));
    UH_ASSIGN_OR_RETURN(CompiledSubgraph else_branch,
                        CompiledSubgraph::Compile(info, "else_branch", 1, registry));
    for (const CompiledSubgraph* branch : {&then_branch, &else_branch}) {
      if (branch->num_inputs() != 0) {
        return InvalidArgumentError(node.Describe() + ": branch '" + branch->graph().name +
                                    "' declares inputs; If branches take none");
      }
      UH_RETURN_IF_ERROR(
          CheckOutputCount(node, "branch '" + branch->graph().name + "'", branch->num_outputs()));
    }
    return std::unique_ptr<hal::Kernel>(
        new IfKernel(std::move(then_branch), std::move(else_branch)));
  }

  Status Compute(hal::KernelContext& context) const override {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Tensor* cond, NeedInput(context, 0));
    UH_ASSIGN_OR_RETURN(const bool take_then, BoolScalar(node, *cond, "cond"));
    std::vector<Value> outputs;
    UH_RETURN_IF_ERROR((take_then ? then_ : else_).Run(context, {}, outputs));
    for (size_t i = 0; i < outputs.size() && i < context.num_outputs(); ++i) {
      UH_RETURN_IF_ERROR(context.SetOutputValue(i, std::move(outputs[i])));
    }
    return Status::Ok();
  }

 private:
  IfKernel(CompiledSubgraph then_branch, CompiledSubgraph else_branch)
      : then_(std::move(then_branch)), else_(std::move(else_branch)) {}

  CompiledSubgraph then_;
  CompiledSubgraph else_;
};

// ---------------------------------------------------------------------------------------------
// Loop

// The loop's stopping rule: a trip count, a condition, or both.
struct LoopLimits {
  bool has_trip_count = false;
  int64_t trip_count = 0;
  bool has_cond = false;
  bool cond = true;
};

class LoopKernel final : public hal::Kernel {
 public:
  static Result<std::unique_ptr<hal::Kernel>> Create(const hal::KernelCreateInfo& info,
                                                     const hal::KernelRegistry& registry) {
    const ir::Node& node = info.node;
    UH_ASSIGN_OR_RETURN(const size_t num_explicit, NumExplicitInputs(node));
    UH_ASSIGN_OR_RETURN(CompiledSubgraph body,
                        CompiledSubgraph::Compile(info, "body", num_explicit, registry));
    if (body.num_inputs() < 2 || body.num_outputs() < body.num_inputs() - 1) {
      return InvalidArgumentError(
          node.Describe() +
          ": the body must take (iteration_num, cond, N loop-carried values) "
          "and give (cond, N loop-carried values, K scan outputs); it takes " +
          std::to_string(body.num_inputs()) + " inputs and gives " +
          std::to_string(body.num_outputs()) + " outputs");
    }
    const size_t num_carried = body.num_inputs() - 2;
    if (num_explicit != 2 + num_carried) {
      return InvalidArgumentError(node.Describe() + " has " + std::to_string(num_explicit) +
                                  " inputs, but its body has " + std::to_string(num_carried) +
                                  " loop-carried values, so it needs M, cond and " +
                                  std::to_string(num_carried) + " initial values");
    }
    const size_t num_scans = body.num_outputs() - 1 - num_carried;
    UH_RETURN_IF_ERROR(
        CheckOutputCount(node, "the body (after its condition)", num_carried + num_scans));
    return std::unique_ptr<hal::Kernel>(new LoopKernel(std::move(body), num_carried, num_scans));
  }

  Status Compute(hal::KernelContext& context) const override {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const LoopLimits limits, ReadLimits(context));
    std::vector<Value> carried;  // tensors, sequences or optionals
    for (size_t i = 0; i < num_carried_; ++i) {
      const Value* initial = context.input_value(2 + i);
      if (!initial) {
        return InvalidArgumentError(node.Describe() + ": loop-carried value " + std::to_string(i) +
                                    " (input " + std::to_string(2 + i) + ") has no initial value");
      }
      carried.push_back(*initial);
    }
    std::vector<std::vector<Tensor>> scans(num_scans_);
    bool cond = limits.cond;
    for (int64_t iteration = 0; cond && (!limits.has_trip_count || iteration < limits.trip_count);
         ++iteration) {
      std::vector<Value> inputs = {Tensor::Scalar<int64_t>(iteration), Tensor::Scalar<bool>(cond)};
      inputs.insert(inputs.end(), carried.begin(), carried.end());
      std::vector<Value> outputs;
      Status run = body_.Run(context, std::move(inputs), outputs);
      if (!run.ok()) {
        return std::move(run).WithContext(node.Describe() + ", iteration " +
                                          std::to_string(iteration));
      }
      UH_ASSIGN_OR_RETURN(const Tensor next_cond,
                          TensorOf(node, std::move(outputs[0]), "the body's condition"));
      UH_ASSIGN_OR_RETURN(const bool next, BoolScalar(node, next_cond, "the body's condition"));
      // Without a cond input the loop is a for loop: the body's condition is ignored.
      if (limits.has_cond) cond = next;
      for (size_t i = 0; i < num_carried_; ++i) carried[i] = std::move(outputs[1 + i]);
      for (size_t k = 0; k < num_scans_; ++k) {
        UH_ASSIGN_OR_RETURN(Tensor item, TensorOf(node, std::move(outputs[1 + num_carried_ + k]),
                                                  "scan output " + std::to_string(k)));
        scans[k].push_back(std::move(item));
      }
    }
    for (size_t i = 0; i < num_carried_; ++i) {
      UH_RETURN_IF_ERROR(context.SetOutputValue(i, std::move(carried[i])));
    }
    for (size_t k = 0; k < num_scans_; ++k) {
      const ir::ValueInfo& info = body_.graph().outputs[1 + num_carried_ + k];
      UH_ASSIGN_OR_RETURN(Tensor stacked, ScanOutput(node, info, scans[k], 0, false));
      UH_RETURN_IF_ERROR(context.SetOutput(num_carried_ + k, std::move(stacked)));
    }
    return Status::Ok();
  }

 private:
  LoopKernel(CompiledSubgraph body, size_t num_carried, size_t num_scans)
      : body_(std::move(body)), num_carried_(num_carried), num_scans_(num_scans) {}

  static Result<LoopLimits> ReadLimits(const hal::KernelContext& context) {
    const ir::Node& node = context.node();
    LoopLimits limits;
    if (const Tensor* m = context.input(0)) {
      if (m->dtype() != DType::kI64 || m->num_elements() != 1) {
        return InvalidArgumentError(
            node.Describe() + ": M must be an int64 tensor with one element, got " + m->Describe());
      }
      limits.has_trip_count = true;
      limits.trip_count = *m->data_as<int64_t>();
    }
    if (const Tensor* cond = context.input(1)) {
      limits.has_cond = true;
      UH_ASSIGN_OR_RETURN(limits.cond, BoolScalar(node, *cond, "cond"));
    }
    if (!limits.has_trip_count && !limits.has_cond) {
      return InvalidArgumentError(node.Describe() +
                                  " has neither M nor cond, so it would never stop");
    }
    return limits;
  }

  CompiledSubgraph body_;
  size_t num_carried_;
  size_t num_scans_;
};

// ---------------------------------------------------------------------------------------------
// Scan

// Which axis each scan input and output runs along, and in which direction (1 = reverse).
struct ScanLayout {
  std::vector<int64_t> input_axes;
  std::vector<int64_t> input_directions;
  std::vector<int64_t> output_axes;
  std::vector<int64_t> output_directions;
};

// An int list attribute with `count` entries, or `count` zeros when absent.
Result<std::vector<int64_t>> PerValueInts(const ir::Node& node, const std::string& key,
                                          size_t count, bool is_direction) {
  UH_ASSIGN_OR_RETURN(std::vector<int64_t> values,
                      node.GetInts(key, std::vector<int64_t>(count, 0)));
  if (values.size() != count) {
    return InvalidArgumentError(node.Describe() + ": attribute '" + key + "' has " +
                                std::to_string(values.size()) + " entries, expected " +
                                std::to_string(count));
  }
  for (int64_t v : values) {
    if (is_direction && v != 0 && v != 1) {
      return InvalidArgumentError(node.Describe() + ": attribute '" + key +
                                  "' entries must be 0 (forward) or 1 (reverse), got " +
                                  std::to_string(v));
    }
  }
  return values;
}

class ScanKernel final : public hal::Kernel {
 public:
  static Result<std::unique_ptr<hal::Kernel>> Create(const hal::KernelCreateInfo& info,
                                                     const hal::KernelRegistry& registry) {
    const ir::Node& node = info.node;
    UH_ASSIGN_OR_RETURN(const size_t num_explicit, NumExplicitInputs(node));
    UH_ASSIGN_OR_RETURN(CompiledSubgraph body,
                        CompiledSubgraph::Compile(info, "body", num_explicit, registry));
    UH_ASSIGN_OR_RETURN(const int64_t num_scan_inputs, node.GetInt("num_scan_inputs"));
    if (num_scan_inputs < 1 || static_cast<size_t>(num_scan_inputs) > body.num_inputs()) {
      return InvalidArgumentError(node.Describe() + ": num_scan_inputs is " +
                                  std::to_string(num_scan_inputs) + " but the body takes " +
                                  std::to_string(body.num_inputs()) + " inputs");
    }
    const size_t num_scan_in = static_cast<size_t>(num_scan_inputs);
    const size_t num_states = body.num_inputs() - num_scan_in;
    const size_t leading = node.opset < 9 ? 1 : 0;  // opset 8's sequence_lens
    if (num_explicit != leading + num_states + num_scan_in || body.num_outputs() < num_states) {
      return InvalidArgumentError(node.Describe() + " has " + std::to_string(num_explicit) +
                                  " inputs, but its body takes " + std::to_string(num_states) +
                                  " state and " + std::to_string(num_scan_in) +
                                  " scan inputs and gives " + std::to_string(body.num_outputs()) +
                                  " outputs");
    }
    const size_t num_scan_out = body.num_outputs() - num_states;
    UH_RETURN_IF_ERROR(CheckOutputCount(node, "the body", body.num_outputs()));
    UH_ASSIGN_OR_RETURN(ScanLayout layout, ReadLayout(node, num_scan_in, num_scan_out));
    return std::unique_ptr<hal::Kernel>(
        new ScanKernel(std::move(body), num_states, std::move(layout)));
  }

  Status Compute(hal::KernelContext& context) const override {
    if (context.node().opset < 9) return ComputeBatched(context);
    std::vector<Tensor> states, scan_inputs;
    for (size_t i = 0; i < body_inputs(); ++i) {
      UH_ASSIGN_OR_RETURN(const Tensor* value, NeedInput(context, i));
      (i < num_states_ ? states : scan_inputs).push_back(*value);
    }
    UH_ASSIGN_OR_RETURN(std::vector<Tensor> outputs,
                        RunScan(context, std::move(states), scan_inputs));
    for (size_t i = 0; i < outputs.size(); ++i) {
      UH_RETURN_IF_ERROR(context.SetOutput(i, std::move(outputs[i])));
    }
    return Status::Ok();
  }

 private:
  ScanKernel(CompiledSubgraph body, size_t num_states, ScanLayout layout)
      : body_(std::move(body)), num_states_(num_states), layout_(std::move(layout)) {}

  size_t body_inputs() const { return body_.num_inputs(); }

  static Result<ScanLayout> ReadLayout(const ir::Node& node, size_t num_in, size_t num_out) {
    ScanLayout layout;
    if (node.opset < 9) {
      // Opset 8 scans along axis 1 of [batch, sequence, ...]; ComputeBatched peels the batch.
      layout.input_axes.assign(num_in, 0);
      UH_ASSIGN_OR_RETURN(layout.input_directions, PerValueInts(node, "directions", num_in, true));
      layout.output_axes.assign(num_out, 0);
      layout.output_directions.assign(num_out, 0);
      return layout;
    }
    UH_ASSIGN_OR_RETURN(layout.input_axes, PerValueInts(node, "scan_input_axes", num_in, false));
    UH_ASSIGN_OR_RETURN(layout.input_directions,
                        PerValueInts(node, "scan_input_directions", num_in, true));
    UH_ASSIGN_OR_RETURN(layout.output_axes, PerValueInts(node, "scan_output_axes", num_out, false));
    UH_ASSIGN_OR_RETURN(layout.output_directions,
                        PerValueInts(node, "scan_output_directions", num_out, true));
    return layout;
  }

  // The scan's sequence length: the same along every scan input's axis. Normalises the axes.
  Result<int64_t> SequenceLength(const ir::Node& node, const std::vector<Tensor>& scan_inputs,
                                 std::vector<int64_t>& axes) const {
    int64_t length = -1;
    for (size_t j = 0; j < scan_inputs.size(); ++j) {
      const Tensor& input = scan_inputs[j];
      if (input.rank() < 1) {
        return InvalidArgumentError(node.Describe() + ": scan input " + std::to_string(j) +
                                    " is a scalar; it needs an axis to scan along");
      }
      UH_ASSIGN_OR_RETURN(axes[j], NormalizeAxis(node, layout_.input_axes[j], input.rank()));
      const int64_t here = input.dim(axes[j]);
      if (length >= 0 && here != length) {
        return InvalidArgumentError(node.Describe() +
                                    ": scan inputs have different sequence "
                                    "lengths (" +
                                    std::to_string(length) + " and " + std::to_string(here) + ")");
      }
      length = here;
    }
    return length;
  }

  // Runs the body over the scan inputs; returns the final states, then the scan outputs.
  Result<std::vector<Tensor>> RunScan(const hal::KernelContext& context, std::vector<Tensor> states,
                                      const std::vector<Tensor>& scan_inputs) const {
    const ir::Node& node = context.node();
    std::vector<int64_t> axes(scan_inputs.size());
    UH_ASSIGN_OR_RETURN(const int64_t length, SequenceLength(node, scan_inputs, axes));
    const size_t num_scan_out = body_.num_outputs() - num_states_;
    std::vector<std::vector<Tensor>> scans(num_scan_out);
    for (int64_t t = 0; t < length; ++t) {
      std::vector<Value> inputs(states.begin(), states.end());
      for (size_t j = 0; j < scan_inputs.size(); ++j) {
        const int64_t index = layout_.input_directions[j] == 1 ? length - 1 - t : t;
        UH_ASSIGN_OR_RETURN(Tensor slice, SliceAlongAxis(scan_inputs[j], axes[j], index));
        inputs.push_back(std::move(slice));
      }
      std::vector<Value> values;
      Status run = body_.Run(context, std::move(inputs), values);
      if (!run.ok()) {
        return std::move(run).WithContext(node.Describe() + ", iteration " + std::to_string(t));
      }
      UH_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, TensorsOf(node, std::move(values)));
      for (size_t i = 0; i < num_states_; ++i) states[i] = std::move(outputs[i]);
      for (size_t k = 0; k < num_scan_out; ++k) {
        scans[k].push_back(std::move(outputs[num_states_ + k]));
      }
    }
    std::vector<Tensor> results = std::move(states);
    for (size_t k = 0; k < num_scan_out; ++k) {
      UH_ASSIGN_OR_RETURN(Tensor stacked,
                          ScanOutput(node, body_.graph().outputs[num_states_ + k], scans[k],
                                     layout_.output_axes[k], layout_.output_directions[k] == 1));
      results.push_back(std::move(stacked));
    }
    return results;
  }

  // Opset 8: inputs are (sequence_lens, states [batch, ...], scan inputs [batch, seq, ...]);
  // every batch entry is its own scan.
  Status ComputeBatched(hal::KernelContext& context) const {
    const ir::Node& node = context.node();
    std::vector<Tensor> values;
    for (size_t i = 0; i < body_inputs(); ++i) {
      UH_ASSIGN_OR_RETURN(const Tensor* value, NeedInput(context, 1 + i));
      if (value->rank() < 1 || (!values.empty() && value->dim(0) != values.front().dim(0))) {
        return InvalidArgumentError(node.Describe() +
                                    ": every state and scan input needs the "
                                    "same leading batch dimension; input " +
                                    std::to_string(1 + i) + " is " + value->Describe());
      }
      values.push_back(*value);
    }
    const int64_t batch = values.front().dim(0);
    UH_RETURN_IF_ERROR(CheckFullSequences(context, values, batch));
    if (batch == 0) {
      return UnimplementedError(node.Describe() + ": opset 8 Scan with an empty batch");
    }
    std::vector<std::vector<Tensor>> per_output(body_.num_outputs());
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<Tensor> states, scan_inputs;
      for (size_t i = 0; i < values.size(); ++i) {
        UH_ASSIGN_OR_RETURN(Tensor slice, SliceAlongAxis(values[i], 0, b));
        (i < num_states_ ? states : scan_inputs).push_back(std::move(slice));
      }
      UH_ASSIGN_OR_RETURN(std::vector<Tensor> outputs,
                          RunScan(context, std::move(states), scan_inputs));
      for (size_t i = 0; i < outputs.size(); ++i) per_output[i].push_back(std::move(outputs[i]));
    }
    for (size_t i = 0; i < per_output.size(); ++i) {
      UH_ASSIGN_OR_RETURN(Tensor stacked, StackAlongAxis(node, "output " + std::to_string(i),
                                                         per_output[i], 0, false));
      UH_RETURN_IF_ERROR(context.SetOutput(i, std::move(stacked)));
    }
    return Status::Ok();
  }

  // Opset 8's sequence_lens, when given, must cover each whole sequence: shorter ones (padded
  // batches) are not implemented.
  Status CheckFullSequences(const hal::KernelContext& context, const std::vector<Tensor>& values,
                            int64_t batch) const {
    const Tensor* lens = context.input(0);
    if (!lens) return Status::Ok();
    const ir::Node& node = context.node();
    if (lens->num_elements() != batch) {
      return InvalidArgumentError(node.Describe() + ": sequence_lens has " +
                                  std::to_string(lens->num_elements()) +
                                  " entries for a batch of " + std::to_string(batch));
    }
    UH_ASSIGN_OR_RETURN(std::vector<int64_t> lengths, lens->ToInt64Vector());
    const Tensor& scan_input = values[num_states_];
    const int64_t full = scan_input.rank() >= 2 ? scan_input.dim(1) : -1;
    for (int64_t length : lengths) {
      if (length != full) {
        return UnimplementedError(node.Describe() + ", opset " + std::to_string(node.opset) +
                                  ": sequence_lens shorter than the sequence (" +
                                  std::to_string(length) + " of " + std::to_string(full) +
                                  ") is not implemented");
      }
    }
    return Status::Ok();
  }

  CompiledSubgraph body_;
  size_t num_states_;
  ScanLayout layout_;
};

}  // namespace

void RegisterControlFlowKernels(hal::KernelRegistry& registry) {
  // The kernels compile their subgraphs with the registry they are registered in, which must
  // outlive them (it does: a device owns its registry and its executables' kernels).
  const hal::KernelRegistry* kernels = &registry;
  SupportsFn supports = [kernels](const hal::KernelCreateInfo& info) {
    return SubgraphsSupported(info, *kernels);
  };
  auto factory = [kernels](auto create) -> hal::KernelFactory {
    return [kernels, create](const hal::KernelCreateInfo& info) { return create(info, *kernels); };
  };
  // If's branches and Loop's carried values may be sequences and optionals.
  hal::KernelDef if_def =
      ReferenceKernelDef("If", 1, INT_MAX, factory(&IfKernel::Create), supports);
  if_def.accepts_non_tensor_values = true;
  registry.Register(std::move(if_def));
  hal::KernelDef loop_def =
      ReferenceKernelDef("Loop", 1, INT_MAX, factory(&LoopKernel::Create), supports);
  loop_def.accepts_non_tensor_values = true;
  registry.Register(std::move(loop_def));
  registry.Register(ReferenceKernelDef("Scan", 8, INT_MAX, factory(&ScanKernel::Create), supports));
}

}  // namespace unihal::cpu
