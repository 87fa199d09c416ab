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
  size_t bits;
};

constexpr std::array<DTypeNames, 23> kDTypes = {{
    {DType::kF32, "float32", "f32", 32},
    {DType::kF64, "float64", "f64", 64},
    {DType::kF16, "float16", "f16", 16},
    {DType::kBF16, "bfloat16", "bf16", 16},
    {DType::kI8, "int8", "i8", 8},
    {DType::kU8, "uint8", "u8", 8},
    {DType::kI16, "int16", "i16", 16},
    {DType::kU16, "uint16", "u16", 16},
    {DType::kI32, "int32", "i32", 32},
    {DType::kU32, "uint32", "u32", 32},
    {DType::kI64, "int64", "i64", 64},
    {DType::kU64, "uint64", "u64", 64},
    {DType::kBool, "bool", "bool", 8},
    {DType::kF8E4M3FN, "float8_e4m3fn", "f8e4m3fn", 8},
    {DType::kF8E4M3FNUZ, "float8_e4m3fnuz", "f8e4m3fnuz", 8},
    {DType::kF8E5M2, "float8_e5m2", "f8e5m2", 8},
    {DType::kF8E5M2FNUZ, "float8_e5m2fnuz", "f8e5m2fnuz", 8},
    {DType::kF8E8M0, "float8_e8m0fnu", "f8e8m0", 8},
    {DType::kF4E2M1, "float4_e2m1fn", "f4e2m1", 4},
    {DType::kI4, "int4", "i4", 4},
    {DType::kU4, "uint4", "u4", 4},
    {DType::kI2, "int2", "i2", 2},
    {DType::kU2, "uint2", "u2", 2},
}};

const DTypeNames* Find(DType dtype) {
  for (const auto& d : kDTypes) {
    if (d.dtype == dtype) return &d;
  }
  return nullptr;
}

}  // namespace

size_t DTypeBits(DType dtype) {
  const DTypeNames* d = Find(dtype);
  return d ? d->bits : 0;
}

size_t DTypeSize(DType dtype) {
  const size_t bits = DTypeBits(dtype);
  return bits % 8 == 0 ? bits / 8 : 0;
}

size_t StorageBytes(DType dtype, int64_t elements) {
  if (elements <= 0) return 0;
  return (static_cast<size_t>(elements) * DTypeBits(dtype) + 7) / 8;
}

bool IsStorageOnly(DType dtype) {
  switch (dtype) {
    case DType::kF8E4M3FN: case DType::kF8E4M3FNUZ: case DType::kF8E5M2:
    case DType::kF8E5M2FNUZ: case DType::kF8E8M0: case DType::kF4E2M1:
    case DType::kI4: case DType::kU4: case DType::kI2: case DType::kU2:
      return true;
    default:
      return false;
  }
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
         dtype == DType::kI32 || dtype == DType::kI64 || dtype == DType::kI4 ||
         dtype == DType::kI2 || dtype == DType::kF8E4M3FN || dtype == DType::kF8E4M3FNUZ ||
         dtype == DType::kF8E5M2 || dtype == DType::kF8E5M2FNUZ || dtype == DType::kF4E2M1;
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
