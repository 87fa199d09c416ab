#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrFloat;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrString;
using ::unihal::testing::ElementAsDouble;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;

Tensor RunOne(const ir::Node& node, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? (*out)[0] : Tensor();
}

// The error of running `node`, which must fail.
Status RunError(const ir::Node& node, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  EXPECT_FALSE(out.ok()) << node.op_type << " unexpectedly succeeded";
  return out.status();
}

bool Mentions(const Status& status, const std::string& text) {
  return status.message().find(text) != std::string::npos;
}

// For each element of `out` (row-major), the offset of the element of a tensor of `in` that
// NumPy broadcasting reads there.
std::vector<int64_t> BroadcastOffsets(const Shape& in, const Shape& out) {
  std::vector<int64_t> offsets;
  std::vector<int64_t> index(out.size());
  for (int64_t flat = 0; flat < NumElements(out); ++flat) {
    int64_t rest = flat;
    for (size_t d = out.size(); d-- > 0;) {
      index[d] = rest % out[d];
      rest /= out[d];
    }
    int64_t offset = 0;
    const size_t lead = out.size() - in.size();
    for (size_t d = 0; d < in.size(); ++d) {
      offset = offset * in[d] + (in[d] == 1 ? 0 : index[lead + d]);
    }
    offsets.push_back(offset);
  }
  return offsets;
}

// y = fn(x) in float64, stored as `dtype`.
Tensor UnaryReference(const Tensor& x, DType dtype, const std::function<double(double)>& fn) {
  Tensor y = *Tensor::Allocate(dtype, x.shape());
  VisitDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      const double v = fn(ElementAsDouble(x, i));
      if constexpr (std::is_same_v<T, double>) {
        y.data_as<T>()[i] = v;
      } else {
        y.data_as<T>()[i] = T(static_cast<float>(v));
      }
    }
  });
  return y;
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double Softplus(double x) { return x > 30 ? x : std::log(1.0 + std::exp(x)); }

struct UnaryCase {
  const char* op;
  std::map<std::string, ir::Attribute> attributes;
  int opset;
  std::function<double(double)> fn;
  double lo = -4.0, hi = 4.0;
};

std::vector<UnaryCase> UnaryCases() {
  const double kPi = 3.141592653589793;
  return {
      {"Elu",
       {{"alpha", AttrFloat(0.5f)}},
       22,
       [](double x) { return x >= 0 ? x : 0.5 * (std::exp(x) - 1); }},
      {"Selu",
       {},
       22,
       [](double x) {
         return 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (std::exp(x) - 1));
       }},
      {"Celu",
       {{"alpha", AttrFloat(2.0f)}},
       12,
       [](double x) { return std::max(0.0, x) + std::min(0.0, 2.0 * (std::exp(x / 2.0) - 1)); }},
      {"HardSigmoid",
       {{"alpha", AttrFloat(0.3f)}, {"beta", AttrFloat(0.4f)}},
       22,
       [](double x) { return std::clamp(0.3 * x + 0.4, 0.0, 1.0); }},
      {"HardSwish", {}, 22, [](double x) { return x * std::clamp(x / 6 + 0.5, 0.0, 1.0); }},
      {"Softplus", {}, 22, Softplus, -100.0, 100.0},
      {"Softsign", {}, 22, [](double x) { return x / (1 + std::abs(x)); }},
      {"ThresholdedRelu",
       {{"alpha", AttrFloat(0.5f)}},
       22,
       [](double x) { return x > 0.5 ? x : 0; }},
      {"Mish", {}, 22, [](double x) { return x * std::tanh(Softplus(x)); }, -50.0, 50.0},
      {"Gelu", {}, 20, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
      {"Gelu",
       {{"approximate", AttrString("tanh")}},
       20,
       [kPi](double x) {
         return 0.5 * x * (1 + std::tanh(std::sqrt(2 / kPi) * (x + 0.044715 * x * x * x)));
       }},
      {"Swish",
       {{"alpha", AttrFloat(1.5f)}},
       24,
       [](double x) { return x * Sigmoid(1.5 * x); },
       -60.0,
       60.0},
      {"Tan", {}, 22, [](double x) { return std::tan(x); }, -1.5, 1.5},
      {"Acos", {}, 22, [](double x) { return std::acos(x); }, -1.0, 1.0},
      {"Asin", {}, 22, [](double x) { return std::asin(x); }, -1.0, 1.0},
      {"Atan", {}, 22, [](double x) { return std::atan(x); }},
      {"Cosh", {}, 22, [](double x) { return std::cosh(x); }},
      {"Sinh", {}, 22, [](double x) { return std::sinh(x); }},
      {"Acosh", {}, 22, [](double x) { return std::acosh(x); }, 1.0, 5.0},
      {"Asinh", {}, 22, [](double x) { return std::asinh(x); }},
      {"Atanh", {}, 22, [](double x) { return std::atanh(x); }, -0.99, 0.99},
  };
}

