// Tensor data stored outside the model file (TensorProto.data_location == EXTERNAL), as ONNX
// writes for models over 2 GB: "location" is a file relative to the model's folder, "offset"
// and "length" a byte range in it.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstddef>
#include <string>

#include "unihal/status.h"

namespace unihal::onnx_import {

// Copies the tensor's external bytes into `destination`, which holds exactly `expected_bytes`.
// Refuses locations outside `model_dir` (absolute paths, "..", symlinks leading out).
Status ReadExternalData(const onnx::TensorProto& proto, const std::string& model_dir,
                        void* destination, size_t expected_bytes);

}  // namespace unihal::onnx_import
