// Tests of the kernels registered by RegisterMoreNnKernels against independent float64
// computations, plus error paths the ONNX node data does not cover.
#include <gtest/gtest.h>

#include <cmath>

#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrFloat;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrInts;
using ::unihal::testing::AttrString;
using ::unihal::testing::ElementAsDouble;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;

Tensor F64(const Shape& shape, const std::vector<double>& values) {
  return Tensor::FromVector<double>(shape, values);
}

Tensor RunOne(const ir::Node& node, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? (*out)[0] : Tensor();
}

void ExpectError(const ir::Node& node, const std::vector<Tensor>& inputs, StatusCode code,
                 const std::string& mentions) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), code) << out.status().ToString();
  EXPECT_NE(out.status().message().find(node.op_type), std::string::npos)
      << out.status().ToString();
  EXPECT_NE(out.status().message().find(mentions), std::string::npos) << out.status().ToString();
}

// Bilinear 2x upsampling with half_pixel coordinates, clamped at the edges.
TEST(NnMoreResize, LinearHalfPixelMatchesBilinear) {
  const Tensor x = RandomTensor(DType::kF64, {1, 2, 3, 4}, 11);
  const ir::Node node =
      MakeNode("Resize", {"x", "", "scales"}, {"y"}, {{"mode", AttrString("linear")}}, 19);
  const Tensor y =
      RunOne(node, {x, Tensor(), Tensor::FromVector<float>({4}, {1.0f, 1.0f, 2.0f, 2.0f})});
  std::vector<double> expected;
  auto source = [](int64_t o, int64_t in) {
    return std::clamp((static_cast<double>(o) + 0.5) / 2 - 0.5, 0.0, static_cast<double>(in - 1));
  };
  for (int64_t c = 0; c < 2; ++c) {
    for (int64_t oh = 0; oh < 6; ++oh) {
      for (int64_t ow = 0; ow < 8; ++ow) {
        const double sy = source(oh, 3), sx = source(ow, 4);
        const int64_t y0 = static_cast<int64_t>(sy), x0 = static_cast<int64_t>(sx);
        const int64_t y1 = std::min<int64_t>(y0 + 1, 2), x1 = std::min<int64_t>(x0 + 1, 3);
        const double fy = sy - static_cast<double>(y0), fx = sx - static_cast<double>(x0);
        auto at = [&](int64_t h, int64_t w) { return ElementAsDouble(x, (c * 3 + h) * 4 + w); };
        expected.push_back((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) +
                           fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1)));
      }
    }
  }
  EXPECT_TRUE(AllClose(y, F64({1, 2, 6, 8}, expected), 1e-12, 1e-12));
}

TEST(NnMoreResize, NearestSizesOnUint8Repeats) {
  const Tensor x = RandomTensor(DType::kU8, {1, 1, 2, 3}, 5, 0, 200);
  const ir::Node node = MakeNode("Resize", {"x", "", "", "sizes"}, {"y"},
                                 {{"coordinate_transformation_mode", AttrString("asymmetric")},
                                  {"nearest_mode", AttrString("floor")}},
                                 19);
  const Tensor y =
      RunOne(node, {x, Tensor(), Tensor(), Tensor::FromVector<int64_t>({4}, {1, 1, 4, 9})});
  ASSERT_EQ(y.shape(), (Shape{1, 1, 4, 9}));
  for (int64_t h = 0; h < 4; ++h) {
    for (int64_t w = 0; w < 9; ++w) {
      EXPECT_EQ(ElementAsDouble(y, h * 9 + w), ElementAsDouble(x, (h / 2) * 3 + w / 3));
    }
  }
}

TEST(NnMoreResize, Errors) {
  const Tensor x = RandomTensor(DType::kF32, {1, 1, 2, 2}, 1);
  const Tensor scales = Tensor::FromVector<float>({4}, {1, 1, 2, 2});
  const Tensor sizes = Tensor::FromVector<int64_t>({4}, {1, 1, 4, 4});
  ExpectError(MakeNode("Resize", {"x", "", "s"}, {"y"}, {{"mode", AttrString("area")}}, 19),
              {x, Tensor(), scales}, StatusCode::kUnimplemented, "area");
  ExpectError(MakeNode("Resize", {"x", "", "s", "z"}, {"y"}, {}, 19), {x, Tensor(), scales, sizes},
              StatusCode::kInvalidArgument, "exactly one");
  ExpectError(
      MakeNode("Resize", {"x", "", "s"}, {"y"},
               {{"coordinate_transformation_mode", AttrString("half_pixel_symmetric")}}, 18),
      {x, Tensor(), scales}, StatusCode::kUnimplemented, "half_pixel_symmetric");
}

