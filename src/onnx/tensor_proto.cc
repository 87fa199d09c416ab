#include "onnx/tensor_proto.h"

#include <bit>
#include <cstring>
#include <type_traits>

#include "base/uninitialized_allocation.h"
#include "onnx/detached_raw_data.h"
#include "onnx/external_data.h"

namespace unihal::onnx_import {
namespace {

static_assert(std::endian::native == std::endian::little,
              "ONNX raw_data is little-endian; unihal only supports little-endian hosts");

using TP = onnx::TensorProto;

std::string Named(const TP& proto) {
  return "tensor '" + (proto.name().empty() ? std::string("<unnamed>") : proto.name()) + "'";
}

Result<Shape> ShapeOf(const TP& proto) {
  Shape shape;
  for (int64_t d : proto.dims()) {
    if (d < 0) {
      return InvalidArgumentError(Named(proto) + " has a negative dimension " + std::to_string(d));
    }
    shape.push_back(d);
  }
  return shape;
}

Status CountMismatch(const TP& proto, const Tensor& tensor, size_t stored, std::string_view what) {
  return InvalidArgumentError(Named(proto) + " is " + tensor.Describe() + " (" +
                              std::to_string(tensor.num_elements()) + " elements) but its " +
                              std::string(what) + " holds " + std::to_string(stored) +
                              "; the file is corrupt or was written incorrectly");
}

// Copies one typed repeated field into the tensor, converting each value to T. The 16-bit
// floats and bool arrive as integers holding their bits / 0-1 values.
template <typename T, typename Field>
Status CopyTypedField(const TP& proto, const Field& field, std::string_view field_name,
                      Tensor& tensor) {
  const auto count = static_cast<size_t>(field.size());
  if (count != static_cast<size_t>(tensor.num_elements())) {
    return CountMismatch(proto, tensor, count, field_name);
  }
  T* out = tensor.data_as<T>();
  for (size_t i = 0; i < count; ++i) {
    const auto value = field.Get(static_cast<int>(i));
    if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
      out[i].bits = static_cast<uint16_t>(value);
    } else if constexpr (std::is_same_v<T, bool>) {
      out[i] = value != 0;
    } else {
      out[i] = static_cast<T>(value);
    }
  }
  return Status::Ok();
}

// The storage-only types keep one storage byte per int32_data value: one float8 code, two
// packed 4-bit values or four packed 2-bit values (low bits first, as in raw_data).
Status CopyPackedInt32Field(const TP& proto, Tensor& tensor) {
  const auto count = static_cast<size_t>(proto.int32_data_size());
  if (count != tensor.nbytes()) return CountMismatch(proto, tensor, count, "int32_data");
  auto* out = static_cast<uint8_t*>(tensor.data());
  for (size_t i = 0; i < count; ++i) {
    out[i] = static_cast<uint8_t>(proto.int32_data(static_cast<int>(i)));
  }
  return Status::Ok();
}

Status CopyFromTypedFields(const TP& proto, Tensor& tensor) {
  if (IsStorageOnly(tensor.dtype())) return CopyPackedInt32Field(proto, tensor);
  switch (tensor.dtype()) {
    case DType::kF32:
      return CopyTypedField<float>(proto, proto.float_data(), "float_data", tensor);
    case DType::kF64:
      return CopyTypedField<double>(proto, proto.double_data(), "double_data", tensor);
    case DType::kI64:
      return CopyTypedField<int64_t>(proto, proto.int64_data(), "int64_data", tensor);
    case DType::kU32:
      return CopyTypedField<uint32_t>(proto, proto.uint64_data(), "uint64_data", tensor);
    case DType::kU64:
      return CopyTypedField<uint64_t>(proto, proto.uint64_data(), "uint64_data", tensor);
    case DType::kF16:
      return CopyTypedField<Float16>(proto, proto.int32_data(), "int32_data", tensor);
    case DType::kBF16:
      return CopyTypedField<BFloat16>(proto, proto.int32_data(), "int32_data", tensor);
    case DType::kI8:
      return CopyTypedField<int8_t>(proto, proto.int32_data(), "int32_data", tensor);
    case DType::kU8:
      return CopyTypedField<uint8_t>(proto, proto.int32_data(), "int32_data", tensor);
    case DType::kI16:
      return CopyTypedField<int16_t>(proto, proto.int32_data(), "int32_data", tensor);
    case DType::kU16:
      return CopyTypedField<uint16_t>(proto, proto.int32_data(), "int32_data", tensor);
    case DType::kI32:
      return CopyTypedField<int32_t>(proto, proto.int32_data(), "int32_data", tensor);
    case DType::kBool:
      return CopyTypedField<bool>(proto, proto.int32_data(), "int32_data", tensor);
    default:
      break;
  }
  return InternalError(Named(proto) + ": undefined dtype");
}

// Element count, refusing counts that overflow or exceed any plausible tensor (2^40 elements).
Result<uint64_t> SafeElementCount(const TP& proto, const Shape& shape) {
  constexpr uint64_t kMaxElements = uint64_t{1} << 40;
  uint64_t count = 1;
  for (int64_t d : shape) {
    const auto dim = static_cast<uint64_t>(d);
    if (dim != 0 && count > kMaxElements / dim) {
      return ResourceExhaustedError(Named(proto) + " of shape " + ShapeToString(shape) +
                                    " is too large");
    }
    count *= dim;
  }
  return count;
}

// The typed field ONNX stores `dtype` in, and how many values it holds.
std::pair<std::string_view, size_t> TypedField(const TP& proto, DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return {"float_data", static_cast<size_t>(proto.float_data_size())};
    case DType::kF64:
      return {"double_data", static_cast<size_t>(proto.double_data_size())};
    case DType::kI64:
      return {"int64_data", static_cast<size_t>(proto.int64_data_size())};
    case DType::kU32:
    case DType::kU64:
      return {"uint64_data", static_cast<size_t>(proto.uint64_data_size())};
    default:
      return {"int32_data", static_cast<size_t>(proto.int32_data_size())};
  }
}

