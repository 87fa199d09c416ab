#include "unihal/low_precision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "unihal/tensor.h"

namespace unihal {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const DType kFloat8s[] = {DType::kF8E4M3FN, DType::kF8E4M3FNUZ, DType::kF8E5M2, DType::kF8E5M2FNUZ};

TEST(LowPrecisionTest, DTypeSizesAndNames) {
  EXPECT_EQ(DTypeBits(DType::kF8E4M3FN), 8u);
  EXPECT_EQ(DTypeSize(DType::kF8E4M3FN), 1u);
  EXPECT_EQ(DTypeBits(DType::kI4), 4u);
  EXPECT_EQ(DTypeSize(DType::kI4), 0u);  // sub-byte: no per-element byte size
  EXPECT_EQ(StorageBytes(DType::kI4, 5), 3u);
  EXPECT_EQ(StorageBytes(DType::kU2, 5), 2u);
  EXPECT_EQ(StorageBytes(DType::kF32, 5), 20u);
  EXPECT_EQ(ParseDType("float8_e8m0fnu"), DType::kF8E8M0);
  EXPECT_EQ(ParseDType("int4"), DType::kI4);
  for (DType d : kFloat8s) {
    EXPECT_TRUE(IsStorageOnly(d));
    EXPECT_FALSE(IsFloatingPoint(d));
    EXPECT_FALSE(VisitDType(d, [](auto) {}));
  }
  EXPECT_FALSE(IsStorageOnly(DType::kU8));
  Result<Tensor> t = Tensor::Allocate(DType::kU2, {3, 3});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->nbytes(), 3u);
}

TEST(LowPrecisionTest, EveryFloat8CodeRoundTrips) {
  for (DType d : kFloat8s) {
    for (int code = 0; code < 256; ++code) {
      const double value = DecodeLowPrecision(d, static_cast<uint8_t>(code));
      if (std::isnan(value)) continue;
      for (bool saturate : {true, false}) {
        if (std::isinf(value) && saturate) continue;  // inf saturates to the max finite code
        EXPECT_EQ(EncodeFloatCode(d, value, saturate), code)
            << DTypeName(d) << " code " << code << " value " << value;
      }
    }
  }
  EXPECT_EQ(EncodeFloatCode(DType::kF8E5M2, kInf, false), 0x7c);
  for (int code = 0; code < 16; ++code) {
    const double value = DecodeLowPrecision(DType::kF4E2M1, static_cast<uint8_t>(code));
    EXPECT_EQ(EncodeFloatCode(DType::kF4E2M1, value), code) << code;
  }
  for (int code = 0; code < 255; ++code) {
    const double value = DecodeLowPrecision(DType::kF8E8M0, static_cast<uint8_t>(code));
    EXPECT_EQ(value, std::ldexp(1.0, code - 127));
    // kDown: 2^-127 is a float32 subnormal, which "up" rounds to code 1 (as the reference).
    EXPECT_EQ(EncodeFloatCode(DType::kF8E8M0, value, true, E8M0Rounding::kDown), code) << code;
    if (code > 0) {
      EXPECT_EQ(EncodeFloatCode(DType::kF8E8M0, value, true, E8M0Rounding::kUp), code) << code;
    }
  }
}

TEST(LowPrecisionTest, Float8KnownValues) {
  // Max finite values and NaN codes of each format.
  EXPECT_EQ(DecodeLowPrecision(DType::kF8E4M3FN, 0x7e), 448.0);
  EXPECT_TRUE(std::isnan(DecodeLowPrecision(DType::kF8E4M3FN, 0x7f)));
  EXPECT_TRUE(std::isnan(DecodeLowPrecision(DType::kF8E4M3FN, 0xff)));
  EXPECT_EQ(DecodeLowPrecision(DType::kF8E4M3FNUZ, 0x7f), 240.0);
  EXPECT_TRUE(std::isnan(DecodeLowPrecision(DType::kF8E4M3FNUZ, 0x80)));
  EXPECT_EQ(DecodeLowPrecision(DType::kF8E5M2, 0x7b), 57344.0);
  EXPECT_EQ(DecodeLowPrecision(DType::kF8E5M2, 0xfc), -kInf);
  EXPECT_EQ(DecodeLowPrecision(DType::kF8E5M2FNUZ, 0x7f), 57344.0);
  EXPECT_EQ(DecodeLowPrecision(DType::kF8E4M3FN, 0x01), std::ldexp(1.0, -9));  // subnormal
  // Round to nearest even: 464 is halfway between 448 (even) and 480 (beyond max).
  EXPECT_EQ(EncodeFloatCode(DType::kF8E4M3FN, 464.0, false), 0x7e);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E4M3FN, 465.0, false), 0x7f);  // NaN
  EXPECT_EQ(EncodeFloatCode(DType::kF8E4M3FN, 465.0, true), 0x7e);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E4M3FN, 1.0625, true), 0x38);  // tie -> 1.0
  EXPECT_EQ(EncodeFloatCode(DType::kF8E4M3FN, 1.1875, true), 0x3a);  // tie -> 1.25
  // Saturate vs not, for inf.
  EXPECT_EQ(EncodeFloatCode(DType::kF8E5M2, kInf, true), 0x7b);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E5M2, -kInf, false), 0xfc);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E4M3FN, -kInf, false), 0xff);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E4M3FNUZ, kInf, false), 0x80);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E5M2FNUZ, -1e9, true), 0xff);
  // FNUZ: no negative zero.
  EXPECT_EQ(EncodeFloatCode(DType::kF8E4M3FNUZ, -0.0), 0x00);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E5M2FNUZ, -1e-30), 0x00);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E4M3FN, -0.0), 0x80);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E4M3FNUZ, kNaN), 0x80);
}

