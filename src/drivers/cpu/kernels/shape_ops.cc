// Reference shape kernels. They move elements without looking at them, so every dtype works
// (dispatch is on element size). Reshape Flatten Squeeze Unsqueeze Identity Dropout return
// views that share the input's storage; the executor only recycles a buffer nobody else holds.
#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <string>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/broadcast.h"
#include "drivers/cpu/kernels/kernel_util.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

std::string IntsToString(const std::vector<int64_t>& values) { return ShapeToString(values); }

// Copies `plan` (one operand: the source, with element strides) into contiguous `dst`.
void StridedCopy(hal::ThreadPool& pool, const IterationPlan<1>& plan, const Tensor& src,
                 Tensor& dst) {
  VisitElementSize(DTypeSize(src.dtype()), [&](auto tag) {
    using U = decltype(tag);
    const U* from = static_cast<const U*>(src.data());
    U* to = static_cast<U*>(dst.data());
    ParallelForEachRun(pool, plan,
                       [&](int64_t o, const std::array<int64_t, 1>& at, int64_t n,
                           const std::array<int64_t, 1>& step) {
                         if (step[0] == 1) {
                           std::memcpy(to + o, from + at[0], static_cast<size_t>(n) * sizeof(U));
                         } else {
                           for (int64_t i = 0; i < n; ++i) to[o + i] = from[at[0] + i * step[0]];
                         }
                       });
  });
}

Status SetView(KernelContext& context, size_t output, const Tensor& input, Shape shape) {
  UH_ASSIGN_OR_RETURN(Tensor view, input.Reshaped(std::move(shape)));
  return context.SetOutput(output, std::move(view));
}

// ---- Reshape ----

Result<Shape> ResolveReshape(const ir::Node& node, const Shape& input,
                             const std::vector<int64_t>& requested, bool allowzero) {
  Shape out(requested.begin(), requested.end());
  int64_t infer_at = -1;
  int64_t known = 1;
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError(node.Describe() + ": cannot reshape " + ShapeToString(input) +
                                " to " + IntsToString(requested) + ": " + why);
  };
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer_at >= 0) return bad("more than one dim is -1; at most one may be inferred");
      infer_at = static_cast<int64_t>(i);
      continue;
    }
    if (out[i] < -1) return bad("dim " + std::to_string(i) + " is negative");
    if (out[i] == 0 && !allowzero) {
      if (i >= input.size()) {
        return bad("dim " + std::to_string(i) + " is 0 (copy the input dim) but the input has " +
                   "only " + std::to_string(input.size()) + " dims");
      }
      out[i] = input[i];
    }
    known *= out[i];
  }
  const int64_t count = NumElements(input);
  if (infer_at >= 0) {
    if (known == 0 || count % known != 0) {
      return bad("the -1 dim cannot be inferred: " + std::to_string(count) +
                 " elements do not divide into the other dims' " + std::to_string(known));
    }
    out[static_cast<size_t>(infer_at)] = count / known;
  } else if (known != count) {
    return bad("the input has " + std::to_string(count) + " elements, the new shape " +
               std::to_string(known) + "; they must match");
  }
  return out;
}

Status ComputeReshape(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  // The shape was an attribute before opset 5 and is input 1 since.
  UH_ASSIGN_OR_RETURN(const OptionalInts requested,
                      Int64sFromInputOrAttribute(context, 1, "shape", 5));
  if (!requested.given) {
    return InvalidArgumentError(node.Describe() + ": the target shape is missing; give " +
                                (node.opset >= 5 ? "input 1 (shape)" : "the 'shape' attribute"));
  }
  UH_ASSIGN_OR_RETURN(const int64_t allowzero, node.GetInt("allowzero", 0));
  UH_ASSIGN_OR_RETURN(Shape shape,
                      ResolveReshape(node, data->shape(), requested.values, allowzero != 0));
  return SetView(context, 0, *data, std::move(shape));
}

