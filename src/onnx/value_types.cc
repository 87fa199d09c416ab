#include "onnx/value_types.h"

#include "onnx/tensor_proto.h"

namespace unihal::onnx_import {
namespace {

using TP = onnx::TypeProto;

std::string CaseName(TP::ValueCase value_case) {
  switch (value_case) {
    case TP::kTensorType:
      return "tensor";
    case TP::kSequenceType:
      return "sequence";
    case TP::kMapType:
      return "map";
    case TP::kOptionalType:
      return "optional";
    case TP::kSparseTensorType:
      return "sparse tensor";
    default:
      return "unknown";
  }
}

ir::SymbolicShape ConvertShape(const onnx::TensorShapeProto& proto) {
  ir::SymbolicShape shape;
  for (const auto& dim : proto.dim()) {
    if (dim.has_dim_value() && dim.dim_value() >= 0) {
      shape.push_back(ir::Dim::Static(dim.dim_value()));
    } else if (dim.has_dim_param() && !dim.dim_param().empty()) {
      shape.push_back(ir::Dim::Symbolic(dim.dim_param()));
    } else {
      shape.push_back(ir::Dim{});  // unknown, anonymous
    }
  }
  return shape;
}

// A tensor type (the whole value, or what a sequence or optional holds).
Result<ir::ValueInfo> ConvertTensorType(const TP::Tensor& tensor_type) {
  ir::ValueInfo info;
  const int32_t elem = tensor_type.elem_type();
  if (elem != 0) {
    std::optional<DType> dtype = DTypeFromOnnx(elem);
    if (!dtype) {
      return UnimplementedError("has element type " + OnnxTypeName(elem) +
                                ", which unihal does not support");
    }
    info.dtype = *dtype;
  }
  if (tensor_type.has_shape()) info.shape = ConvertShape(tensor_type.shape());
  return info;
}

// sequence(tensor): the element's type with kind kSequence.
Result<ir::ValueInfo> ConvertSequenceType(const TP::Sequence& sequence_type) {
  const TP& elem = sequence_type.elem_type();
  if (elem.value_case() == TP::VALUE_NOT_SET) {
    ir::ValueInfo info;
    info.kind = ir::TypeKind::kSequence;
    return info;
  }
  if (elem.value_case() != TP::kTensorType) {
    return UnimplementedError("is a sequence of " + CaseName(elem.value_case()) +
                              " values; unihal's sequences hold tensors");
  }
  UH_ASSIGN_OR_RETURN(ir::ValueInfo info, ConvertTensorType(elem.tensor_type()));
  info.kind = ir::TypeKind::kSequence;
  return info;
}

}  // namespace

Result<ir::ValueInfo> ConvertTypeProto(const onnx::TypeProto& type) {
  switch (type.value_case()) {
    case TP::VALUE_NOT_SET:
      return ir::ValueInfo{};
    case TP::kTensorType:
      return ConvertTensorType(type.tensor_type());
    case TP::kSequenceType:
      return ConvertSequenceType(type.sequence_type());
    case TP::kOptionalType: {
      const TP& elem = type.optional_type().elem_type();
      if (elem.value_case() == TP::kTensorType) {
        UH_ASSIGN_OR_RETURN(ir::ValueInfo info, ConvertTensorType(elem.tensor_type()));
        info.kind = ir::TypeKind::kOptionalTensor;
        return info;
      }
      if (elem.value_case() == TP::kSequenceType) {
        UH_ASSIGN_OR_RETURN(ir::ValueInfo info, ConvertSequenceType(elem.sequence_type()));
        info.kind = ir::TypeKind::kOptionalSequence;
        return info;
      }
      return UnimplementedError("is an optional " + CaseName(elem.value_case()) +
                                "; unihal's optionals hold a tensor or a sequence of tensors");
    }
    default:
      return UnimplementedError("is a " + CaseName(type.value_case()) +
                                " value; unihal carries tensors, sequences of tensors and "
                                "optionals");
  }
}

}  // namespace unihal::onnx_import
