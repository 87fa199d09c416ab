// ONNX → IR: parses a ModelProto (ONNX's own schema, Debian's libonnx), validates it, infers
// shapes and converts it to ir::Model. Errors say what is wrong, where, and what to do.
#pragma once

#include <string>
#include <string_view>

#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::onnx_import {

// Loads a .onnx file; external data is resolved relative to the file's folder.
Result<ir::Model> LoadModelFromFile(const std::string& path);
// Loads serialized ModelProto bytes; external data is resolved relative to base_dir.
Result<ir::Model> LoadModelFromBytes(std::string_view bytes, const std::string& base_dir);
// Reads a serialized ONNX TensorProto file (.pb), as in ONNX's test data.
Result<Tensor> LoadTensorProtoFile(const std::string& path);

}  // namespace unihal::onnx_import