Status ComputeFlatten(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 1));
  const int64_t rank = data->rank();
  if (axis < -rank || axis > rank) {
    return InvalidArgumentError(node.Describe() + ": axis " + std::to_string(axis) +
                                " is out of range for rank " + std::to_string(rank) + " (valid: " +
                                std::to_string(-rank) + ".." + std::to_string(rank) + ")");
  }
  if (axis < 0) axis += rank;
  const Shape& s = data->shape();
  const int64_t outer = NumElements(Shape(s.begin(), s.begin() + axis));
  const int64_t inner = NumElements(Shape(s.begin() + axis, s.end()));
  return SetView(context, 0, *data, {outer, inner});
}

Status ComputeIdentity(KernelContext& context) {
  // Sequences and optionals pass through as they are.
  if (const Value* value = context.input_value(0); value && !value->is_tensor()) {
    return context.SetOutputValue(0, *value);
  }
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  return context.SetOutput(0, *data);
}

// Inference-only Dropout: Y = X, and the optional mask is all "kept".
Status ComputeDropout(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  if (node.opset >= 12) {
    if (const Tensor* training = context.input(2)) {
      if (training->dtype() != DType::kBool || training->num_elements() != 1) {
        return InvalidArgumentError(
            node.Describe() + ": training_mode must be a bool scalar, got " + training->Describe());
      }
      if (training->data_as<bool>()[0]) {
        return UnimplementedError(node.Describe() +
                                  ": training_mode is true; unihal runs "
                                  "inference only (set training_mode to false)");
      }
    }
  }
  UH_RETURN_IF_ERROR(context.SetOutput(0, *data));
  if (context.num_outputs() > 1) {
    // The mask is bool since opset 10; before it had the data's type.
    const DType mask_dtype = node.opset >= 10 ? DType::kBool : data->dtype();
    UH_ASSIGN_OR_RETURN(Tensor * mask, context.AllocateOutput(1, mask_dtype, data->shape()));
    VisitDType(mask_dtype, [&](auto tag) {
      using T = decltype(tag);
      std::fill_n(mask->data_as<T>(), mask->num_elements(), FromDouble<T>(1.0));
    });
  }
  return Status::Ok();
}

// ---- Squeeze / Unsqueeze (axes: attribute before opset 13, input 1 since) ----

Status ComputeSqueeze(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const OptionalInts axes, Int64sFromInputOrAttribute(context, 1, "axes", 13));
  const Shape& in = data->shape();
  std::vector<bool> drop(in.size(), false);
  if (!axes.given || axes.values.empty()) {
    for (size_t d = 0; d < in.size(); ++d) drop[d] = in[d] == 1;
  } else {
    UH_ASSIGN_OR_RETURN(std::vector<int64_t> normalized,
                        NormalizeAxes(node, axes.values, data->rank()));
    for (int64_t a : normalized) {
      if (in[static_cast<size_t>(a)] != 1) {
        return InvalidArgumentError(node.Describe() + ": cannot squeeze axis " + std::to_string(a) +
                                    " of " + data->Describe() + ": its size is not 1");
      }
      drop[static_cast<size_t>(a)] = true;
    }
  }
  Shape out;
  for (size_t d = 0; d < in.size(); ++d) {
    if (!drop[d]) out.push_back(in[d]);
  }
  return SetView(context, 0, *data, std::move(out));
}

Status ComputeUnsqueeze(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const OptionalInts axes, Int64sFromInputOrAttribute(context, 1, "axes", 13));
  if (!axes.given) {
    return InvalidArgumentError(node.Describe() + ": axes are missing; give " +
                                (node.opset >= 13 ? "input 1 (axes)" : "the 'axes' attribute"));
  }
  const int64_t out_rank = data->rank() + static_cast<int64_t>(axes.values.size());
  UH_ASSIGN_OR_RETURN(std::vector<int64_t> normalized, NormalizeAxes(node, axes.values, out_rank));
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : normalized) inserted[static_cast<size_t>(a)] = true;
  Shape out;
  size_t next = 0;
  for (int64_t d = 0; d < out_rank; ++d) {
    out.push_back(inserted[static_cast<size_t>(d)] ? 1 : data->shape()[next++]);
  }
  return SetView(context, 0, *data, std::move(out));
}

// ---- Transpose ----