TEST(ElementwiseMoreTest, FloatUnaryOpsMatchFloat64) {
  uint64_t seed = 1;
  for (const UnaryCase& c : UnaryCases()) {
    const ir::Node node = MakeNode(c.op, {"x"}, {"y"}, c.attributes, c.opset);
    for (DType dtype : {DType::kF32, DType::kF64}) {
      const Tensor x = RandomTensor(dtype, {3, 17}, seed++, c.lo, c.hi);
      EXPECT_TRUE(AllClose(RunOne(node, {x}), UnaryReference(x, dtype, c.fn), 1e-5, 1e-6))
          << c.op << " " << DTypeName(dtype);
    }
  }
}

TEST(ElementwiseMoreTest, SixteenBitFloatsComputeInFloat32) {
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    const Tensor x = RandomTensor(dtype, {40}, 7, -3.0, 3.0);
    const Tensor y = RunOne(MakeNode("Elu", {"x"}, {"y"}, {}, 22), {x});
    EXPECT_TRUE(
        AllClose(y, UnaryReference(x, dtype, [](double v) { return v >= 0 ? v : std::exp(v) - 1; }),
                 1e-2, 1e-2));
  }
}

TEST(ElementwiseMoreTest, HardSigmoidKeepsNaN) {
  const Tensor x = Tensor::FromVector<float>({2}, {std::nanf(""), 100.0f});
  const Tensor y = RunOne(MakeNode("HardSigmoid", {"x"}, {"y"}, {}, 22), {x});
  EXPECT_TRUE(std::isnan(y.data_as<float>()[0]));
  EXPECT_EQ(y.data_as<float>()[1], 1.0f);
}

TEST(ElementwiseMoreTest, ShrinkFloatAndIntegers) {
  const std::map<std::string, ir::Attribute> attributes = {{"lambd", AttrFloat(1.5f)},
                                                           {"bias", AttrFloat(0.5f)}};
  const ir::Node node = MakeNode("Shrink", {"x"}, {"y"}, attributes, 9);
  const Tensor xf = RandomTensor(DType::kF32, {30}, 3, -4.0, 4.0);
  EXPECT_TRUE(AllClose(RunOne(node, {xf}), UnaryReference(xf, DType::kF32, [](double v) {
                         return v < -1.5 ? v + 0.5 : (v > 1.5 ? v - 0.5 : 0.0);
                       })));
  const Tensor xi = Tensor::FromVector<int32_t>({5}, {-3, -1, 0, 2, 5});
  const Tensor yi = RunOne(node, {xi});
  // -3 + 0.5 and 2 - 0.5 truncate toward zero, as the ONNX reference's astype.
  EXPECT_EQ(std::vector<int32_t>(yi.data_as<int32_t>(), yi.data_as<int32_t>() + 5),
            (std::vector<int32_t>{-2, 0, 0, 1, 4}));
}