// `raw`: the tensor's raw_data, where it has one.
Status CheckStoredSize(const TP& proto, std::optional<std::string_view> raw, DType dtype,
                       const Shape& shape, uint64_t elements) {
  const std::string described = std::string(DTypeName(dtype)) + ShapeToString(shape);
  const std::string corrupt = "; the file is corrupt or was written incorrectly";
  if (raw) {
    const uint64_t bytes = StorageBytes(dtype, static_cast<int64_t>(elements));
    if (raw->size() == bytes) return Status::Ok();
    return InvalidArgumentError(Named(proto) + " is " + described + " (" + std::to_string(bytes) +
                                " bytes) but its raw_data holds " + std::to_string(raw->size()) +
                                " bytes" + corrupt);
  }
  auto [field, stored] = TypedField(proto, dtype);
  // Packed types hold one storage byte per value (see CopyPackedInt32Field).
  const uint64_t expected =
      IsStorageOnly(dtype) ? StorageBytes(dtype, static_cast<int64_t>(elements)) : elements;
  if (stored == expected) return Status::Ok();
  const std::string packed =
      expected == elements ? "" : ", packed in " + std::to_string(expected) + " values";
  return InvalidArgumentError(Named(proto) + " is " + described + " (" + std::to_string(elements) +
                              " elements" + packed + ") but its " + std::string(field) + " holds " +
                              std::to_string(stored) + corrupt);
}

