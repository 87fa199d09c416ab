#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrFloat;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrInts;
using ::unihal::testing::ElementAsDouble;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;
using ::unihal::testing::RunNodeOptions;

using ::unihal::testing::FromDoubles;

std::vector<Tensor> RunAll(const ir::Node& node, const std::vector<Tensor>& inputs,
                           const RunNodeOptions& options = {}) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs, options);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::vector<Tensor>(node.outputs.size());
}

// float64 reduction of x over `reduced` dims (a per-dim mask), keeping them as size 1.
// fn folds the values of one output.
std::vector<double> ReduceReference(const Tensor& x, const std::vector<bool>& reduced,
                                    const std::function<double(const std::vector<double>&)>& fn) {
  const Shape& s = x.shape();
  Shape kept;
  for (size_t d = 0; d < s.size(); ++d) kept.push_back(reduced[d] ? 1 : s[d]);
  std::vector<std::vector<double>> groups(static_cast<size_t>(NumElements(kept)));
  for (int64_t flat = 0; flat < x.num_elements(); ++flat) {
    int64_t rest = flat, out = 0, scale = 1;
    for (size_t d = s.size(); d-- > 0;) {
      const int64_t i = rest % s[d];
      rest /= s[d];
      if (!reduced[d]) out += i * scale;
      scale *= kept[d];
    }
    groups[static_cast<size_t>(out)].push_back(ElementAsDouble(x, flat));
  }
  std::vector<double> result;
  for (const auto& g : groups) result.push_back(fn(g));
  return result;
}

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// Softmax along dims [first, last] of x (collapsed), in float64.
Tensor SoftmaxReference(const Tensor& x, size_t first, size_t last, bool log) {
  std::vector<bool> reduced(x.shape().size(), false);
  for (size_t d = first; d <= last; ++d) reduced[d] = true;
  const std::vector<double> max = ReduceReference(x, reduced, [](const std::vector<double>& v) {
    return *std::max_element(v.begin(), v.end());
  });
  // Walk x once more and normalise using the group of each element.
  const Shape& s = x.shape();
  std::vector<double> e(static_cast<size_t>(x.num_elements()));
  std::vector<int64_t> group(e.size());
  std::vector<double> sums(max.size(), 0.0);
  for (int64_t flat = 0; flat < x.num_elements(); ++flat) {
    int64_t rest = flat, out = 0, scale = 1;
    for (size_t d = s.size(); d-- > 0;) {
      const int64_t i = rest % s[d];
      rest /= s[d];
      if (!reduced[d]) {
        out += i * scale;
        scale *= s[d];
      }
    }
    group[flat] = out;
    e[flat] = std::exp(ElementAsDouble(x, flat) - max[out]);
    sums[out] += e[flat];
  }
  std::vector<double> y(e.size());
  for (size_t i = 0; i < e.size(); ++i) {
    y[i] =
        log ? ElementAsDouble(x, static_cast<int64_t>(i)) - max[group[i]] - std::log(sums[group[i]])
            : e[i] / sums[group[i]];
  }
  return FromDoubles(x.dtype(), s, y);
}

TEST(MathTest, SoftmaxOpset13AlongOneAxis) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3, 5}, 1, -10, 10);
  EXPECT_TRUE(AllClose(RunAll(MakeNode("Softmax", {"x"}, {"y"}, {}, 13), {x})[0],
                       SoftmaxReference(x, 2, 2, false)));
  EXPECT_TRUE(
      AllClose(RunAll(MakeNode("Softmax", {"x"}, {"y"}, {{"axis", AttrInt(1)}}, 13), {x})[0],
               SoftmaxReference(x, 1, 1, false)));
  EXPECT_TRUE(
      AllClose(RunAll(MakeNode("Softmax", {"x"}, {"y"}, {{"axis", AttrInt(-3)}}, 13), {x})[0],
               SoftmaxReference(x, 0, 0, false)));
  const Tensor big = RandomTensor(DType::kF64, {64, 1000}, 2, -500, 500);  // stability
  EXPECT_TRUE(AllClose(RunAll(MakeNode("Softmax", {"x"}, {"y"}, {}, 13), {big})[0],
                       SoftmaxReference(big, 1, 1, false), 1e-10, 1e-14));
  EXPECT_TRUE(
      AllClose(RunAll(MakeNode("LogSoftmax", {"x"}, {"y"}, {{"axis", AttrInt(1)}}, 13), {x})[0],
               SoftmaxReference(x, 1, 1, true), 1e-5, 1e-5));
}