// y[o] = B + sum over input positions i and taps k with o = i * stride - pad + k * dilation.
TEST(NnMoreConvTranspose, MatchesScatterFormula) {
  const Tensor x = RandomTensor(DType::kF64, {1, 4, 5}, 21);
  const Tensor w = RandomTensor(DType::kF64, {4, 3, 3}, 22);  // group 2: 6 output channels
  const Tensor b = RandomTensor(DType::kF64, {6}, 23);
  const ir::Node node = MakeNode("ConvTranspose", {"x", "w", "b"}, {"y"},
                                 {{"group", AttrInt(2)},
                                  {"strides", AttrInts({2})},
                                  {"dilations", AttrInts({2})},
                                  {"pads", AttrInts({1, 2})},
                                  {"output_padding", AttrInts({1})}},
                                 22);
  const Tensor y = RunOne(node, {x, w, b});
  const int64_t out_len = 2 * (5 - 1) + 1 + (3 - 1) * 2 + 1 - 1 - 2;
  std::vector<double> expected(static_cast<size_t>(6 * out_len));
  for (int64_t oc = 0; oc < 6; ++oc) {
    for (int64_t o = 0; o < out_len; ++o) {
      double sum = ElementAsDouble(b, oc);
      const int64_t g = oc / 3;
      for (int64_t c = 0; c < 2; ++c) {
        for (int64_t i = 0; i < 5; ++i) {
          for (int64_t k = 0; k < 3; ++k) {
            if (i * 2 - 1 + k * 2 != o) continue;
            sum += ElementAsDouble(x, (g * 2 + c) * 5 + i) *
                   ElementAsDouble(w, ((g * 2 + c) * 3 + oc % 3) * 3 + k);
          }
        }
      }
      expected[static_cast<size_t>(oc * out_len + o)] = sum;
    }
  }
  EXPECT_TRUE(AllClose(y, F64({1, 6, out_len}, expected), 1e-12, 1e-12));
}

// Absurd attributes and inputs are errors, never crashes or huge allocations.
TEST(NnMoreGuards, BadSizesAreErrors) {
  const Tensor x = RandomTensor(DType::kF32, {1, 1, 4, 4}, 1);
  ExpectError(MakeNode("Resize", {"x", "", "s"}, {"y"}, {}, 19),
              {x, Tensor(), Tensor::FromVector<float>({4}, {1, 1, 1e30f, 1e30f})},
              StatusCode::kInvalidArgument, "scales");
  ExpectError(MakeNode("Resize", {"x", "", "s"}, {"y"}, {}, 19),
              {x, Tensor(), Tensor::FromVector<float>({4}, {1, 1, 1e6f, 1e6f})},
              StatusCode::kResourceExhausted, "too large");
  ExpectError(
      MakeNode("DeformConv", {"x", "w", "o"}, {"y"}, {{"strides", AttrInts({0, 1})}}, 22),
      {x, RandomTensor(DType::kF32, {1, 1, 2, 2}, 2), *Tensor::Allocate(DType::kF32, {1, 8, 3, 3})},
      StatusCode::kInvalidArgument, "attributes");
  ExpectError(MakeNode("ConvTranspose", {"x", "w"}, {"y"},
                       {{"output_shape", AttrInts({1 << 20, 1 << 20})}}, 22),
              {x, RandomTensor(DType::kF32, {1, 1, 2, 2}, 2)}, StatusCode::kResourceExhausted,
              "too large");
}

// An output_shape beyond the full output extends it at the end with the bias alone.
TEST(NnMoreConvTranspose, LargerOutputShapeExtendsTheEnd) {
  const Tensor x = RandomTensor(DType::kF64, {1, 1, 3}, 81);
  const Tensor w = RandomTensor(DType::kF64, {1, 1, 2}, 82);
  const Tensor b = Tensor::FromVector<double>({1}, {0.5});
  const Tensor plain = RunOne(MakeNode("ConvTranspose", {"x", "w", "b"}, {"y"}, {}, 22), {x, w, b});
  const Tensor wide = RunOne(
      MakeNode("ConvTranspose", {"x", "w", "b"}, {"y"}, {{"output_shape", AttrInts({7})}}, 22),
      {x, w, b});
  ASSERT_EQ(wide.shape(), (Shape{1, 1, 7}));
  for (int64_t i = 0; i < 7; ++i) {
    EXPECT_DOUBLE_EQ(ElementAsDouble(wide, i), i < 4 ? ElementAsDouble(plain, i) : 0.5);
  }
}

