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
};

// Bytes per element; 0 for kUndefined.
size_t DTypeSize(DType dtype);
// NumPy-style name: "float32", "int64", "bool", ...
std::string_view DTypeName(DType dtype);
// Accepts NumPy names and short ones ("f32", "i64").
std::optional<DType> ParseDType(std::string_view name);
bool IsFloatingPoint(DType dtype);
bool IsInteger(DType dtype);  // signed or unsigned, not bool
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

// Calls fn(T{}) with T the C++ type of `dtype`. Returns false for kUndefined.
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
    case DType::kUndefined: return false;
  }
  return false;
}

}  // namespace unihal
