// Sequence and optional values from ONNX's data protos (onnx-data.proto), as ONNX's backend
// test data stores them: a SequenceProto of tensors, an OptionalProto of a tensor or a
// sequence (or of nothing: none).
#pragma once

#include <onnx/onnx-data_pb.h>

#include <string>

#include "unihal/status.h"
#include "unihal/value.h"

namespace unihal::onnx_import {

// `element_dtype` is the declared element type, used when the sequence is empty (the proto
// stores no dtype then); kUndefined when unknown. Tensors with external data are read
// relative to `base_dir`.
Result<Value> ValueFromSequenceProto(const onnx::SequenceProto& proto, DType element_dtype,
                                     const std::string& base_dir);
Result<Value> ValueFromOptionalProto(const onnx::OptionalProto& proto, DType element_dtype,
                                     const std::string& base_dir);

}  // namespace unihal::onnx_import
