// TensorFromProto for an initializer whose raw_data was cut out of its proto before parsing
// (model_skeleton.h), so the weights are not first copied into protobuf strings.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <string_view>

#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::onnx_import {

// TensorFromProto (tensor_proto.h) for a proto whose raw_data is `*detached_raw_data`, bytes
// that outlive the call (null: the proto's own fields). Same checks and errors; the bytes are
// copied once into the tensor.
Result<Tensor> TensorFromProto(const onnx::TensorProto& proto, const std::string& external_data_dir,
                               const std::string_view* detached_raw_data);

}  // namespace unihal::onnx_import