Status ComputeTranspose(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  const int64_t rank = data->rank();
  std::vector<int64_t> reversed(static_cast<size_t>(rank));
  for (int64_t d = 0; d < rank; ++d) reversed[static_cast<size_t>(d)] = rank - 1 - d;
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> perm, node.GetInts("perm", reversed));
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  bool valid = static_cast<int64_t>(perm.size()) == rank;
  for (size_t i = 0; valid && i < perm.size(); ++i) {
    valid = perm[i] >= 0 && perm[i] < rank && !seen[static_cast<size_t>(perm[i])];
    if (valid) seen[static_cast<size_t>(perm[i])] = true;
  }
  if (!valid) {
    return InvalidArgumentError(node.Describe() + ": perm " + IntsToString(perm) +
                                " is not a permutation of the " + std::to_string(rank) +
                                " dims of " + data->Describe());
  }
  const std::vector<int64_t> in_strides = StridesOf(data->shape());
  Shape out_shape;
  std::vector<int64_t> strides;
  for (int64_t p : perm) {
    out_shape.push_back(data->dim(p));
    strides.push_back(in_strides[static_cast<size_t>(p)]);
  }
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, data->dtype(), out_shape));
  if (out->num_elements() == 0) return Status::Ok();
  StridedCopy(context.thread_pool(), MakeIterationPlan<1>(out_shape, {strides}), *data, *out);
  return Status::Ok();
}

// ---- Concat ----

Status ComputeConcat(KernelContext& context) {
  const ir::Node& node = context.node();
  std::vector<const Tensor*> inputs;
  for (size_t i = 0; i < context.num_inputs(); ++i) {
    UH_ASSIGN_OR_RETURN(const Tensor* t, NeedInput(context, i));
    inputs.push_back(t);
  }
  if (inputs.empty()) return InvalidArgumentError(node.Describe() + " needs at least one input");
  UH_ASSIGN_OR_RETURN(const int64_t axis_attr, node.GetInt("axis"));
  const Tensor& first = *inputs[0];
  UH_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(node, axis_attr, first.rank()));
  Shape out_shape = first.shape();
  out_shape[static_cast<size_t>(axis)] = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = *inputs[i];
    bool match = t.dtype() == first.dtype() && t.rank() == first.rank();
    for (int64_t d = 0; match && d < t.rank(); ++d) match = d == axis || t.dim(d) == first.dim(d);
    if (!match) {
      return InvalidArgumentError(node.Describe() + ": input " + std::to_string(i) + " is " +
                                  t.Describe() + " but input 0 is " + first.Describe() +
                                  "; all inputs need one dtype and equal dims except axis " +
                                  std::to_string(axis));
    }
    out_shape[static_cast<size_t>(axis)] += t.dim(axis);
  }
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, first.dtype(), out_shape));
  const Shape& s = first.shape();
  const int64_t outer = NumElements(Shape(s.begin(), s.begin() + axis));
  const size_t elem = DTypeSize(first.dtype());
  const int64_t inner = NumElements(Shape(s.begin() + axis + 1, s.end()));
  const size_t out_row = static_cast<size_t>(out_shape[static_cast<size_t>(axis)] * inner) * elem;
  auto* dst = static_cast<std::byte*>(out->data());
  size_t column = 0;  // byte offset of each input's block inside an output row
  for (const Tensor* t : inputs) {
    const size_t block = static_cast<size_t>(t->dim(axis) * inner) * elem;
    const auto* src = static_cast<const std::byte*>(t->data());
    // Already in place: its producer wrote it into this output (MemoryPlan::placements).
    if (block == 0 || (outer == 1 && src == dst + column)) {
      column += block;
      continue;
    }
    context.thread_pool().ParallelFor(
        outer, std::max<int64_t>(1, static_cast<int64_t>((1 << 16) / block)),
        [&](int64_t begin, int64_t end) {
          for (int64_t o = begin; o < end; ++o) {
            std::memcpy(dst + static_cast<size_t>(o) * out_row + column,
                        src + static_cast<size_t>(o) * block, block);
          }
        });
    column += block;
  }
  return Status::Ok();
}

// ---- Gather ----

