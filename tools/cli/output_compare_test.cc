#include "cli/output_compare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace unihal::cli {
namespace {

TEST(RelativeErrorTest, FloatsAreScaledByTheLargestExpectedValue) {
  const Tensor expected = Tensor::FromVector<float>({3}, {1, -4, 2});
  Result<double> error =
      RelativeError("y", Tensor::FromVector<float>({3}, {1.5f, -4, 2}), expected);
  ASSERT_TRUE(error.ok()) << error.status().ToString();
  EXPECT_DOUBLE_EQ(*error, 0.5 / 4);
  error = RelativeError("y", expected, expected);
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(*error, 0.0);
}

TEST(RelativeErrorTest, AllZeroExpectedUsesTheAbsoluteError) {
  Result<double> error = RelativeError("y", Tensor::FromVector<float>({2}, {0, 0.25f}),
                                       Tensor::FromVector<float>({2}, {0, 0}));
  ASSERT_TRUE(error.ok());
  EXPECT_DOUBLE_EQ(*error, 0.25);
}

TEST(RelativeErrorTest, NanOnOneSideIsInfinite) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Result<double> error = RelativeError("y", Tensor::FromVector<float>({2}, {nan, 1}),
                                       Tensor::FromVector<float>({2}, {0, 1}));
  ASSERT_TRUE(error.ok());
  EXPECT_TRUE(std::isinf(*error));
  error = RelativeError("y", Tensor::FromVector<float>({2}, {nan, 1}),
                        Tensor::FromVector<float>({2}, {nan, 1}));
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(*error, 0.0);
}

TEST(RelativeErrorTest, IntegersMustBeEqual) {
  const Tensor expected = Tensor::FromVector<int64_t>({3}, {1, 2, 3});
  Result<double> error = RelativeError("idx", expected, expected);
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(*error, 0.0);
  error = RelativeError("idx", Tensor::FromVector<int64_t>({3}, {1, 2, 4}), expected);
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().message(),
            "output 'idx' (int64) differs from ONNX Runtime's at element 2");
}

TEST(RelativeErrorTest, ShapeOrDtypeMismatchIsAnError) {
  Result<double> error = RelativeError("y", Tensor::FromVector<float>({2}, {1, 2}),
                                       Tensor::FromVector<float>({1, 2}, {1, 2}));
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().message(),
            "output 'y' is float32[2] in unihal but float32[1, 2] in ONNX Runtime");
}

}  // namespace
}  // namespace unihal::cli