// A tensor holding a copy of raw little-endian bytes of the right size.
Result<Tensor> TensorFromRawBytes(const TP& proto, DType dtype, Shape shape, std::string_view raw) {
  // Every byte is overwritten at once: no need to zero-fill first.
  Result<Tensor> allocated = AllocateUninitializedTensor(dtype, std::move(shape));
  if (!allocated.ok()) return allocated.status().WithContext(Named(proto));
  Tensor tensor = *std::move(allocated);
  if (!raw.empty()) std::memcpy(tensor.data(), raw.data(), raw.size());
  if (dtype == DType::kBool) {
    // Any non-zero byte is true; normalise so bool tensors hold only 0 and 1.
    auto* bytes = static_cast<uint8_t*>(tensor.data());
    for (int64_t i = 0; i < tensor.num_elements(); ++i) bytes[i] = bytes[i] != 0 ? 1 : 0;
  }
  return tensor;
}

}  // namespace

std::optional<DType> DTypeFromOnnx(int32_t onnx_type) {
  switch (onnx_type) {
    case TP::FLOAT:
      return DType::kF32;
    case TP::DOUBLE:
      return DType::kF64;
    case TP::FLOAT16:
      return DType::kF16;
    case TP::BFLOAT16:
      return DType::kBF16;
    case TP::INT8:
      return DType::kI8;
    case TP::UINT8:
      return DType::kU8;
    case TP::INT16:
      return DType::kI16;
    case TP::UINT16:
      return DType::kU16;
    case TP::INT32:
      return DType::kI32;
    case TP::UINT32:
      return DType::kU32;
    case TP::INT64:
      return DType::kI64;
    case TP::UINT64:
      return DType::kU64;
    case TP::BOOL:
      return DType::kBool;
    default:
      break;
  }
  // Types newer than the protobuf schema we compile against, by number.
  switch (onnx_type) {
    case kOnnxFloat8E4M3FN:
      return DType::kF8E4M3FN;
    case kOnnxFloat8E4M3FNUZ:
      return DType::kF8E4M3FNUZ;
    case kOnnxFloat8E5M2:
      return DType::kF8E5M2;
    case kOnnxFloat8E5M2FNUZ:
      return DType::kF8E5M2FNUZ;
    case kOnnxUInt4:
      return DType::kU4;
    case kOnnxInt4:
      return DType::kI4;
    case kOnnxFloat4E2M1:
      return DType::kF4E2M1;
    case kOnnxFloat8E8M0:
      return DType::kF8E8M0;
    case kOnnxUInt2:
      return DType::kU2;
    case kOnnxInt2:
      return DType::kI2;
    default:
      return std::nullopt;
  }
}

int32_t OnnxTypeFromDType(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return TP::FLOAT;
    case DType::kF64:
      return TP::DOUBLE;
    case DType::kF16:
      return TP::FLOAT16;
    case DType::kBF16:
      return TP::BFLOAT16;
    case DType::kI8:
      return TP::INT8;
    case DType::kU8:
      return TP::UINT8;
    case DType::kI16:
      return TP::INT16;
    case DType::kU16:
      return TP::UINT16;
    case DType::kI32:
      return TP::INT32;
    case DType::kU32:
      return TP::UINT32;
    case DType::kI64:
      return TP::INT64;
    case DType::kU64:
      return TP::UINT64;
    case DType::kBool:
      return TP::BOOL;
    case DType::kF8E4M3FN:
      return kOnnxFloat8E4M3FN;
    case DType::kF8E4M3FNUZ:
      return kOnnxFloat8E4M3FNUZ;
    case DType::kF8E5M2:
      return kOnnxFloat8E5M2;
    case DType::kF8E5M2FNUZ:
      return kOnnxFloat8E5M2FNUZ;
    case DType::kF8E8M0:
      return kOnnxFloat8E8M0;
    case DType::kF4E2M1:
      return kOnnxFloat4E2M1;
    case DType::kI4:
      return kOnnxInt4;
    case DType::kU4:
      return kOnnxUInt4;
    case DType::kI2:
      return kOnnxInt2;
    case DType::kU2:
      return kOnnxUInt2;
    case DType::kUndefined:
      break;
  }
  return TP::UNDEFINED;
}