Status ComputeGather(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* indices, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckDType(node, *indices, "indices", {DType::kI32, DType::kI64}));
  UH_ASSIGN_OR_RETURN(const int64_t axis_attr, node.GetInt("axis", 0));
  UH_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(node, axis_attr, data->rank()));
  UH_ASSIGN_OR_RETURN(std::vector<int64_t> index, indices->ToInt64Vector());
  const Shape& s = data->shape();
  const int64_t dim = s[static_cast<size_t>(axis)];
  for (int64_t& k : index) {
    if (k < -dim || k >= dim) {
      return InvalidArgumentError(
          node.Describe() + ": index " + std::to_string(k) + " is out of range for axis " +
          std::to_string(axis) + " of size " + std::to_string(dim) +
          " (valid: " + std::to_string(-dim) + ".." + std::to_string(dim - 1) + ")");
    }
    if (k < 0) k += dim;
  }
  Shape out_shape(s.begin(), s.begin() + axis);
  out_shape.insert(out_shape.end(), indices->shape().begin(), indices->shape().end());
  out_shape.insert(out_shape.end(), s.begin() + axis + 1, s.end());
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, data->dtype(), out_shape));
  const int64_t outer = NumElements(Shape(s.begin(), s.begin() + axis));
  const size_t block = static_cast<size_t>(NumElements(Shape(s.begin() + axis + 1, s.end()))) *
                       DTypeSize(data->dtype());
  const int64_t count = static_cast<int64_t>(index.size());
  if (block == 0 || count == 0) return Status::Ok();
  const auto* src = static_cast<const std::byte*>(data->data());
  auto* dst = static_cast<std::byte*>(out->data());
  context.thread_pool().ParallelFor(
      outer * count, std::max<int64_t>(1, static_cast<int64_t>((1 << 16) / block)),
      [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const int64_t o = r / count;
          const int64_t j = r % count;
          std::memcpy(dst + static_cast<size_t>(r) * block,
                      src + static_cast<size_t>(o * dim + index[static_cast<size_t>(j)]) * block,
                      block);
        }
      });
  return Status::Ok();
}

// ---- Slice ----

Status ComputeSlice(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  OptionalInts starts, ends, axes, steps;
  if (node.opset >= 10) {
    UH_ASSIGN_OR_RETURN(starts, OptionalInt64Input(context, 1));
    UH_ASSIGN_OR_RETURN(ends, OptionalInt64Input(context, 2));
    UH_ASSIGN_OR_RETURN(axes, OptionalInt64Input(context, 3));
    UH_ASSIGN_OR_RETURN(steps, OptionalInt64Input(context, 4));
  } else {
    UH_ASSIGN_OR_RETURN(starts, Int64sFromInputOrAttribute(context, 1, "starts", 10));
    UH_ASSIGN_OR_RETURN(ends, Int64sFromInputOrAttribute(context, 2, "ends", 10));
    UH_ASSIGN_OR_RETURN(axes, Int64sFromInputOrAttribute(context, 3, "axes", 10));
  }
  if (!starts.given || !ends.given) {
    return InvalidArgumentError(node.Describe() + ": starts and ends are required");
  }
  const size_t n = starts.values.size();
  if (!axes.given) {
    for (size_t i = 0; i < n; ++i) axes.values.push_back(static_cast<int64_t>(i));
  }
  if (!steps.given) steps.values.assign(n, 1);
  if (ends.values.size() != n || axes.values.size() != n || steps.values.size() != n) {
    return InvalidArgumentError(
        node.Describe() + ": starts, ends, axes and steps have " + std::to_string(n) + ", " +
        std::to_string(ends.values.size()) + ", " + std::to_string(axes.values.size()) + " and " +
        std::to_string(steps.values.size()) + " entries; they must have the same length");
  }
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> axis_of,
                      NormalizeAxes(node, axes.values, data->rank()));
  const Shape& in = data->shape();
  const std::vector<int64_t> in_strides = StridesOf(in);
  Shape out_shape = in;
  std::vector<int64_t> strides = in_strides;
  int64_t base = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t a = static_cast<size_t>(axis_of[i]);
    const int64_t dim = in[a];
    const int64_t step = steps.values[i];
    if (step == 0) {
      return InvalidArgumentError(node.Describe() + ": step for axis " + std::to_string(a) +
                                  " is 0; steps must be non-zero");
    }
    int64_t start = starts.values[i];
    int64_t end = ends.values[i];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    // Clamping per the ONNX spec: [0, dim] going forward, [0, dim-1] / [-1, dim-1] backward.
    int64_t length = 0;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      if (end > start) length = (end - start - 1) / step + 1;
    } else if (dim > 0) {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      if (start > end) length = (start - end - 1) / -step + 1;
    }
    out_shape[a] = length;
    if (length > 0) base += start * in_strides[a];
    strides[a] = in_strides[a] * step;
  }
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, data->dtype(), out_shape));
  if (out->num_elements() == 0) return Status::Ok();
  StridedCopy(context.thread_pool(), MakeIterationPlan<1>(out_shape, {strides}, {base}), *data,
              *out);
  return Status::Ok();
}

