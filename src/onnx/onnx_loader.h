// ONNX → IR: parses a ModelProto (ONNX's own schema, Debian's libonnx), validates it, infers
// shapes and converts it to ir::Model. Errors say what is wrong, where, and what to do.
#pragma once

#include <string>
#include <string_view>

#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/tensor.h"
#include "unihal/value.h"

namespace unihal::onnx_import {

// Loads a .onnx file; external data is resolved relative to the file's folder.
Result<ir::Model> LoadModelFromFile(const std::string& path);
// Loads serialized ModelProto bytes; external data is resolved relative to base_dir.
Result<ir::Model> LoadModelFromBytes(std::string_view bytes, const std::string& base_dir);
// Reads a serialized ONNX TensorProto file (.pb), as in ONNX's test data.
Result<Tensor> LoadTensorProtoFile(const std::string& path);
// Reads a value file (.pb) of ONNX's test data, typed as `type` says (its kind and, for an
// empty sequence, its dtype): a TensorProto, a SequenceProto or an OptionalProto.
Result<Value> LoadValueProtoFile(const std::string& path, const ir::ValueInfo& type);

}  // namespace unihal::onnx_import