TEST(NnMoreGuards, NonFiniteCoordinatesDoNotCrash) {
  const Tensor x = RandomTensor(DType::kF32, {1, 1, 3, 3}, 91);
  const float nan = std::nanf("");
  const Tensor grid = Tensor::FromVector<float>({1, 1, 3, 2}, {nan, 0, 1e30f, -1e30f, 0, nan});
  for (const char* padding : {"zeros", "border", "reflection"}) {
    for (const char* mode : {"nearest", "linear", "cubic"}) {
      const Tensor y =
          RunOne(MakeNode("GridSample", {"x", "g"}, {"y"},
                          {{"padding_mode", AttrString(padding)}, {"mode", AttrString(mode)}}, 20),
                 {x, grid});
      EXPECT_EQ(y.shape(), (Shape{1, 1, 1, 3})) << padding << " " << mode;
    }
  }
  const Tensor rois = Tensor::FromVector<float>({1, 4}, {nan, 0, 1, 1});
  ExpectError(MakeNode("RoiAlign", {"x", "r", "b"}, {"y"}, {}, 16),
              {x, rois, Tensor::FromVector<int64_t>({1}, {0})}, StatusCode::kInvalidArgument,
              "finite");
}

TEST(NnMoreConvTranspose, MismatchedWeightsNameTheNode) {
  ExpectError(MakeNode("ConvTranspose", {"x", "w"}, {"y"}, {}, 22),
              {RandomTensor(DType::kF32, {1, 4, 5}, 1), RandomTensor(DType::kF32, {3, 2, 3}, 2)},
              StatusCode::kInvalidArgument, "W");
}

// With align_corners the normalised pixel centres sample X exactly.
TEST(NnMoreGridSample, IdentityGridReturnsInput) {
  const Tensor x = RandomTensor(DType::kF32, {1, 2, 3, 4}, 31);
  std::vector<float> grid;
  for (int64_t h = 0; h < 3; ++h) {
    for (int64_t w = 0; w < 4; ++w) {
      grid.push_back(-1.0f + 2.0f * static_cast<float>(w) / 3);
      grid.push_back(-1.0f + 2.0f * static_cast<float>(h) / 2);
    }
  }
  const ir::Node node =
      MakeNode("GridSample", {"x", "g"}, {"y"}, {{"align_corners", AttrInt(1)}}, 20);
  EXPECT_TRUE(AllClose(RunOne(node, {x, Tensor::FromVector<float>({1, 3, 4, 2}, grid)}), x));
  ExpectError(MakeNode("GridSample", {"x", "g"}, {"y"}, {{"mode", AttrString("linear")}}, 16),
              {x, Tensor::FromVector<float>({1, 3, 4, 2}, grid)}, StatusCode::kUnimplemented,
              "linear");
}

TEST(NnMoreNorm, LpAndInstanceNormalization) {
  const Tensor x = RandomTensor(DType::kF64, {2, 3, 5}, 41);
  const Tensor lp =
      RunOne(MakeNode("LpNormalization", {"x"}, {"y"}, {{"axis", AttrInt(1)}}, 22), {x});
  const Tensor scale = RandomTensor(DType::kF64, {3}, 42);
  const Tensor bias = RandomTensor(DType::kF64, {3}, 43);
  const Tensor in = RunOne(MakeNode("InstanceNormalization", {"x", "s", "b"}, {"y"},
                                    {{"epsilon", AttrFloat(0.01f)}}, 22),
                           {x, scale, bias});
  std::vector<double> lp_expected(30), in_expected(30);
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t s = 0; s < 5; ++s) {
      double norm = 0;
      for (int64_t c = 0; c < 3; ++c) norm += std::pow(ElementAsDouble(x, (n * 3 + c) * 5 + s), 2);
      for (int64_t c = 0; c < 3; ++c) {
        const int64_t at = (n * 3 + c) * 5 + s;
        lp_expected[static_cast<size_t>(at)] = ElementAsDouble(x, at) / std::sqrt(norm);
      }
    }
    for (int64_t c = 0; c < 3; ++c) {
      double mean = 0, var = 0;
      for (int64_t s = 0; s < 5; ++s) mean += ElementAsDouble(x, (n * 3 + c) * 5 + s) / 5;
      for (int64_t s = 0; s < 5; ++s)
        var += std::pow(ElementAsDouble(x, (n * 3 + c) * 5 + s) - mean, 2) / 5;
      for (int64_t s = 0; s < 5; ++s) {
        const int64_t at = (n * 3 + c) * 5 + s;
        in_expected[static_cast<size_t>(at)] = (ElementAsDouble(x, at) - mean) /
                                                   std::sqrt(var + static_cast<double>(0.01f)) *
                                                   ElementAsDouble(scale, c) +
                                               ElementAsDouble(bias, c);
      }
    }
  }
  EXPECT_TRUE(AllClose(lp, F64({2, 3, 5}, lp_expected), 1e-12, 1e-12));
  EXPECT_TRUE(AllClose(in, F64({2, 3, 5}, in_expected), 1e-12, 1e-12));
  ExpectError(MakeNode("LpNormalization", {"x"}, {"y"}, {{"p", AttrInt(3)}}, 22), {x},
              StatusCode::kInvalidArgument, "p must be 1 or 2");
  // GroupNormalization-18 takes scale per group, 21 per channel.
  ExpectError(
      MakeNode("GroupNormalization", {"x", "s", "b"}, {"y"}, {{"num_groups", AttrInt(1)}}, 18),
      {x, scale, bias}, StatusCode::kInvalidArgument, "scale");
}

