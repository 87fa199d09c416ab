// ONNX TypeProto -> ir::ValueInfo's type (kind, dtype, shape): tensors, sequences of tensors,
// and optionals of either. Other ONNX types (maps, sparse tensors, sequences of sequences) have
// no unihal value.
#pragma once

#include <onnx/onnx_pb.h>

#include "unihal/ir/graph.h"
#include "unihal/status.h"

namespace unihal::onnx_import {

// The type (name left empty). An unset type gives an unknown tensor. kUnimplemented names
// what unihal does not carry: a map, a sparse tensor, a nested sequence or optional, or an
// element type unihal lacks (string); its message reads after the value's name ("has element
// type STRING, ...", "is a map value; ...").
Result<ir::ValueInfo> ConvertTypeProto(const onnx::TypeProto& type);

}  // namespace unihal::onnx_import
