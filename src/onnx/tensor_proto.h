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
// COMPLEX64, COMPLEX128).
std::optional<DType> DTypeFromOnnx(int32_t onnx_type);

// TensorProto.DataType numbers newer than the protobuf schema unihal compiles against.
inline constexpr int32_t kOnnxFloat8E4M3FN = 17;
inline constexpr int32_t kOnnxFloat8E4M3FNUZ = 18;
inline constexpr int32_t kOnnxFloat8E5M2 = 19;
inline constexpr int32_t kOnnxFloat8E5M2FNUZ = 20;
inline constexpr int32_t kOnnxUInt4 = 21;
inline constexpr int32_t kOnnxInt4 = 22;
inline constexpr int32_t kOnnxFloat4E2M1 = 23;
inline constexpr int32_t kOnnxFloat8E8M0 = 24;
inline constexpr int32_t kOnnxUInt2 = 25;
inline constexpr int32_t kOnnxInt2 = 26;
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