// ---- Expand ----

Status ComputeExpand(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const OptionalInts shape, OptionalInt64Input(context, 1));
  if (!shape.given) return InvalidArgumentError(node.Describe() + ": input 1 (shape) is missing");
  const Shape shapes[] = {data->shape(), shape.values};
  Result<Shape> out_shape = BroadcastShapes(shapes);
  if (!out_shape.ok()) {
    return InvalidArgumentError(node.Describe() + ": " + out_shape.status().message());
  }
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, data->dtype(), *out_shape));
  if (out->num_elements() == 0) return Status::Ok();
  StridedCopy(context.thread_pool(),
              MakeIterationPlan<1>(*out_shape, {BroadcastStrides(data->shape(), *out_shape)}),
              *data, *out);
  return Status::Ok();
}

// ---- Constants and shape queries ----

// Fills a fresh output with copies of the one element of `value`.
Status FillOutput(KernelContext& context, const Tensor& value, Shape shape) {
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, value.dtype(), std::move(shape)));
  VisitElementSize(DTypeSize(value.dtype()), [&](auto tag) {
    using U = decltype(tag);
    std::fill_n(static_cast<U*>(out->data()), out->num_elements(),
                *static_cast<const U*>(value.data()));
  });
  return Status::Ok();
}

Result<std::unique_ptr<hal::Kernel>> CreateConstantOfShape(const hal::KernelCreateInfo& info) {
  const ir::Node& node = info.node;
  Tensor value = Tensor::Scalar<float>(0.0f);
  if (node.HasAttribute("value")) {
    UH_ASSIGN_OR_RETURN(value, node.GetTensor("value"));
    if (value.num_elements() != 1 || !value.is_host()) {
      return InvalidArgumentError(node.Describe() +
                                  ": attribute 'value' must be a one-element "
                                  "tensor, got " +
                                  value.Describe());
    }
  }
  return MakeFunctionKernel([value](KernelContext& context) -> Status {
    const ir::Node& n = context.node();
    UH_ASSIGN_OR_RETURN(const OptionalInts shape, OptionalInt64Input(context, 0));
    if (!shape.given) return InvalidArgumentError(n.Describe() + ": input 0 (shape) is missing");
    for (int64_t d : shape.values) {
      if (d < 0) {
        return InvalidArgumentError(n.Describe() + ": shape " + IntsToString(shape.values) +
                                    " has a negative dim");
      }
    }
    return FillOutput(context, value, shape.values);
  });
}

// The Constant's value from whichever of its attributes is set.
Result<Tensor> ConstantValue(const ir::Node& node) {
  if (node.HasAttribute("value")) return node.GetTensor("value");
  if (node.HasAttribute("value_float")) {
    UH_ASSIGN_OR_RETURN(const float v, node.GetFloat("value_float"));
    return Tensor::Scalar<float>(v);
  }
  if (node.HasAttribute("value_int")) {
    UH_ASSIGN_OR_RETURN(const int64_t v, node.GetInt("value_int"));
    return Tensor::Scalar<int64_t>(v);
  }
  if (node.HasAttribute("value_floats")) {
    UH_ASSIGN_OR_RETURN(const std::vector<float> v, node.GetFloats("value_floats"));
    return Tensor::FromVector<float>({static_cast<int64_t>(v.size())}, v);
  }
  if (node.HasAttribute("value_ints")) {
    UH_ASSIGN_OR_RETURN(const std::vector<int64_t> v, node.GetInts("value_ints"));
    return Tensor::FromVector<int64_t>({static_cast<int64_t>(v.size())}, v);
  }
  return UnimplementedError(node.Describe() +
                            ": none of value, value_float(s), value_int(s) is "
                            "set (string and sparse constants are not supported)");
}

