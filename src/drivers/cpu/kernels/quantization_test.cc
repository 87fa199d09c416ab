#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "testing/op_test_util.h"
#include "unihal/low_precision.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrInts;
using ::unihal::testing::ElementAsDouble;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;

std::vector<Tensor> RunAll(const ir::Node& node, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::vector<Tensor>(node.outputs.size());
}

Status RunStatus(const ir::Node& node, const std::vector<Tensor>& inputs) {
  return RunNode(AllCpuKernels(), node, inputs).status();
}

double Clamp(double v, double lo, double hi) { return std::min(hi, std::max(lo, v)); }

TEST(QuantizationTest, QuantizeLinearPerAxisInt8) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3, 4}, 11, -40, 40);
  const Tensor scale = RandomTensor(DType::kF32, {3}, 12, 0.05, 0.5);
  const Tensor zero = RandomTensor(DType::kI8, {3}, 13, -20, 20);
  const Tensor y =
      RunAll(MakeNode("QuantizeLinear", {"x", "s", "z"}, {"y"}, {}, 13), {x, scale, zero})[0];
  std::vector<int8_t> expected;
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    const int64_t c = (i / 4) % 3;
    const float ratio = x.data_as<float>()[i] / scale.data_as<float>()[c];
    expected.push_back(
        static_cast<int8_t>(Clamp(std::nearbyint(ratio) + ElementAsDouble(zero, c), -128, 127)));
  }
  EXPECT_TRUE(AllClose(y, Tensor::FromVector<int8_t>({2, 3, 4}, expected), 0, 0));
}

TEST(QuantizationTest, DequantizeLinearBlocked) {
  const Tensor x = RandomTensor(DType::kU8, {2, 5}, 21, 0, 255);
  const Tensor scale = RandomTensor(DType::kF32, {2, 3}, 22, 0.01, 1.0);
  const Tensor zero = RandomTensor(DType::kU8, {2, 3}, 23, 0, 255);
  const Tensor y = RunAll(MakeNode("DequantizeLinear", {"x", "s", "z"}, {"y"},
                                   {{"axis", AttrInt(1)}, {"block_size", AttrInt(2)}}, 21),
                          {x, scale, zero})[0];
  std::vector<float> expected;
  for (int64_t i = 0; i < 10; ++i) {
    const int64_t p = (i / 5) * 3 + (i % 5) / 2;
    expected.push_back(static_cast<float>((ElementAsDouble(x, i) - ElementAsDouble(zero, p)) *
                                          ElementAsDouble(scale, p)));
  }
  EXPECT_TRUE(AllClose(y, Tensor::FromVector<float>({2, 5}, expected)));
}

TEST(QuantizationTest, QLinearMatMulMatchesDequantizedProduct) {
  const Tensor a = RandomTensor(DType::kU8, {3, 5}, 31, 0, 255);
  const Tensor b = RandomTensor(DType::kU8, {5, 2}, 32, 0, 255);
  const Tensor a_scale = Tensor::Scalar<float>(0.02f), b_scale = Tensor::Scalar<float>(0.03f);
  const Tensor y_scale = Tensor::Scalar<float>(0.5f);
  const Tensor a_zero = Tensor::Scalar<uint8_t>(120), b_zero = Tensor::Scalar<uint8_t>(130);
  const Tensor y_zero = Tensor::Scalar<uint8_t>(100);
  const ir::Node node =
      MakeNode("QLinearMatMul", {"a", "as", "az", "b", "bs", "bz", "ys", "yz"}, {"y"}, {}, 10);
  const Tensor y = RunAll(node, {a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero})[0];
  const double ratio = static_cast<double>(0.02f * 0.03f / 0.5f);
  std::vector<uint8_t> expected;
  for (int64_t m = 0; m < 3; ++m) {
    for (int64_t n = 0; n < 2; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < 5; ++k) {
        acc += (ElementAsDouble(a, m * 5 + k) - 120) * (ElementAsDouble(b, k * 2 + n) - 130);
      }
      expected.push_back(static_cast<uint8_t>(Clamp(std::nearbyint(acc * ratio + 100), 0, 255)));
    }
  }
  EXPECT_TRUE(AllClose(y, Tensor::FromVector<uint8_t>({3, 2}, expected), 0, 0));
}

