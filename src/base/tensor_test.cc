#include "unihal/tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace unihal {
namespace {

TEST(DTypeTest, SizesNamesAndParsing) {
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kBool), 1u);
  EXPECT_EQ(DTypeSize(DType::kUndefined), 0u);
  for (DType d : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16, DType::kI8, DType::kU8,
                  DType::kI16, DType::kU16, DType::kI32, DType::kU32, DType::kI64, DType::kU64,
                  DType::kBool}) {
    EXPECT_EQ(ParseDType(DTypeName(d)), d) << DTypeName(d);
  }
  EXPECT_EQ(ParseDType("f16"), DType::kF16);
  EXPECT_FALSE(ParseDType("complex64").has_value());
  EXPECT_TRUE(IsFloatingPoint(DType::kBF16));
  EXPECT_TRUE(IsInteger(DType::kU64));
  EXPECT_FALSE(IsInteger(DType::kBool));
}

TEST(DTypeTest, Float16RoundTripsEveryHalf) {
  // Every finite half converts to float and back to the same bits.
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    Float16 h;
    h.bits = static_cast<uint16_t>(bits);
    const float f = static_cast<float>(h);
    if (std::isnan(f)) continue;
    EXPECT_EQ(Float16(f).bits, h.bits) << "bits " << bits;
  }
}

TEST(DTypeTest, Float16RoundsToNearestAgainstFloat64) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-70000.f, 70000.f);
  for (int i = 0; i < 20000; ++i) {
    const float x = i % 3 == 0 ? dist(rng) * 1e-6f : dist(rng);
    const float h = static_cast<float>(Float16(x));
    if (std::abs(x) >= 65520.f) {
      EXPECT_TRUE(std::isinf(h)) << x;
      continue;
    }
    // The nearest half is within half a unit in the last place (spacing near x).
    const double spacing = std::abs(x) < 6.103515625e-05 ? std::ldexp(1.0, -24)
                                                         : std::ldexp(1.0, std::ilogb(x) - 10);
    EXPECT_LE(std::abs(static_cast<double>(h) - x), spacing / 2 + 1e-12) << x;
  }
  EXPECT_TRUE(std::isnan(static_cast<float>(Float16(std::nanf("")))));
}

TEST(DTypeTest, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f)), 1.0f);
  EXPECT_EQ(static_cast<float>(BFloat16(-2.5f)), -2.5f);
  // 1 + 2^-8 is exactly between 1 and 1 + 2^-7: ties to even (1).
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f + std::ldexp(1.0f, -8))), 1.0f);
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f + 3 * std::ldexp(1.0f, -8))),
            1.0f + std::ldexp(1.0f, -6));
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(std::nanf("")))));
}

TEST(TensorTest, AllocateIsZeroedAndAligned) {
  Result<Tensor> t = Tensor::Allocate(DType::kF32, {2, 3, 4});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->num_elements(), 24);
  EXPECT_EQ(t->nbytes(), 96u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->data()) % 64, 0u);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(t->data_as<float>()[i], 0.0f);
  EXPECT_EQ(t->Describe(), "float32[2, 3, 4]");
}

TEST(TensorTest, RejectsNegativeAndHugeShapes) {
  EXPECT_EQ(Tensor::Allocate(DType::kF32, {2, -1}).status().code(), StatusCode::kInvalidArgument);
  Result<Tensor> huge = Tensor::Allocate(DType::kF32, {1 << 30, 1 << 30, 1 << 30});
  EXPECT_EQ(huge.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(Tensor::Allocate(DType::kUndefined, {1}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(TensorTest, ScalarsAndEmptyTensors) {
  Tensor s = Tensor::Scalar<int64_t>(42);
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(s.num_elements(), 1);
  EXPECT_EQ(*s.data_as<int64_t>(), 42);
  Result<Tensor> empty = Tensor::Allocate(DType::kF32, {3, 0});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->num_elements(), 0);
  EXPECT_NE(empty->data(), nullptr);
}

TEST(TensorTest, ReshapedSharesStorageCloneDoesNot) {
  Tensor t = Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Result<Tensor> r = t.Reshaped({3, 2});
  ASSERT_TRUE(r.ok());
  r->data_as<float>()[0] = 10;
  EXPECT_EQ(t.data_as<float>()[0], 10);
  EXPECT_FALSE(t.Reshaped({4, 2}).ok());
  Result<Tensor> c = t.Clone();
  ASSERT_TRUE(c.ok());
  c->data_as<float>()[1] = -1;
  EXPECT_EQ(t.data_as<float>()[1], 2);
}

TEST(TensorTest, ToInt64Vector) {
  Tensor t = Tensor::FromVector<int32_t>({3}, {-1, 0, 7});
  EXPECT_EQ(*t.ToInt64Vector(), (std::vector<int64_t>{-1, 0, 7}));
  Tensor f = Tensor::FromVector<float>({1}, {1.5f});
  EXPECT_EQ(f.ToInt64Vector().status().code(), StatusCode::kInvalidArgument);
}

TEST(ShapeTest, Helpers) {
  EXPECT_EQ(NumElements({}), 1);
  EXPECT_EQ(NumElements({2, 0, 3}), 0);
  EXPECT_EQ(StridesOf({2, 3, 4}), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_EQ(ShapeToString({1, 3}), "[1, 3]");
}

}  // namespace
}  // namespace unihal
