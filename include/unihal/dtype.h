// Element types and the 16-bit float formats.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace unihal {

enum class DType : uint8_t {
  kUndefined = 0,
  kF32,
  kF64,
  kF16,
  kBF16,
  kI8,
  kU8,
  kI16,
  kU16,
  kI32,
  kU32,
  kI64,
  kU64,
  kBool,
  // Storage-only types (IsStorageOnly): tensors can hold, load, move and Cast them, but no
  // arithmetic kernel takes them and VisitDType never visits them. Conversions to and from
  // them live in unihal/low_precision.h.
  kF8E4M3FN,    // float8_e4m3fn: no inf, NaN = S.1111.111
  kF8E4M3FNUZ,  // float8_e4m3fnuz: no inf, no -0, NaN = 0x80
  kF8E5M2,      // float8_e5m2: IEEE-like, with inf and NaN
  kF8E5M2FNUZ,  // float8_e5m2fnuz: no inf, no -0, NaN = 0x80
  kF8E8M0,      // float8_e8m0fnu: 2^(code - 127), no sign, no zero, NaN = 0xff
  kF4E2M1,      // float4_e2m1fn: 4 bits, no inf, no NaN
  kI4,
  kU4,
  kI2,
  kU2,
};

// Bits per element: 32 for float32, 4 for int4, 2 for int2; 0 for kUndefined.
size_t DTypeBits(DType dtype);
// Bytes per element for byte-sized types; 0 for kUndefined and for the sub-byte types (int4,
// uint4, float4_e2m1fn, int2, uint2), which have no per-element byte size: code that moves
// elements by size then refuses them instead of miscounting. Use DTypeBits / StorageBytes.
size_t DTypeSize(DType dtype);
// Bytes that `elements` values take in memory and in ONNX files. Sub-byte values are packed
// low bits first (element 0 in bits 0..3 of byte 0 for 4-bit types): (elements * bits + 7) / 8.
size_t StorageBytes(DType dtype, int64_t elements);
// True for the types no arithmetic kernel takes: the float8, float4, int4 and int2 formats.
bool IsStorageOnly(DType dtype);
// NumPy-style name: "float32", "int64", "bool", ...
std::string_view DTypeName(DType dtype);
// Accepts NumPy names and short ones ("f32", "i64").
std::optional<DType> ParseDType(std::string_view name);
// The arithmetic floats f32, f64, f16, bf16 (not the storage-only float8/float4 formats).
bool IsFloatingPoint(DType dtype);
// The arithmetic integers, signed or unsigned, not bool and not the storage-only int4/int2.
bool IsInteger(DType dtype);
bool IsSigned(DType dtype);

// IEEE half precision, stored as bits.
struct Float16 {
  uint16_t bits = 0;
  Float16() = default;
  explicit Float16(float value);
  explicit operator float() const;
};

// bfloat16 (the upper 16 bits of a float32), round-to-nearest-even on conversion.
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  explicit BFloat16(float value);
  explicit operator float() const;
};

// Maps a C++ type to its DType.
template <typename T>
constexpr DType DTypeOf();
template <> constexpr DType DTypeOf<float>() { return DType::kF32; }
template <> constexpr DType DTypeOf<double>() { return DType::kF64; }
template <> constexpr DType DTypeOf<Float16>() { return DType::kF16; }
template <> constexpr DType DTypeOf<BFloat16>() { return DType::kBF16; }
template <> constexpr DType DTypeOf<int8_t>() { return DType::kI8; }
template <> constexpr DType DTypeOf<uint8_t>() { return DType::kU8; }
template <> constexpr DType DTypeOf<int16_t>() { return DType::kI16; }
template <> constexpr DType DTypeOf<uint16_t>() { return DType::kU16; }
template <> constexpr DType DTypeOf<int32_t>() { return DType::kI32; }
template <> constexpr DType DTypeOf<uint32_t>() { return DType::kU32; }
template <> constexpr DType DTypeOf<int64_t>() { return DType::kI64; }
template <> constexpr DType DTypeOf<uint64_t>() { return DType::kU64; }
template <> constexpr DType DTypeOf<bool>() { return DType::kBool; }

// Calls fn(T{}) with T the C++ type of `dtype`. Returns false for kUndefined and for the
// storage-only types, so no arithmetic template is ever instantiated for them.
template <typename Fn>
bool VisitDType(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kF32: fn(float{}); return true;
    case DType::kF64: fn(double{}); return true;
    case DType::kF16: fn(Float16{}); return true;
    case DType::kBF16: fn(BFloat16{}); return true;
    case DType::kI8: fn(int8_t{}); return true;
    case DType::kU8: fn(uint8_t{}); return true;
    case DType::kI16: fn(int16_t{}); return true;
    case DType::kU16: fn(uint16_t{}); return true;
    case DType::kI32: fn(int32_t{}); return true;
    case DType::kU32: fn(uint32_t{}); return true;
    case DType::kI64: fn(int64_t{}); return true;
    case DType::kU64: fn(uint64_t{}); return true;
    case DType::kBool: fn(bool{}); return true;
    case DType::kF8E4M3FN:
    case DType::kF8E4M3FNUZ:
    case DType::kF8E5M2:
    case DType::kF8E5M2FNUZ:
    case DType::kF8E8M0:
    case DType::kF4E2M1:
    case DType::kI4:
    case DType::kU4:
    case DType::kI2:
    case DType::kU2:
    case DType::kUndefined: return false;
  }
  return false;
}

}  // namespace unihal