TEST(ElementwiseMoreTest, IsInfDetectFlagsAndIsNaN) {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor x = Tensor::FromVector<float>({4}, {-inf, inf, std::nanf(""), 1.0f});
  auto run = [&](const char* op, std::map<std::string, ir::Attribute> attributes) {
    const Tensor y = RunOne(MakeNode(op, {"x"}, {"y"}, std::move(attributes), 20), {x});
    EXPECT_EQ(y.dtype(), DType::kBool);
    return std::vector<bool>(y.data_as<bool>(), y.data_as<bool>() + 4);
  };
  EXPECT_EQ(run("IsInf", {}), (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(run("IsInf", {{"detect_negative", AttrInt(0)}}),
            (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(run("IsInf", {{"detect_positive", AttrInt(0)}}),
            (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(run("IsNaN", {}), (std::vector<bool>{false, false, true, false}));
}

// Mod over broadcast random integers with mixed signs (divisor zero included) against the
// definitions: floored (Python %) for fmod=0, truncated (C %) for fmod=1.
template <typename T>
void CheckIntegerMod(DType dtype, int64_t fmod, uint64_t seed) {
  const Tensor a = RandomTensor(dtype, {4, 1, 6}, seed, -100, 100);
  const Tensor b = RandomTensor(dtype, {5, 1}, seed + 1, -9, 9);
  const Tensor y =
      RunOne(MakeNode("Mod", {"a", "b"}, {"y"}, {{"fmod", AttrInt(fmod)}}, 13), {a, b});
  const Shape out = {4, 5, 6};
  ASSERT_EQ(y.shape(), out);
  const std::vector<int64_t> ia = BroadcastOffsets(a.shape(), out);
  const std::vector<int64_t> ib = BroadcastOffsets(b.shape(), out);
  for (int64_t i = 0; i < NumElements(out); ++i) {
    const int64_t x = static_cast<int64_t>(a.data_as<T>()[ia[i]]);
    const int64_t d = static_cast<int64_t>(b.data_as<T>()[ib[i]]);
    int64_t expected = d == 0 ? 0 : x % d;
    if (fmod == 0 && expected != 0 && ((expected < 0) != (d < 0))) expected += d;
    ASSERT_EQ(static_cast<int64_t>(y.data_as<T>()[i]), expected) << x << " mod " << d;
  }
}

TEST(ElementwiseMoreTest, IntegerModFlooredAndTruncated) {
  for (int64_t fmod : {0, 1}) {
    CheckIntegerMod<int32_t>(DType::kI32, fmod, 10);
    CheckIntegerMod<int8_t>(DType::kI8, fmod, 20);
    CheckIntegerMod<int64_t>(DType::kI64, fmod, 30);
  }
  const Tensor a = Tensor::FromVector<int32_t>({2}, {std::numeric_limits<int32_t>::min(), 7});
  const Tensor b = Tensor::FromVector<int32_t>({2}, {-1, 0});
  const Tensor y = RunOne(MakeNode("Mod", {"a", "b"}, {"y"}, {}, 13), {a, b});
  EXPECT_EQ(y.data_as<int32_t>()[0], 0);
  EXPECT_EQ(y.data_as<int32_t>()[1], 0);
}

TEST(ElementwiseMoreTest, FloatModFollowsCFmodAndNumpyMod) {
  const Tensor a = RandomTensor(DType::kF64, {3, 8}, 40, -10.0, 10.0);
  const Tensor b = RandomTensor(DType::kF64, {8}, 41, 0.5, 3.0);
  const Tensor neg_b = UnaryReference(b, DType::kF64, [](double v) { return -v; });
  for (const Tensor& divisor : {b, neg_b}) {
    for (int64_t fmod : {0, 1}) {
      const Tensor y =
          RunOne(MakeNode("Mod", {"a", "b"}, {"y"}, {{"fmod", AttrInt(fmod)}}, 13), {a, divisor});
      const std::vector<int64_t> ib = BroadcastOffsets(divisor.shape(), a.shape());
      for (int64_t i = 0; i < a.num_elements(); ++i) {
        const double x = a.data_as<double>()[i], d = divisor.data_as<double>()[ib[i]];
        const double expected = fmod ? std::fmod(x, d) : x - std::floor(x / d) * d;
        EXPECT_NEAR(y.data_as<double>()[i], expected, 1e-12) << x << " mod " << d;
      }
    }
  }
}

TEST(ElementwiseMoreTest, BitShiftAndBitwiseOps) {
  const Tensor x = Tensor::FromVector<uint8_t>({4}, {1, 0x81, 0xff, 16});
  const Tensor s = Tensor::FromVector<uint8_t>({4}, {1, 1, 8, 4});
  const Tensor left = RunOne(
      MakeNode("BitShift", {"x", "s"}, {"y"}, {{"direction", AttrString("LEFT")}}, 11), {x, s});
  const Tensor right = RunOne(
      MakeNode("BitShift", {"x", "s"}, {"y"}, {{"direction", AttrString("RIGHT")}}, 11), {x, s});
  // Shifting by the full width clears every bit.
  EXPECT_EQ(std::vector<uint8_t>(left.data_as<uint8_t>(), left.data_as<uint8_t>() + 4),
            (std::vector<uint8_t>{2, 2, 0, 0}));
  EXPECT_EQ(std::vector<uint8_t>(right.data_as<uint8_t>(), right.data_as<uint8_t>() + 4),
            (std::vector<uint8_t>{0, 0x40, 0, 1}));

  const Tensor a = RandomTensor(DType::kI16, {3, 4}, 50, -30000, 30000);
  const Tensor b = RandomTensor(DType::kI16, {4}, 51, -30000, 30000);
  const std::vector<int64_t> ib = BroadcastOffsets(b.shape(), a.shape());
  const Tensor y_and = RunOne(MakeNode("BitwiseAnd", {"a", "b"}, {"y"}, {}, 18), {a, b});
  const Tensor y_or = RunOne(MakeNode("BitwiseOr", {"a", "b"}, {"y"}, {}, 18), {a, b});
  const Tensor y_xor = RunOne(MakeNode("BitwiseXor", {"a", "b"}, {"y"}, {}, 18), {a, b});
  const Tensor y_not = RunOne(MakeNode("BitwiseNot", {"a"}, {"y"}, {}, 18), {a});
  for (int64_t i = 0; i < a.num_elements(); ++i) {
    const int16_t p = a.data_as<int16_t>()[i], q = b.data_as<int16_t>()[ib[i]];
    EXPECT_EQ(y_and.data_as<int16_t>()[i], static_cast<int16_t>(p & q));
    EXPECT_EQ(y_or.data_as<int16_t>()[i], static_cast<int16_t>(p | q));
    EXPECT_EQ(y_xor.data_as<int16_t>()[i], static_cast<int16_t>(p ^ q));
    EXPECT_EQ(y_not.data_as<int16_t>()[i], static_cast<int16_t>(~p));
  }
}

TEST(ElementwiseMoreTest, PReluBroadcastsTheSlope) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3, 4}, 60);
  const Tensor slope = RandomTensor(DType::kF32, {3, 1}, 61, 0.0, 1.0);
  const Tensor y = RunOne(MakeNode("PRelu", {"x", "slope"}, {"y"}, {}, 16), {x, slope});
  const std::vector<int64_t> is = BroadcastOffsets(slope.shape(), x.shape());
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    const double v = x.data_as<float>()[i];
    const double expected = v < 0 ? v * slope.data_as<float>()[is[i]] : v;
    EXPECT_NEAR(y.data_as<float>()[i], expected, 1e-6);
  }
  // The slope may not widen X.
  const Tensor wide = RandomTensor(DType::kF32, {5, 2, 3, 4}, 62);
  const Status status = RunError(MakeNode("PRelu", {"x", "slope"}, {"y"}, {}, 16), {x, wide});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(status, "node 'PRelu_under_test' (PRelu)")) << status.message();
}

TEST(ElementwiseMoreTest, BitCastKeepsTheBits) {
  const Tensor x = Tensor::FromVector<float>({2}, {1.0f, -2.5f});
  const ir::Node node = MakeNode("BitCast", {"x"}, {"y"}, {{"to", AttrInt(6)}}, 26);  // INT32
  const Tensor y = RunOne(node, {x});
  ASSERT_EQ(y.dtype(), DType::kI32);
  for (int i = 0; i < 2; ++i) {
    int32_t bits;
    std::memcpy(&bits, &x.data_as<float>()[i], sizeof(bits));
    EXPECT_EQ(y.data_as<int32_t>()[i], bits);
  }
  const Status narrow =
      RunError(MakeNode("BitCast", {"x"}, {"y"}, {{"to", AttrInt(10)}}, 26), {x});  // FLOAT16
  EXPECT_EQ(narrow.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(narrow, "widths differ")) << narrow.message();
  // uint8 -> bool: only 0 and 1 are bool bit patterns.
  const Tensor bytes = Tensor::FromVector<uint8_t>({2}, {1, 2});
  const Status not_bool =
      RunError(MakeNode("BitCast", {"x"}, {"y"}, {{"to", AttrInt(9)}}, 26), {bytes});  // BOOL
  EXPECT_EQ(not_bool.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(not_bool, "not a bool")) << not_bool.message();
}

TEST(ElementwiseMoreTest, BadAttributesNameTheNode) {
  const Tensor x = RandomTensor(DType::kF32, {3}, 70);
  const Tensor u = RandomTensor(DType::kU32, {3}, 71, 0, 10);
  const Status gelu =
      RunError(MakeNode("Gelu", {"x"}, {"y"}, {{"approximate", AttrString("erf")}}, 20), {x});
  EXPECT_EQ(gelu.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(gelu, "node 'Gelu_under_test' (Gelu)") && Mentions(gelu, "erf"))
      << gelu.message();
  const Status mod =
      RunError(MakeNode("Mod", {"a", "b"}, {"y"}, {{"fmod", AttrInt(2)}}, 13), {u, u});
  EXPECT_EQ(mod.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(mod, "node 'Mod_under_test' (Mod)")) << mod.message();
  const Status shift = RunError(
      MakeNode("BitShift", {"a", "b"}, {"y"}, {{"direction", AttrString("UP")}}, 11), {u, u});
  EXPECT_EQ(shift.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(shift, "node 'BitShift_under_test' (BitShift)")) << shift.message();
  const Status celu =
      RunError(MakeNode("Celu", {"x"}, {"y"}, {{"alpha", AttrFloat(0.0f)}}, 12), {x});
  EXPECT_EQ(celu.code(), StatusCode::kInvalidArgument);
}

TEST(ElementwiseMoreTest, WrongDTypesAreRejected) {
  const Tensor i = RandomTensor(DType::kI32, {3}, 80, -5, 5);
  const Tensor f = RandomTensor(DType::kF32, {3}, 81);
  // No kernel takes these dtypes: unsupported, naming the dtype.
  const Status elu = RunError(MakeNode("Elu", {"x"}, {"y"}, {}, 22), {i});
  EXPECT_EQ(elu.code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(Mentions(elu, "int32")) << elu.message();
  const Status bitwise = RunError(MakeNode("BitwiseAnd", {"a", "b"}, {"y"}, {}, 18), {f, f});
  EXPECT_EQ(bitwise.code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(Mentions(bitwise, "float32")) << bitwise.message();
  const Status mixed = RunError(MakeNode("Mod", {"a", "b"}, {"y"}, {}, 13), {i, f});
  EXPECT_TRUE(Mentions(mixed, "same dtype")) << mixed.message();
}

}  // namespace
}  // namespace unihal::cpu
