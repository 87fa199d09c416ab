// Runs ONNX's own shape inference (libonnx) on a model and keeps what it finds: value_info for
// intermediate values and the types of graph outputs that did not declare them.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

namespace unihal::onnx_import {

// Never fails: a model libonnx cannot infer (an opset newer than it knows, an op it lacks, an
// inconsistency) is left as it was. Returns why inference was skipped, or "" when it ran.
std::string InferShapesInPlace(onnx::ModelProto& model);

}  // namespace unihal::onnx_import