TEST(NnMorePool, LpPoolMatchesNorm) {
  const Tensor x = RandomTensor(DType::kF64, {1, 2, 6}, 51);
  const Tensor y = RunOne(
      MakeNode("LpPool", {"x"}, {"y"},
               {{"kernel_shape", AttrInts({3})}, {"strides", AttrInts({3})}, {"p", AttrInt(3)}},
               22),
      {x});
  std::vector<double> expected;
  for (int64_t c = 0; c < 2; ++c) {
    for (int64_t o = 0; o < 2; ++o) {
      double sum = 0;
      for (int64_t k = 0; k < 3; ++k)
        sum += std::pow(std::abs(ElementAsDouble(x, c * 6 + o * 3 + k)), 3);
      expected.push_back(std::cbrt(sum));
    }
  }
  EXPECT_TRUE(AllClose(y, F64({1, 2, 2}, expected), 1e-12, 1e-12));
}

TEST(NnMoreRoi, NonMaxSuppressionKeepsTheBestOfOverlaps) {
  const Tensor boxes =
      Tensor::FromVector<float>({1, 3, 4}, {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, 5, 1, 6});
  const Tensor scores = Tensor::FromVector<float>({1, 1, 3}, {0.5f, 0.9f, 0.3f});
  const Tensor y = RunOne(MakeNode("NonMaxSuppression", {"b", "s", "m", "i"}, {"y"}, {}, 11),
                          {boxes, scores, Tensor::FromVector<int64_t>({1}, {5}),
                           Tensor::FromVector<float>({1}, {0.5f})});
  EXPECT_TRUE(AllClose(y, Tensor::FromVector<int64_t>({2, 3}, {0, 0, 1, 0, 0, 2})));
  ExpectError(MakeNode("NonMaxSuppression", {"b", "s"}, {"y"}, {}, 11),
              {boxes, Tensor::FromVector<float>({1, 1, 2}, {0.5f, 0.9f})},
              StatusCode::kInvalidArgument, "scores");
}

TEST(NnMoreDeformConv, ZeroOffsetsEqualConv) {
  const Tensor x = RandomTensor(DType::kF32, {1, 2, 4, 4}, 61);
  const Tensor w = RandomTensor(DType::kF32, {3, 2, 2, 2}, 62);
  const Tensor offset = *Tensor::Allocate(DType::kF32, {1, 8, 3, 3});
  const Tensor deform =
      RunOne(MakeNode("DeformConv", {"x", "w", "o"}, {"y"}, {}, 22), {x, w, offset});
  const Tensor conv = RunOne(MakeNode("Conv", {"x", "w"}, {"y"}, {}, 22), {x, w});
  EXPECT_TRUE(AllClose(deform, conv, 1e-5, 1e-6));
  ExpectError(MakeNode("DeformConv", {"x", "w", "o"}, {"y"}, {}, 22),
              {RandomTensor(DType::kF32, {1, 2, 4}, 1), RandomTensor(DType::kF32, {3, 2, 2}, 2),
               *Tensor::Allocate(DType::kF32, {1, 4, 3})},
              StatusCode::kUnimplemented, "2-D");
}

TEST(NnMoreConv, Float16ComputesInFloat32) {
  const Tensor x = RandomTensor(DType::kF16, {1, 2, 5, 5}, 71);
  const Tensor w = RandomTensor(DType::kF16, {3, 2, 3, 3}, 72);
  auto widen = [](const Tensor& t) {
    std::vector<float> v;
    for (int64_t i = 0; i < t.num_elements(); ++i)
      v.push_back(static_cast<float>(ElementAsDouble(t, i)));
    return Tensor::FromVector<float>(t.shape(), v);
  };
  const ir::Node node = MakeNode("Conv", {"x", "w"}, {"y"}, {{"pads", AttrInts({1, 1, 1, 1})}}, 22);
  const Tensor half = RunOne(node, {x, w});
  const Tensor full = RunOne(node, {widen(x), widen(w)});
  ASSERT_EQ(half.dtype(), DType::kF16);
  EXPECT_TRUE(AllClose(widen(half), full, 1e-3, 1e-3));
}

}  // namespace
}  // namespace unihal::cpu
