// Sequence kernels (ai.onnx opset 11+): SequenceEmpty SequenceConstruct SequenceInsert
// SequenceAt SequenceErase SequenceLength ConcatFromSequence SplitToSequence. A sequence is a
// unihal::Value holding tensors of one dtype; the kernels that only rearrange whole elements
// share the elements' storage, like views.
#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/indexing_util.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/sequence_util.h"
#include "onnx/tensor_proto.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

Status ComputeSequenceEmpty(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const int64_t onnx_type, node.GetInt("dtype", 1));  // float
  const std::optional<DType> dtype = onnx_import::DTypeFromOnnx(static_cast<int32_t>(onnx_type));
  if (!dtype) {
    return UnimplementedError(node.Describe() + ": dtype " +
                              onnx_import::OnnxTypeName(static_cast<int32_t>(onnx_type)) +
                              " is not supported");
  }
  UH_ASSIGN_OR_RETURN(Value empty, Value::Sequence(*dtype, {}));
  return context.SetOutputValue(0, std::move(empty));
}

Status ComputeSequenceConstruct(KernelContext& context) {
  const ir::Node& node = context.node();
  std::vector<Tensor> elements;
  for (size_t i = 0; i < context.num_inputs(); ++i) {
    UH_ASSIGN_OR_RETURN(const Tensor* element, NeedInput(context, i));
    elements.push_back(*element);
  }
  if (elements.empty()) {
    return InvalidArgumentError(node.Describe() + " needs at least one input");
  }
  Result<Value> sequence = Value::Sequence(DType::kUndefined, std::move(elements));
  if (!sequence.ok()) return sequence.status().WithContext(node.Describe());
  return context.SetOutputValue(0, *std::move(sequence));
}

Status ComputeSequenceInsert(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Value* sequence, NeedSequence(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* tensor, NeedInput(context, 1));
  if (tensor->dtype() != sequence->element_dtype()) {
    return InvalidArgumentError(node.Describe() + ": cannot insert " + tensor->Describe() +
                                " into a sequence of " +
                                std::string(DTypeName(sequence->element_dtype())) + " tensors");
  }
  std::vector<Tensor> elements = sequence->elements();
  size_t at = elements.size();
  if (const Tensor* position = context.input(2)) {
    UH_ASSIGN_OR_RETURN(at, SequencePosition(node, *position, elements.size(), true));
  }
  elements.insert(elements.begin() + static_cast<std::ptrdiff_t>(at), *tensor);
  UH_ASSIGN_OR_RETURN(Value inserted, SequenceLike(node, *sequence, std::move(elements)));
  return context.SetOutputValue(0, std::move(inserted));
}

Status ComputeSequenceAt(KernelContext& context) {
  UH_ASSIGN_OR_RETURN(const Value* sequence, NeedSequence(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* position, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const size_t at, SequencePosition(context.node(), *position,
                                                        sequence->elements().size(), false));
  return context.SetOutput(0, sequence->elements()[at]);
}

Status ComputeSequenceErase(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Value* sequence, NeedSequence(context, 0));
  std::vector<Tensor> elements = sequence->elements();
  const Tensor last = Tensor::Scalar<int64_t>(-1);
  const Tensor* position = context.input(1) ? context.input(1) : &last;
  UH_ASSIGN_OR_RETURN(const size_t at, SequencePosition(node, *position, elements.size(), false));
  elements.erase(elements.begin() + static_cast<std::ptrdiff_t>(at));
  UH_ASSIGN_OR_RETURN(Value erased, SequenceLike(node, *sequence, std::move(elements)));
  return context.SetOutputValue(0, std::move(erased));
}

Status ComputeSequenceLength(KernelContext& context) {
  UH_ASSIGN_OR_RETURN(const Value* sequence, NeedSequence(context, 0));
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, DType::kI64, {}));
  *out->data_as<int64_t>() = static_cast<int64_t>(sequence->elements().size());
  return Status::Ok();
}

// ---- ConcatFromSequence ----

// Each element's shape as concatenated: with new_axis, a 1 inserted at `axis` (stacking).
Result<std::vector<Shape>> ConcatShapes(const ir::Node& node, const std::vector<Tensor>& elements,
                                        int64_t axis, bool new_axis) {
  std::vector<Shape> shapes;
  for (size_t i = 0; i < elements.size(); ++i) {
    Shape shape = elements[i].shape();
    if (new_axis) shape.insert(shape.begin() + axis, 1);
    const Shape& first = shapes.empty() ? shape : shapes.front();
    bool fits = shape.size() == first.size();
    for (size_t d = 0; fits && d < shape.size(); ++d) {
      fits = static_cast<int64_t>(d) == axis || shape[d] == first[d];
    }
    if (!fits) {
      return InvalidArgumentError(node.Describe() + ": element " + std::to_string(i) + " is " +
                                  elements[i].Describe() + " and element 0 is " +
                                  elements[0].Describe() + "; all dims but axis " +
                                  std::to_string(axis) + " must agree");
    }
    shapes.push_back(std::move(shape));
  }
  return shapes;
}