TEST(QuantizationTest, ConvIntegerStridedPaddedPerChannelZeroPoints) {
  const Tensor x = RandomTensor(DType::kU8, {1, 2, 5, 5}, 41, 0, 255);
  const Tensor w = RandomTensor(DType::kU8, {3, 2, 3, 3}, 42, 0, 255);
  const Tensor x_zero = Tensor::Scalar<uint8_t>(7);
  const Tensor w_zero = Tensor::FromVector<uint8_t>({3}, {1, 128, 250});
  const ir::Node node =
      MakeNode("ConvInteger", {"x", "w", "xz", "wz"}, {"y"},
               {{"strides", AttrInts({2, 2})}, {"pads", AttrInts({1, 1, 1, 1})}}, 10);
  const Tensor y = RunAll(node, {x, w, x_zero, w_zero})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 3, 3, 3}));
  std::vector<int32_t> expected;
  const double w_zeros[3] = {1, 128, 250};
  for (int64_t m = 0; m < 3; ++m) {
    for (int64_t oh = 0; oh < 3; ++oh) {
      for (int64_t ow = 0; ow < 3; ++ow) {
        double acc = 0;
        for (int64_t c = 0; c < 2; ++c) {
          for (int64_t kh = 0; kh < 3; ++kh) {
            for (int64_t kw = 0; kw < 3; ++kw) {
              const int64_t ih = oh * 2 + kh - 1, iw = ow * 2 + kw - 1;
              if (ih < 0 || ih >= 5 || iw < 0 || iw >= 5) continue;
              acc += (ElementAsDouble(x, (c * 5 + ih) * 5 + iw) - 7) *
                     (ElementAsDouble(w, ((m * 2 + c) * 3 + kh) * 3 + kw) - w_zeros[m]);
            }
          }
        }
        expected.push_back(static_cast<int32_t>(acc));
      }
    }
  }
  EXPECT_TRUE(AllClose(y, Tensor::FromVector<int32_t>({1, 3, 3, 3}, expected), 0, 0));
}

TEST(QuantizationTest, DynamicQuantizeLinearCoversZero) {
  const Tensor x = Tensor::FromVector<float>({4}, {1.0f, 2.0f, 3.0f, 5.1f});
  const std::vector<Tensor> out =
      RunAll(MakeNode("DynamicQuantizeLinear", {"x"}, {"y", "s", "z"}, {}, 11), {x});
  // The range is [0, 5.1]: zero maps to 0 and 5.1 to 255.
  EXPECT_FLOAT_EQ(out[1].data_as<float>()[0], 5.1f / 255.0f);
  EXPECT_EQ(out[2].data_as<uint8_t>()[0], 0);
  EXPECT_EQ(out[0].data_as<uint8_t>()[3], 255);
}

TEST(QuantizationTest, ErrorsNameTheNodeAndTheProblem) {
  const Tensor x = RandomTensor(DType::kF32, {4}, 51);
  const Tensor scale = Tensor::Scalar<float>(0.1f);
  // FLOAT8E8M0 (24) is not a QuantizeLinear output type.
  Status s =
      RunStatus(MakeNode("QuantizeLinear", {"x", "s"}, {"y"}, {{"output_dtype", AttrInt(24)}}, 21),
                {x, scale});
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("not supported"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("QuantizeLinear_under_test"), std::string::npos) << s.message();
  // output_dtype INT8 (3) contradicts a uint8 zero point.
  s = RunStatus(
      MakeNode("QuantizeLinear", {"x", "s", "z"}, {"y"}, {{"output_dtype", AttrInt(3)}}, 21),
      {x, scale, Tensor::Scalar<uint8_t>(0)});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  // A per-axis scale of the wrong size.
  s = RunStatus(MakeNode("DequantizeLinear", {"x", "s"}, {"y"}, {{"axis", AttrInt(0)}}, 13),
                {RandomTensor(DType::kU8, {4}, 52, 0, 9), RandomTensor(DType::kF32, {3}, 53)});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("DequantizeLinear_under_test"), std::string::npos) << s.message();
  // MatMulInteger takes 8-bit integers only.
  s = RunStatus(MakeNode("MatMulInteger", {"a", "b"}, {"y"}, {}, 10), {x, x});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("MatMulInteger_under_test"), std::string::npos) << s.message();
}