TEST(MathTest, SoftmaxBeforeOpset13CoercesTo2D) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3, 4}, 3, -4, 4);
  // Default axis 1: each row of [2, 12] is normalised together.
  EXPECT_TRUE(AllClose(RunAll(MakeNode("Softmax", {"x"}, {"y"}, {}, 11), {x})[0],
                       SoftmaxReference(x, 1, 2, false)));
  EXPECT_TRUE(AllClose(RunAll(MakeNode("Softmax", {"x"}, {"y"}, {{"axis", AttrInt(2)}}, 1), {x})[0],
                       SoftmaxReference(x, 2, 2, false)));
  EXPECT_TRUE(
      AllClose(RunAll(MakeNode("Softmax", {"x"}, {"y"}, {{"axis", AttrInt(0)}}, 11), {x})[0],
               SoftmaxReference(x, 0, 2, false)));
  EXPECT_TRUE(
      AllClose(RunAll(MakeNode("LogSoftmax", {"x"}, {"y"}, {{"axis", AttrInt(-2)}}, 11), {x})[0],
               SoftmaxReference(x, 1, 2, true), 1e-5, 1e-5));
}

TEST(MathTest, SoftmaxBadAxisNamesTheNode) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3}, 3);
  Result<std::vector<Tensor>> out =
      RunNode(AllCpuKernels(), MakeNode("Softmax", {"x"}, {"y"}, {{"axis", AttrInt(2)}}, 13), {x});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("node 'Softmax_under_test' (Softmax): axis 2"),
            std::string::npos)
      << out.status().message();
}

Shape KeptShape(const Shape& s, const std::vector<bool>& reduced, bool keepdims) {
  Shape out;
  for (size_t d = 0; d < s.size(); ++d) {
    if (!reduced[d]) {
      out.push_back(s[d]);
    } else if (keepdims) {
      out.push_back(1);
    }
  }
  return out;
}

TEST(MathTest, ReduceMeanAxesAttributeBeforeOpset18) {
  const Tensor x = RandomTensor(DType::kF32, {3, 4, 5, 2}, 11);
  struct Case {
    std::vector<int64_t> axes;
    std::vector<bool> reduced;
  };
  for (const Case& c : std::vector<Case>{{{1}, {false, true, false, false}},
                                         {{0, 2}, {true, false, true, false}},
                                         {{-1, -2}, {false, false, true, true}},
                                         {{}, {true, true, true, true}}}) {
    for (int64_t keepdims : {0, 1}) {
      std::map<std::string, ir::Attribute> attrs = {{"keepdims", AttrInt(keepdims)}};
      if (!c.axes.empty()) attrs["axes"] = AttrInts(c.axes);
      const Tensor y = RunAll(MakeNode("ReduceMean", {"x"}, {"y"}, attrs, 13), {x})[0];
      const Tensor expected = FromDoubles(DType::kF32, KeptShape(x.shape(), c.reduced, keepdims),
                                          ReduceReference(x, c.reduced, Mean));
      EXPECT_TRUE(AllClose(y, expected)) << ShapeToString(c.axes) << " keepdims " << keepdims;
    }
  }
}