TEST(LowPrecisionTest, Float4AndE8M0AsOnnxReference) {
  // From onnx's test_cast_FLOAT_to_FLOAT4E2M1 (ml_dtypes): ties to even, saturation, NaN->0x8.
  const double in[] = {0.48, 0.25, 1.05, -3.5, -8, 9, 1e6, 1e-7, kNaN, kInf, -kInf, -4, 0.01, -0.0};
  const int want[] = {1, 0, 2, 0xe, 0xf, 7, 7, 0, 8, 7, 0xf, 0xe, 0, 8};
  for (size_t i = 0; i < std::size(in); ++i) {
    EXPECT_EQ(EncodeFloatCode(DType::kF4E2M1, in[i]), want[i]) << in[i];
  }
  // onnx.numpy_helper.to_float8e8m0.
  EXPECT_EQ(EncodeFloatCode(DType::kF8E8M0, 1.1, true, E8M0Rounding::kUp), 0x80);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E8M0, 1.1, true, E8M0Rounding::kDown), 0x7f);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E8M0, 1.4, true, E8M0Rounding::kNearest), 0x7f);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E8M0, 1.6, true, E8M0Rounding::kNearest), 0x80);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E8M0, 0.0, true, E8M0Rounding::kUp), 0x00);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E8M0, kNaN, true, E8M0Rounding::kUp), 0xff);
  const double just_below_max = std::ldexp(1.5, 127);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E8M0, just_below_max, true, E8M0Rounding::kUp), 0xfe);
  EXPECT_EQ(EncodeFloatCode(DType::kF8E8M0, just_below_max, false, E8M0Rounding::kUp), 0xff);
  EXPECT_EQ(ParseE8M0Rounding("nearest"), E8M0Rounding::kNearest);
  EXPECT_FALSE(ParseE8M0Rounding("even").has_value());
}

TEST(LowPrecisionTest, IntegerCodesWrapForCastAndSaturateForQuantize) {
  for (int code = 0; code < 16; ++code) {
    const double i4 = DecodeLowPrecision(DType::kI4, static_cast<uint8_t>(code));
    EXPECT_EQ(i4, code < 8 ? code : code - 16);
    EXPECT_EQ(DecodeLowPrecision(DType::kU4, static_cast<uint8_t>(code)), code);
    EXPECT_EQ(CastToIntCode(DType::kI4, static_cast<int64_t>(i4)), code);
  }
  EXPECT_EQ(DecodeLowPrecision(DType::kI2, 0x3), -1);
  EXPECT_EQ(DecodeLowPrecision(DType::kU2, 0x3), 3);
  // Cast: truncate, keep the low bits (as onnx's test_cast_FLOAT_to_INT4 data).
  EXPECT_EQ(CastToIntCode(DType::kI4, -9.0), 0x7);
  EXPECT_EQ(CastToIntCode(DType::kI4, 8.9), 0x8);
  EXPECT_EQ(CastToIntCode(DType::kU4, -1.5), 0xf);
  EXPECT_EQ(CastToIntCode(DType::kI2, int64_t{-3}), 0x1);
  EXPECT_EQ(CastToIntCode(DType::kI4, kNaN), 0);
  // QuantizeLinear: round half to even, clamp.
  EXPECT_EQ(SaturateToIntCode(DType::kI4, 2.5), 2);
  EXPECT_EQ(SaturateToIntCode(DType::kI4, 3.5), 4);
  EXPECT_EQ(SaturateToIntCode(DType::kI4, -100.0), 0x8);
  EXPECT_EQ(SaturateToIntCode(DType::kU4, 100.0), 0xf);
  EXPECT_EQ(SaturateToIntCode(DType::kU2, -1.0), 0);
  EXPECT_EQ(SaturateToIntCode(DType::kI2, 1.6), 1);
  EXPECT_EQ(LowPrecisionIntRange(DType::kI2)->min, -2);
  EXPECT_FALSE(LowPrecisionIntRange(DType::kF4E2M1).has_value());
}

TEST(LowPrecisionTest, PackedCodesLowBitsFirst) {
  uint8_t bytes[2] = {0, 0};
  for (int i = 0; i < 4; ++i) StoreCode(bytes, DType::kU4, i, static_cast<uint8_t>(i + 1));
  EXPECT_EQ(bytes[0], 0x21);
  EXPECT_EQ(bytes[1], 0x43);
  StoreCode(bytes, DType::kU4, 1, 0xf);  // keeps the neighbour
  EXPECT_EQ(bytes[0], 0xf1);
  EXPECT_EQ(LoadCode(bytes, DType::kU4, 3), 4);
  uint8_t two_bit = 0;
  for (int i = 0; i < 4; ++i) StoreCode(&two_bit, DType::kU2, i, static_cast<uint8_t>(i));
  EXPECT_EQ(two_bit, 0xe4);  // 3 << 6 | 2 << 4 | 1 << 2 | 0
  EXPECT_EQ(LoadCode(&two_bit, DType::kU2, 2), 2);
  uint8_t f8[2] = {0x12, 0x34};
  EXPECT_EQ(LoadCode(f8, DType::kF8E5M2, 1), 0x34);
}

}  // namespace
}  // namespace unihal