std::string OnnxTypeName(int32_t onnx_type) {
  // Types newer than the protobuf schema we compile against (FLOAT8*, INT4, ...) have no name.
  if (TP::DataType_IsValid(onnx_type)) {
    return TP::DataType_Name(static_cast<TP::DataType>(onnx_type));
  }
  switch (onnx_type) {
    case 17:
      return "FLOAT8E4M3FN";
    case 18:
      return "FLOAT8E4M3FNUZ";
    case 19:
      return "FLOAT8E5M2";
    case 20:
      return "FLOAT8E5M2FNUZ";
    case 21:
      return "UINT4";
    case 22:
      return "INT4";
    case 23:
      return "FLOAT4E2M1";
    case 24:
      return "FLOAT8E8M0";
    case 25:
      return "UINT2";
    case 26:
      return "INT2";
  }
  return "type " + std::to_string(onnx_type);
}

Result<Tensor> TensorFromProto(const TP& proto, const std::string& external_data_dir) {
  return TensorFromProto(proto, external_data_dir, nullptr);
}

Result<Tensor> TensorFromProto(const TP& proto, const std::string& external_data_dir,
                               const std::string_view* detached_raw_data) {
  if (proto.has_segment()) {
    return UnimplementedError(Named(proto) + " is segmented, which unihal does not support");
  }
  std::optional<DType> dtype = DTypeFromOnnx(proto.data_type());
  if (!dtype) {
    return UnimplementedError(Named(proto) + " has element type " +
                              OnnxTypeName(proto.data_type()) +
                              ", which unihal does not support (supported: float, double, "
                              "float16, bfloat16, int8-64, uint8-64, bool, float8*, float4e2m1, "
                              "int4, uint4, int2, uint2)");
  }
  UH_ASSIGN_OR_RETURN(Shape shape, ShapeOf(proto));
  // Check the stored size before allocating: a hostile file may declare terabytes in a few
  // bytes, and the allocation would be touched (zero-filled) before any later check.
  UH_ASSIGN_OR_RETURN(uint64_t elements, SafeElementCount(proto, shape));
  const bool external = proto.data_location() == TP::EXTERNAL;
  std::optional<std::string_view> raw;
  if (detached_raw_data) {
    raw = *detached_raw_data;
  } else if (proto.has_raw_data()) {
    raw = proto.raw_data();
  }
  if (!external) {
    UH_RETURN_IF_ERROR(CheckStoredSize(proto, raw, *dtype, shape, elements));
    if (raw) {
      return TensorFromRawBytes(proto, *dtype, std::move(shape), *raw);
    }
  }
  // External data and the typed fields overwrite every element: no need to zero-fill first.
  Result<Tensor> allocated = AllocateUninitializedTensor(*dtype, shape);
  if (!allocated.ok()) return allocated.status().WithContext(Named(proto));
  Tensor tensor = *std::move(allocated);

  if (external) {
    UH_RETURN_IF_ERROR(ReadExternalData(proto, external_data_dir, tensor.data(), tensor.nbytes()));
    return tensor;
  }
  UH_RETURN_IF_ERROR(CopyFromTypedFields(proto, tensor));
  return tensor;
}

Result<TP> TensorToProto(const Tensor& tensor, const std::string& name) {
  if (!tensor.defined() || !tensor.is_host()) {
    return InvalidArgumentError("cannot serialise tensor '" + name +
                                "': it is undefined or not in host memory");
  }
  TP proto;
  proto.set_name(name);
  proto.set_data_type(OnnxTypeFromDType(tensor.dtype()));
  for (int64_t d : tensor.shape()) proto.add_dims(d);
  proto.set_raw_data(static_cast<const char*>(tensor.data()), tensor.nbytes());
  return proto;
}

}  // namespace unihal::onnx_import