TEST(MathTest, ReduceMeanAxesInputSinceOpset18) {
  const Tensor x = RandomTensor(DType::kF64, {4, 3, 6}, 12);
  const Tensor axes = Tensor::FromVector<int64_t>({2}, {-1, 0});
  const std::vector<bool> reduced = {true, false, true};
  for (bool constant : {false, true}) {
    RunNodeOptions options;
    if (constant) options.constant_inputs = {1};
    const Tensor y =
        RunAll(MakeNode("ReduceMean", {"x", "axes"}, {"y"}, {}, 18), {x, axes}, options)[0];
    EXPECT_TRUE(
        AllClose(y, FromDoubles(DType::kF64, {1, 3, 1}, ReduceReference(x, reduced, Mean)), 1e-12));
  }
  // No axes: everything, unless noop_with_empty_axes.
  const Tensor all =
      RunAll(MakeNode("ReduceMean", {"x"}, {"y"}, {{"keepdims", AttrInt(0)}}, 18), {x})[0];
  EXPECT_TRUE(AllClose(
      all, FromDoubles(DType::kF64, {}, ReduceReference(x, {true, true, true}, Mean)), 1e-12));
  const Tensor same = RunAll(
      MakeNode("ReduceMean", {"x"}, {"y"}, {{"noop_with_empty_axes", AttrInt(1)}}, 18), {x})[0];
  EXPECT_TRUE(AllClose(same, x));
  // Integers: the mean truncates.
  const Tensor ix = Tensor::FromVector<int32_t>({2, 2}, {1, 2, -3, -4});
  EXPECT_TRUE(AllClose(RunAll(MakeNode("ReduceMean", {"x", "axes"}, {"y"}, {}, 18),
                              {ix, Tensor::FromVector<int64_t>({1}, {1})})[0],
                       Tensor::FromVector<int32_t>({2, 1}, {1, -3})));
}

TEST(MathTest, OtherReductions) {
  const Tensor x = RandomTensor(DType::kF32, {3, 4, 5}, 13, 0.5, 1.5);
  const std::vector<bool> reduced = {true, false, true};
  const Tensor axes = Tensor::FromVector<int64_t>({2}, {0, 2});
  auto sum = [](const std::vector<double>& v) {
    double s = 0;
    for (double e : v) s += e;
    return s;
  };
  auto prod = [](const std::vector<double>& v) {
    double p = 1;
    for (double e : v) p *= e;
    return p;
  };
  auto max = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
  auto min = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
  EXPECT_TRUE(AllClose(RunAll(MakeNode("ReduceSum", {"x", "axes"}, {"y"}, {}, 13), {x, axes})[0],
                       FromDoubles(DType::kF32, {1, 4, 1}, ReduceReference(x, reduced, sum))));
  EXPECT_TRUE(AllClose(
      RunAll(MakeNode("ReduceProd", {"x"}, {"y"}, {{"axes", AttrInts({0, 2})}}, 13), {x})[0],
      FromDoubles(DType::kF32, {1, 4, 1}, ReduceReference(x, reduced, prod)), 1e-4));
  EXPECT_TRUE(AllClose(RunAll(MakeNode("ReduceMax", {"x", "axes"}, {"y"}, {}, 18), {x, axes})[0],
                       FromDoubles(DType::kF32, {1, 4, 1}, ReduceReference(x, reduced, max))));
  EXPECT_TRUE(AllClose(RunAll(MakeNode("ReduceMin", {"x", "axes"}, {"y"}, {}, 18), {x, axes})[0],
                       FromDoubles(DType::kF32, {1, 4, 1}, ReduceReference(x, reduced, min))));
}

TEST(MathTest, ReduceRejectsRepeatedAxes) {
  const Tensor x = RandomTensor(DType::kF32, {3, 4}, 13);
  Result<std::vector<Tensor>> out =
      RunNode(AllCpuKernels(),
              MakeNode("ReduceMean", {"x"}, {"y"}, {{"axes", AttrInts({1, -1})}}, 13), {x});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("listed twice"), std::string::npos);
}

