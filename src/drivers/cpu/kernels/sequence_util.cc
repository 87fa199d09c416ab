#include "drivers/cpu/kernels/sequence_util.h"

namespace unihal::cpu {

Result<const Value*> NeedSequence(const hal::KernelContext& context, size_t i) {
  const ir::Node& node = context.node();
  const Value* value = context.input_value(i);
  if (!value) {
    return InvalidArgumentError(node.Describe() + ": input " + std::to_string(i) +
                                " (a sequence) is missing");
  }
  if (!value->is_sequence()) {
    return InvalidArgumentError(node.Describe() + ": input " + std::to_string(i) + " ('" +
                                node.inputs[i] + "') must be a sequence, got " + value->Describe());
  }
  return value;
}

Result<size_t> SequencePosition(const ir::Node& node, const Tensor& position, size_t size,
                                bool past_end_ok) {
  if ((position.dtype() != DType::kI64 && position.dtype() != DType::kI32) ||
      position.num_elements() != 1) {
    return InvalidArgumentError(node.Describe() +
                                ": position must be an int32 or int64 tensor with one element, "
                                "got " +
                                position.Describe());
  }
  const int64_t given =
      position.dtype() == DType::kI64 ? *position.data_as<int64_t>() : *position.data_as<int32_t>();
  const int64_t length = static_cast<int64_t>(size);
  const int64_t last = past_end_ok ? length : length - 1;
  if (last < 0) {
    return OutOfRangeError(node.Describe() + ": position " + std::to_string(given) +
                           " is out of range: the sequence is empty");
  }
  if (given < -length || given > last) {
    return OutOfRangeError(node.Describe() + ": position " + std::to_string(given) +
                           " is out of range for a sequence of " + std::to_string(length) +
                           " elements (valid: " + std::to_string(-length) + ".." +
                           std::to_string(last) + ")");
  }
  return static_cast<size_t>(given < 0 ? given + length : given);
}

Result<Value> SequenceLike(const ir::Node& node, const Value& like, std::vector<Tensor> elements) {
  Result<Value> sequence = Value::Sequence(like.element_dtype(), std::move(elements));
  if (!sequence.ok()) return sequence.status().WithContext(node.Describe());
  return sequence;
}

}  // namespace unihal::cpu
