#include "onnx/value_proto.h"

#include "onnx/tensor_proto.h"

namespace unihal::onnx_import {

Result<Value> ValueFromSequenceProto(const onnx::SequenceProto& proto, DType element_dtype,
                                     const std::string& base_dir) {
  const bool holds_other = proto.sparse_tensor_values_size() > 0 ||
                           proto.sequence_values_size() > 0 || proto.map_values_size() > 0 ||
                           proto.optional_values_size() > 0;
  if (holds_other || (proto.elem_type() != onnx::SequenceProto::TENSOR &&
                      proto.elem_type() != onnx::SequenceProto::UNDEFINED)) {
    return UnimplementedError("sequence '" + proto.name() +
                              "' holds values other than dense tensors (element type " +
                              onnx::SequenceProto::DataType_Name(proto.elem_type()) +
                              "); unihal's sequences hold tensors");
  }
  std::vector<Tensor> elements;
  for (int i = 0; i < proto.tensor_values_size(); ++i) {
    Result<Tensor> element = TensorFromProto(proto.tensor_values(i), base_dir);
    if (!element.ok()) {
      return element.status().WithContext("sequence '" + proto.name() + "', element " +
                                          std::to_string(i));
    }
    elements.push_back(*std::move(element));
  }
  if (!elements.empty()) element_dtype = DType::kUndefined;  // the elements say
  Result<Value> value = Value::Sequence(element_dtype, std::move(elements));
  if (!value.ok()) return value.status().WithContext("sequence '" + proto.name() + "'");
  return value;
}

Result<Value> ValueFromOptionalProto(const onnx::OptionalProto& proto, DType element_dtype,
                                     const std::string& base_dir) {
  const std::string what = "optional '" + proto.name() + "'";
  if (proto.has_tensor_value()) {
    Result<Tensor> tensor = TensorFromProto(proto.tensor_value(), base_dir);
    if (!tensor.ok()) return tensor.status().WithContext(what);
    return Value(*std::move(tensor));
  }
  if (proto.has_sequence_value()) {
    Result<Value> sequence =
        ValueFromSequenceProto(proto.sequence_value(), element_dtype, base_dir);
    if (!sequence.ok()) return sequence.status().WithContext(what);
    return sequence;
  }
  if (proto.has_sparse_tensor_value() || proto.has_map_value() || proto.has_optional_value()) {
    return UnimplementedError(what + " holds a " +
                              onnx::OptionalProto::DataType_Name(proto.elem_type()) +
                              "; unihal's optionals hold a tensor or a sequence of tensors");
  }
  return Value::None();
}

}  // namespace unihal::onnx_import