Result<std::unique_ptr<hal::Kernel>> CreateConstant(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(const Tensor value, ConstantValue(info.node));
  if (!value.is_host()) {
    return InvalidArgumentError(info.node.Describe() +
                                ": the constant value is not in host memory");
  }
  // Copied on each run: handing out the kernel's own storage would let a caller that writes
  // into an output change the model.
  return MakeFunctionKernel([value](KernelContext& context) -> Status {
    UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, value.dtype(), value.shape()));
    if (value.nbytes()) std::memcpy(out->data(), value.data(), value.nbytes());
    return Status::Ok();
  });
}

Status ComputeShape(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  const int64_t rank = data->rank();
  // start/end (opset 15) select a range of dims, clamped to [0, rank].
  UH_ASSIGN_OR_RETURN(int64_t start, node.GetInt("start", 0));
  UH_ASSIGN_OR_RETURN(int64_t end, node.GetInt("end", rank));
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  std::vector<int64_t> dims;
  for (int64_t d = start; d < end; ++d) dims.push_back(data->dim(d));
  UH_ASSIGN_OR_RETURN(Tensor * out,
                      context.AllocateOutput(0, DType::kI64, {static_cast<int64_t>(dims.size())}));
  std::copy(dims.begin(), dims.end(), out->data_as<int64_t>());
  return Status::Ok();
}

Status ComputeSize(KernelContext& context) {
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, DType::kI64, {}));
  out->data_as<int64_t>()[0] = data->num_elements();
  return Status::Ok();
}

void Register(hal::KernelRegistry& registry, const char* op, int min_opset,
              hal::KernelFactory create) {
  hal::KernelDef def = ReferenceKernelDef(op, min_opset, INT_MAX, std::move(create));
  // Ops that only view their input under a new shape (same bytes, same element order), read its
  // shape, or copy a whole constant are correct for every dtype, the packed sub-byte ones too.
  static const std::set<std::string> kDTypeAgnostic = {
      "Reshape", "Flatten", "Identity", "Squeeze", "Unsqueeze", "Shape", "Size", "Constant"};
  def.accepts_storage_only_dtypes = kDTypeAgnostic.count(op) > 0;
  def.accepts_non_tensor_values = std::string(op) == "Identity";  // any value passes through
  registry.Register(std::move(def));
}

}  // namespace

void RegisterShapeKernels(hal::KernelRegistry& registry) {
  Register(registry, "Reshape", 1, StatelessKernel(ComputeReshape));
  Register(registry, "Flatten", 1, StatelessKernel(ComputeFlatten));
  Register(registry, "Identity", 1, StatelessKernel(ComputeIdentity));
  Register(registry, "Dropout", 7, StatelessKernel(ComputeDropout));
  Register(registry, "Squeeze", 1, StatelessKernel(ComputeSqueeze));
  Register(registry, "Unsqueeze", 1, StatelessKernel(ComputeUnsqueeze));
  Register(registry, "Transpose", 1, StatelessKernel(ComputeTranspose));
  Register(registry, "Concat", 4, StatelessKernel(ComputeConcat));
  Register(registry, "Gather", 1, StatelessKernel(ComputeGather));
  Register(registry, "Slice", 1, StatelessKernel(ComputeSlice));
  Register(registry, "Expand", 8, StatelessKernel(ComputeExpand));
  Register(registry, "ConstantOfShape", 9, CreateConstantOfShape);
  Register(registry, "Constant", 1, CreateConstant);
  Register(registry, "Shape", 1, StatelessKernel(ComputeShape));
  Register(registry, "Size", 1, StatelessKernel(ComputeSize));
}

}  // namespace unihal::cpu