// A storage-only tensor holding `codes` (packed by StoreCode).
Tensor CodeTensor(DType dtype, Shape shape, const std::vector<uint8_t>& codes) {
  Result<Tensor> t = Tensor::Allocate(dtype, std::move(shape));
  EXPECT_TRUE(t.ok());
  if (!t.ok()) return Tensor();
  std::memset(t->data(), 0, t->nbytes());
  for (size_t i = 0; i < codes.size(); ++i) {
    StoreCode(t->data(), dtype, static_cast<int64_t>(i), codes[i]);
  }
  return *t;
}

TEST(QuantizationTest, Int4RoundTrip) {
  const Tensor x = RandomTensor(DType::kF32, {7}, 31, -3, 3);
  const float scale = 0.25f;
  const int64_t zero_point = -2;
  const Tensor zero = CodeTensor(DType::kI4, {}, {CastToIntCode(DType::kI4, zero_point)});
  const Tensor s = Tensor::Scalar<float>(scale);
  const Tensor q =
      RunAll(MakeNode("QuantizeLinear", {"x", "s", "z"}, {"y"}, {}, 21), {x, s, zero})[0];
  ASSERT_EQ(q.dtype(), DType::kI4);
  const Tensor y =
      RunAll(MakeNode("DequantizeLinear", {"x", "s", "z"}, {"y"}, {}, 21), {q, s, zero})[0];
  for (int64_t i = 0; i < 7; ++i) {
    const double ratio = x.data_as<float>()[i] / scale;
    const double expected = Clamp(std::nearbyint(ratio) + zero_point, -8, 7);
    EXPECT_EQ(DecodeLowPrecision(DType::kI4, LoadCode(q.data(), DType::kI4, i)), expected) << i;
    EXPECT_FLOAT_EQ(y.data_as<float>()[i], static_cast<float>((expected - zero_point) * scale));
  }
}

TEST(QuantizationTest, Float8SaturateOnAndOff) {
  const Tensor x = Tensor::FromVector<float>({3}, {1000.0f, -1000.0f, 1.5f});
  const Tensor s = Tensor::Scalar<float>(1.0f);
  const Tensor zero = CodeTensor(DType::kF8E4M3FN, {}, {0});
  for (const int64_t saturate : {1, 0}) {
    const Tensor q = RunAll(
        MakeNode("QuantizeLinear", {"x", "s", "z"}, {"y"}, {{"saturate", AttrInt(saturate)}}, 21),
        {x, s, zero})[0];
    ASSERT_EQ(q.dtype(), DType::kF8E4M3FN);
    const auto value = [&](int64_t i) {
      return DecodeLowPrecision(DType::kF8E4M3FN, LoadCode(q.data(), DType::kF8E4M3FN, i));
    };
    if (saturate) {
      EXPECT_EQ(value(0), 448.0);
      EXPECT_EQ(value(1), -448.0);
    } else {
      EXPECT_TRUE(std::isnan(value(0)));
      EXPECT_TRUE(std::isnan(value(1)));
    }
    EXPECT_EQ(value(2), 1.5);
  }
}

}  // namespace
}  // namespace unihal::cpu