// LayerNormalization in float64, with Mean and InvStdDev.
std::vector<Tensor> LayerNormReference(const Tensor& x, const Tensor& scale, const Tensor* bias,
                                       size_t axis, double epsilon) {
  const Shape& s = x.shape();
  int64_t rows = 1, cols = 1;
  for (size_t d = 0; d < s.size(); ++d) (d < axis ? rows : cols) *= s[d];
  std::vector<double> y(static_cast<size_t>(x.num_elements())), mean(rows), inv(rows);
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (int64_t c = 0; c < cols; ++c) m += ElementAsDouble(x, r * cols + c);
    m /= static_cast<double>(cols);
    for (int64_t c = 0; c < cols; ++c) v += std::pow(ElementAsDouble(x, r * cols + c) - m, 2);
    v /= static_cast<double>(cols);
    mean[r] = m;
    inv[r] = 1 / std::sqrt(v + epsilon);
    for (int64_t c = 0; c < cols; ++c) {
      // Scale and B have the normalised shape or broadcast to it (here: equal or one element).
      const int64_t sc = scale.num_elements() == 1 ? 0 : c;
      y[r * cols + c] =
          (ElementAsDouble(x, r * cols + c) - m) * inv[r] * ElementAsDouble(scale, sc) +
          (bias ? ElementAsDouble(*bias, bias->num_elements() == 1 ? 0 : c) : 0.0);
    }
  }
  Shape stat(s.begin(), s.begin() + static_cast<int64_t>(axis));
  stat.resize(s.size(), 1);
  return {FromDoubles(x.dtype(), s, y), FromDoubles(DType::kF32, stat, mean),
          FromDoubles(DType::kF32, stat, inv)};
}

TEST(MathTest, LayerNormalization) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3, 8}, 21, -3, 3);
  const Tensor scale_last = RandomTensor(DType::kF32, {8}, 22);
  const Tensor bias_last = RandomTensor(DType::kF32, {8}, 23);
  {
    const std::vector<Tensor> y =
        RunAll(MakeNode("LayerNormalization", {"x", "s", "b"}, {"y", "mean", "inv"}, {}, 17),
               {x, scale_last, bias_last}, {.constant_inputs = {1, 2}});
    const std::vector<Tensor> e = LayerNormReference(x, scale_last, &bias_last, 2, 1e-5);
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(AllClose(y[i], e[i], 1e-5, 1e-5)) << i;
  }
  {
    // axis 1, no B, custom epsilon, only Y requested.
    const Tensor scale = RandomTensor(DType::kF32, {3, 8}, 24);
    const std::vector<Tensor> y =
        RunAll(MakeNode("LayerNormalization", {"x", "s"}, {"y"},
                        {{"axis", AttrInt(-2)}, {"epsilon", AttrFloat(1e-2f)}}, 17),
               {x, scale});
    const std::vector<Tensor> e = LayerNormReference(x, scale, nullptr, 1, 1e-2);
    EXPECT_TRUE(AllClose(y[0], e[0], 1e-5, 1e-5));
  }
  {
    // float64 with a broadcast one-element Scale.
    const Tensor xd = RandomTensor(DType::kF64, {5, 7}, 25);
    const Tensor scale = Tensor::FromVector<double>({1}, {1.5});
    const std::vector<Tensor> y =
        RunAll(MakeNode("LayerNormalization", {"x", "s"}, {"y"}, {}, 17), {xd, scale});
    EXPECT_TRUE(AllClose(y[0], LayerNormReference(xd, scale, nullptr, 1, 1e-5)[0], 1e-12));
  }
}

TEST(MathTest, LayerNormalizationRejectsBadScale) {
  const Tensor x = RandomTensor(DType::kF32, {2, 8}, 21);
  const Tensor scale = RandomTensor(DType::kF32, {5}, 22);
  Result<std::vector<Tensor>> out = RunNode(
      AllCpuKernels(), MakeNode("LayerNormalization", {"x", "s"}, {"y"}, {}, 17), {x, scale});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("Scale has shape [5]"), std::string::npos)
      << out.status().message();
}