Status ComputeConcatFromSequence(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Value* sequence, NeedSequence(context, 0));
  UH_ASSIGN_OR_RETURN(const int64_t axis_attr, node.GetInt("axis"));
  UH_ASSIGN_OR_RETURN(const int64_t new_axis, node.GetInt("new_axis", 0));
  if (new_axis != 0 && new_axis != 1) {
    return InvalidArgumentError(node.Describe() + ": new_axis must be 0 or 1, got " +
                                std::to_string(new_axis));
  }
  const std::vector<Tensor>& elements = sequence->elements();
  if (elements.empty()) {
    return InvalidArgumentError(node.Describe() + ": cannot concatenate an empty sequence");
  }
  UH_ASSIGN_OR_RETURN(const int64_t axis,
                      NormalizeAxis(node, axis_attr, elements[0].rank() + new_axis));
  UH_ASSIGN_OR_RETURN(const std::vector<Shape> shapes,
                      ConcatShapes(node, elements, axis, new_axis == 1));
  const size_t a = static_cast<size_t>(axis);
  Shape out_shape = shapes[0];
  out_shape[a] = 0;
  for (const Shape& shape : shapes) out_shape[a] += shape[a];
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, elements[0].dtype(), out_shape));
  const int64_t outer = DimProduct(out_shape, 0, a);
  const size_t inner_bytes =
      static_cast<size_t>(DimProduct(out_shape, a + 1, out_shape.size())) * DTypeSize(out->dtype());
  auto* dst = static_cast<std::byte*>(out->data());
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < elements.size(); ++i) {
      const size_t block = static_cast<size_t>(shapes[i][a]) * inner_bytes;
      if (block == 0) continue;
      std::memcpy(dst, static_cast<const std::byte*>(elements[i].data()) + o * block, block);
      dst += block;
    }
  }
  return Status::Ok();
}

// ---- SplitToSequence ----

// The chunk sizes along an axis of size `dim`: from `split` (a scalar chunk size, the last
// chunk taking what is left, or one size per chunk), or size-1 chunks without it.
Result<std::vector<int64_t>> SplitToSequenceSizes(const ir::Node& node, const Tensor* split,
                                                  int64_t dim) {
  if (!split) return std::vector<int64_t>(static_cast<size_t>(dim), 1);
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> values, split->ToInt64Vector());
  if (split->rank() == 0) {
    const int64_t chunk = values[0];
    if (chunk <= 0) {
      return InvalidArgumentError(node.Describe() + ": split must be positive, got " +
                                  std::to_string(chunk));
    }
    std::vector<int64_t> sizes;
    for (int64_t start = 0; start < dim; start += chunk)
      sizes.push_back(std::min(chunk, dim - start));
    return sizes;
  }
  int64_t sum = 0;
  for (int64_t size : values) sum += size < 0 ? dim + 1 : size;  // a negative size never sums
  if (split->rank() != 1 || sum != dim) {
    return InvalidArgumentError(node.Describe() + ": split " + ShapeToString(values) +
                                " must be a scalar or non-negative sizes summing to the axis "
                                "size " +
                                std::to_string(dim));
  }
  return values;
}

Status ComputeSplitToSequence(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const int64_t axis_attr, node.GetInt("axis", 0));
  UH_ASSIGN_OR_RETURN(const int64_t keepdims, node.GetInt("keepdims", 1));
  UH_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(node, axis_attr, data->rank()));
  const Tensor* split = context.input(1);
  const Shape& s = data->shape();
  const size_t a = static_cast<size_t>(axis);
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> sizes, SplitToSequenceSizes(node, split, s[a]));
  // keepdims only applies to the size-1 chunks of a split without sizes.
  const bool squeeze = !split && keepdims == 0;
  const int64_t outer = DimProduct(s, 0, a);
  const size_t inner_bytes =
      static_cast<size_t>(DimProduct(s, a + 1, s.size())) * DTypeSize(data->dtype());
  const size_t in_row = static_cast<size_t>(s[a]) * inner_bytes;
  const auto* src = static_cast<const std::byte*>(data->data());
  std::vector<Tensor> elements;
  size_t column = 0;
  for (int64_t size : sizes) {
    Shape shape = s;
    shape[a] = size;
    if (squeeze) shape.erase(shape.begin() + axis);
    UH_ASSIGN_OR_RETURN(Tensor element, Tensor::Allocate(data->dtype(), shape));
    const size_t block = static_cast<size_t>(size) * inner_bytes;
    auto* dst = static_cast<std::byte*>(element.data());
    for (int64_t o = 0; o < outer && block > 0; ++o) {
      std::memcpy(dst + o * block, src + o * in_row + column, block);
    }
    column += block;
    elements.push_back(std::move(element));
  }
  UH_ASSIGN_OR_RETURN(Value sequence, Value::Sequence(data->dtype(), std::move(elements)));
  return context.SetOutputValue(0, std::move(sequence));
}

// Sequence kernels take sequence values; `moves_whole_elements` marks those that never read an
// element's bits, which are then right for every dtype (the storage-only ones too).
void Register(hal::KernelRegistry& registry, const char* op, hal::FunctionKernel::Fn fn,
              bool moves_whole_elements) {
  hal::KernelDef def = ReferenceKernelDef(op, 11, INT_MAX, StatelessKernel(std::move(fn)));
  def.accepts_non_tensor_values = true;
  def.accepts_storage_only_dtypes = moves_whole_elements;
  registry.Register(std::move(def));
}

}  // namespace

void RegisterSequenceKernels(hal::KernelRegistry& registry) {
  Register(registry, "SequenceEmpty", ComputeSequenceEmpty, true);
  Register(registry, "SequenceConstruct", ComputeSequenceConstruct, true);
  Register(registry, "SequenceInsert", ComputeSequenceInsert, true);
  Register(registry, "SequenceAt", ComputeSequenceAt, true);
  Register(registry, "SequenceErase", ComputeSequenceErase, true);
  Register(registry, "SequenceLength", ComputeSequenceLength, true);
  Register(registry, "ConcatFromSequence", ComputeConcatFromSequence, false);
  Register(registry, "SplitToSequence", ComputeSplitToSequence, false);
  RegisterSequenceMapKernel(registry);
}

}  // namespace unihal::cpu
