// ONNX TensorProto <-> unihal::Tensor, for every unihal dtype: raw_data (little-endian), the
// typed fields (float_data, int32_data, ...) and external data files.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <optional>
#include <string>

#include "unihal/dtype.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::onnx_import {

// The unihal dtype of an ONNX TensorProto::DataType, or nullopt when unihal has none (STRING,
// COMPLEX64, FLOAT8...).
std::optional<DType> DTypeFromOnnx(int32_t onnx_type);
// The ONNX TensorProto::DataType of a unihal dtype (UNDEFINED for kUndefined).
int32_t OnnxTypeFromDType(DType dtype);
// "FLOAT", "STRING", ... for messages; "type 42" when unknown.
std::string OnnxTypeName(int32_t onnx_type);

// Reads a tensor. `external_data_dir` is the folder external data locations are relative to
// (the model's folder); a location that escapes it is refused. Errors name the tensor.
Result<Tensor> TensorFromProto(const onnx::TensorProto& proto,
                               const std::string& external_data_dir);

// Writes a host tensor as a TensorProto with raw_data.
Result<onnx::TensorProto> TensorToProto(const Tensor& tensor, const std::string& name);

}  // namespace unihal::onnx_import