ir::Node CastTo(DType dtype) {
  int64_t onnx_type = 0;
  switch (dtype) {
    case DType::kF32:
      onnx_type = 1;
      break;
    case DType::kU8:
      onnx_type = 2;
      break;
    case DType::kI8:
      onnx_type = 3;
      break;
    case DType::kI32:
      onnx_type = 6;
      break;
    case DType::kI64:
      onnx_type = 7;
      break;
    case DType::kBool:
      onnx_type = 9;
      break;
    case DType::kF16:
      onnx_type = 10;
      break;
    case DType::kF64:
      onnx_type = 11;
      break;
    case DType::kBF16:
      onnx_type = 16;
      break;
    default:
      break;
  }
  return MakeNode("Cast", {"x"}, {"y"}, {{"to", AttrInt(onnx_type)}}, 19);
}

TEST(MathTest, CastBetweenDTypes) {
  const Tensor f = Tensor::FromVector<float>({6}, {-2.7f, -0.5f, 0.0f, 0.4f, 1.5f, 300.25f});
  EXPECT_TRUE(AllClose(RunAll(CastTo(DType::kI32), {f})[0],
                       Tensor::FromVector<int32_t>({6}, {-2, 0, 0, 0, 1, 300})));
  EXPECT_TRUE(AllClose(RunAll(CastTo(DType::kBool), {f})[0],
                       Tensor::FromVector<bool>({6}, {true, true, false, true, true, true})));
  EXPECT_TRUE(AllClose(RunAll(CastTo(DType::kF64), {f})[0],
                       FromDoubles(DType::kF64, {6}, {-2.7f, -0.5f, 0.0f, 0.4f, 1.5f, 300.25f})));
  // Through float16 and back: exact for values float16 holds, rounded otherwise.
  const Tensor h = RunAll(CastTo(DType::kF16), {f})[0];
  ASSERT_EQ(h.dtype(), DType::kF16);
  EXPECT_TRUE(AllClose(RunAll(CastTo(DType::kF32), {h})[0], f, 1e-3));
  const Tensor r = RandomTensor(DType::kF64, {100}, 31, -1000, 1000);
  const Tensor b = RunAll(CastTo(DType::kBF16), {r})[0];
  EXPECT_TRUE(AllClose(RunAll(CastTo(DType::kF64), {b})[0], r, 1e-2));
  // Integer narrowing wraps; bool to float gives 0/1; int64 to float rounds once.
  const Tensor i = Tensor::FromVector<int64_t>({4}, {255, 256, -1, 130});
  EXPECT_TRUE(AllClose(RunAll(CastTo(DType::kU8), {i})[0],
                       Tensor::FromVector<uint8_t>({4}, {255, 0, 255, 130})));
  EXPECT_TRUE(AllClose(RunAll(CastTo(DType::kI8), {i})[0],
                       Tensor::FromVector<int8_t>({4}, {-1, 0, -1, -126})));
  const Tensor flags = Tensor::FromVector<bool>({3}, {true, false, true});
  EXPECT_TRUE(
      AllClose(RunAll(CastTo(DType::kF32), {flags})[0], Tensor::FromVector<float>({3}, {1, 0, 1})));
  const Tensor random_ints = RandomTensor(DType::kI64, {50}, 32, -1e6, 1e6);
  EXPECT_TRUE(
      AllClose(RunAll(CastTo(DType::kF32), {random_ints})[0], FromDoubles(DType::kF32, {50}, [&] {
                 std::vector<double> v;
                 for (int64_t k = 0; k < 50; ++k) v.push_back(ElementAsDouble(random_ints, k));
                 return v;
               }())));
  // CastLike takes the dtype of its second input.
  EXPECT_TRUE(AllClose(RunAll(MakeNode("CastLike", {"x", "like"}, {"y"}, {}, 15),
                              {f, Tensor::Scalar<int64_t>(0)})[0],
                       Tensor::FromVector<int64_t>({6}, {-2, 0, 0, 0, 1, 300})));
}

TEST(MathTest, CastToStringIsUnsupported) {
  const Tensor f = RandomTensor(DType::kF32, {2}, 1);
  Result<std::vector<Tensor>> out =
      RunNode(AllCpuKernels(), MakeNode("Cast", {"x"}, {"y"}, {{"to", AttrInt(8)}}, 13), {f});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(out.status().message().find("STRING"), std::string::npos) << out.status().message();
}

}  // namespace
}  // namespace unihal::cpu
