// Conversions to and from the storage-only dtypes (float8, float4, int4, int2; see
// IsStorageOnly), in one place for Cast, QuantizeLinear, DequantizeLinear and the tests.
//
// Each element is a "code": its bits, at most 8, in the low bits of a uint8_t. Tensors of
// 4-bit and 2-bit types pack their codes low bits first (ONNX's layout): element i of an int4
// tensor is bits 4*(i%2).. of byte i/2. LoadCode / StoreCode address elements by index.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "unihal/dtype.h"

namespace unihal {

// The code of element `index` of a storage-only tensor's data.
uint8_t LoadCode(const void* data, DType dtype, int64_t index);
// Writes element `index`, keeping the other values that share its byte. Not safe to call
// from several threads on elements of one byte.
void StoreCode(void* data, DType dtype, int64_t index, uint8_t code);

// The exact value of a code: float8/float4 values (NaN for NaN codes, +-inf for e5m2's inf),
// int4/uint4/int2/uint2 as their integer. Codes are masked to the type's width.
double DecodeLowPrecision(DType dtype, uint8_t code);

// How Cast (opset 25) rounds to float8_e8m0fnu.
enum class E8M0Rounding { kUp, kDown, kNearest };
// Parses Cast's round_mode attribute ("up", "down", "nearest").
std::optional<E8M0Rounding> ParseE8M0Rounding(std::string_view name);

// ONNX Cast to a storage-only float type (float8*, float4_e2m1fn), rounding to nearest even.
// saturate (Cast opset 19+, default true): out-of-range values and +-inf become +-max finite;
// without it they become inf (e5m2) or NaN (the others). float4_e2m1fn always saturates and
// maps NaN to 0x8 (as ml_dtypes, ONNX's reference). The FNUZ types have no -0 (it becomes 0)
// and code 0x80 is their NaN. For float8_e8m0fnu the value is first rounded to float32 and the
// result follows onnx.numpy_helper.to_float8e8m0 (the sign is ignored).
uint8_t EncodeFloatCode(DType dtype, double value, bool saturate = true,
                        E8M0Rounding rounding = E8M0Rounding::kUp);

// ONNX Cast to int4/uint4/int2/uint2: C-style truncation toward zero, then, like every integer
// Cast, the low bits are kept (two's complement wrap: 9 -> int4 -7). NaN and inf give 0.
uint8_t CastToIntCode(DType dtype, double value);
uint8_t CastToIntCode(DType dtype, int64_t value);

// QuantizeLinear to int4/uint4/int2/uint2: round half to even, then clamp to the type's range
// (int4 [-8, 7], uint4 [0, 15], int2 [-2, 1], uint2 [0, 3]). NaN gives 0.
uint8_t SaturateToIntCode(DType dtype, double value);

// The range of int4/uint4/int2/uint2 (for QuantizeLinear's clamp), or nullopt for other types.
struct IntRange {
  int64_t min;
  int64_t max;
};
std::optional<IntRange> LowPrecisionIntRange(DType dtype);

// The code of a value for any storage-only dtype, as ONNX Cast converts it: EncodeFloatCode for
// the float types, CastToIntCode for the integer ones.
uint8_t CastToCode(DType dtype, double value, bool saturate = true,
                   E8M0Rounding rounding = E8M0Rounding::kUp);

}  // namespace unihal
