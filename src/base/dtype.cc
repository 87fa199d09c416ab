#include "unihal/dtype.h"

#include <array>
#include <bit>
#include <utility>

namespace unihal {
namespace {

struct DTypeNames {
  DType dtype;
  std::string_view name;
  std::string_view short_name;
  size_t size;
};

constexpr std::array<DTypeNames, 13> kDTypes = {{
    {DType::kF32, "float32", "f32", 4},
    {DType::kF64, "float64", "f64", 8},
    {DType::kF16, "float16", "f16", 2},
    {DType::kBF16, "bfloat16", "bf16", 2},
    {DType::kI8, "int8", "i8", 1},
    {DType::kU8, "uint8", "u8", 1},
    {DType::kI16, "int16", "i16", 2},
    {DType::kU16, "uint16", "u16", 2},
    {DType::kI32, "int32", "i32", 4},
    {DType::kU32, "uint32", "u32", 4},
    {DType::kI64, "int64", "i64", 8},
    {DType::kU64, "uint64", "u64", 8},
    {DType::kBool, "bool", "bool", 1},
}};

const DTypeNames* Find(DType dtype) {
  for (const auto& d : kDTypes) {
    if (d.dtype == dtype) return &d;
  }
  return nullptr;
}

}  // namespace

size_t DTypeSize(DType dtype) {
  const DTypeNames* d = Find(dtype);
  return d ? d->size : 0;
}

std::string_view DTypeName(DType dtype) {
  const DTypeNames* d = Find(dtype);
  return d ? d->name : "undefined";
}

std::optional<DType> ParseDType(std::string_view name) {
  if (name == "float") return DType::kF32;
  if (name == "double") return DType::kF64;
  if (name == "half") return DType::kF16;
  for (const auto& d : kDTypes) {
    if (d.name == name || d.short_name == name) return d.dtype;
  }
  return std::nullopt;
}

bool IsFloatingPoint(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF64 || dtype == DType::kF16 ||
         dtype == DType::kBF16;
}

bool IsInteger(DType dtype) {
  switch (dtype) {
    case DType::kI8: case DType::kU8: case DType::kI16: case DType::kU16:
    case DType::kI32: case DType::kU32: case DType::kI64: case DType::kU64:
      return true;
    default:
      return false;
  }
}

bool IsSigned(DType dtype) {
  return IsFloatingPoint(dtype) || dtype == DType::kI8 || dtype == DType::kI16 ||
         dtype == DType::kI32 || dtype == DType::kI64;
}

// float <-> half conversion, round-to-nearest-even, with subnormals, inf and NaN.
Float16::Float16(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or NaN
    bits = static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
    return;
  }
  if (abs >= 0x477ff000u) {  // rounds to >= 65520: overflow to inf
    bits = static_cast<uint16_t>(sign | 0x7c00u);
    return;
  }
  if (abs < 0x38800000u) {  // subnormal half (or zero)
    // Add 0.5 in the half-subnormal unit and let float rounding do the work.
    const float magic = std::bit_cast<float>(0x3f000000u);  // 0.5
    float scaled = std::bit_cast<float>(abs) + magic;
    bits = static_cast<uint16_t>(sign | (std::bit_cast<uint32_t>(scaled) - 0x3f000000u));
    return;
  }
  const uint32_t mant_odd = (abs >> 13) & 1u;
  uint32_t rounded = abs + 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round
  bits = static_cast<uint16_t>(sign | (rounded >> 13));
}

Float16::operator float() const {
  const uint32_t sign = (static_cast<uint32_t>(bits) & 0x8000u) << 16;
  const uint32_t exp = (bits >> 10) & 0x1fu;
  const uint32_t mant = bits & 0x3ffu;
  if (exp == 0) {
    // zero or subnormal: mant * 2^-24
    const float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

BFloat16::BFloat16(float value) {
  uint32_t f = std::bit_cast<uint32_t>(value);
  if ((f & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep it a quiet NaN
    bits = static_cast<uint16_t>((f >> 16) | 0x40u);
    return;
  }
  f += 0x7fffu + ((f >> 16) & 1u);
  bits = static_cast<uint16_t>(f >> 16);
}

BFloat16::operator float() const { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

}  // namespace unihal
