#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrFloat;
using ::unihal::testing::ElementAsDouble;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;
using ::unihal::testing::RunNodeOptions;

using ::unihal::testing::FromDoubles;

// Straightforward N-ary NumPy broadcast in float64: unravel each output index and read each
// input at that index modulo its (right-aligned) dims.
Tensor Reference(const std::vector<Tensor>& inputs, DType out_dtype,
                 const std::function<double(const std::vector<double>&)>& fn) {
  size_t rank = 0;
  for (const Tensor& t : inputs) rank = std::max(rank, t.shape().size());
  Shape out(rank, 1);
  for (const Tensor& t : inputs) {
    for (size_t i = 0; i < t.shape().size(); ++i) {
      const int64_t d = t.shape()[i];
      if (d != 1) out[rank - t.shape().size() + i] = d;
    }
  }
  std::vector<double> values(static_cast<size_t>(NumElements(out)));
  std::vector<int64_t> index(rank);
  for (int64_t flat = 0; flat < NumElements(out); ++flat) {
    int64_t rest = flat;
    for (size_t d = rank; d-- > 0;) {
      index[d] = rest % out[d];
      rest /= out[d];
    }
    std::vector<double> args;
    for (const Tensor& t : inputs) {
      int64_t offset = 0;
      const size_t lead = rank - t.shape().size();
      for (size_t d = 0; d < t.shape().size(); ++d) {
        offset = offset * t.shape()[d] + (t.shape()[d] == 1 ? 0 : index[lead + d]);
      }
      args.push_back(ElementAsDouble(t, offset));
    }
    values[static_cast<size_t>(flat)] = fn(args);
  }
  return FromDoubles(out_dtype, out, values);
}

Tensor RunOne(const ir::Node& node, const std::vector<Tensor>& inputs,
              const RunNodeOptions& options = {}) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs, options);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? (*out)[0] : Tensor();
}

struct BinaryCase {
  const char* op;
  std::function<double(double, double)> fn;
};

const std::vector<BinaryCase>& ArithmeticCases() {
  static const std::vector<BinaryCase> cases = {
      {"Add", [](double a, double b) { return a + b; }},
      {"Sub", [](double a, double b) { return a - b; }},
      {"Mul", [](double a, double b) { return a * b; }},
      {"Div", [](double a, double b) { return a / b; }},
  };
  return cases;
}

const std::vector<std::pair<Shape, Shape>>& BroadcastShapePairs() {
  static const std::vector<std::pair<Shape, Shape>> pairs = {
      {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {4}},       {{2, 1, 4}, {3, 1}},       {{}, {5, 2}},
      {{1}, {3, 1, 2}},       {{4, 1, 3}, {1, 5, 1}}, {{2, 3, 1, 5}, {3, 4, 1}}, {{6, 1}, {6}},
      {{0, 3}, {3}},
  };
  return pairs;
}

TEST(ElementwiseTest, ArithmeticBroadcastsFloat32) {
  uint64_t seed = 1;
  for (const BinaryCase& c : ArithmeticCases()) {
    for (const auto& [sa, sb] : BroadcastShapePairs()) {
      for (bool constant_b : {false, true}) {
        const Tensor a = RandomTensor(DType::kF32, sa, seed++);
        // Divisors kept away from zero.
        const Tensor b = RandomTensor(DType::kF32, sb, seed++, 0.5, 2.0);
        RunNodeOptions options;
        if (constant_b) options.constant_inputs = {1};
        const Tensor y = RunOne(MakeNode(c.op, {"a", "b"}, {"y"}), {a, b}, options);
        const Tensor expected = Reference(
            {a, b}, DType::kF32, [&](const std::vector<double>& v) { return c.fn(v[0], v[1]); });
        EXPECT_TRUE(AllClose(y, expected))
            << c.op << " " << ShapeToString(sa) << " " << ShapeToString(sb);
      }
    }
  }
}

TEST(ElementwiseTest, ArithmeticOtherDTypes) {
  uint64_t seed = 100;
  for (DType dtype : {DType::kF64, DType::kF16, DType::kBF16, DType::kI32, DType::kI64, DType::kI8,
                      DType::kU8, DType::kI16, DType::kU16, DType::kU32, DType::kU64}) {
    // Ranges keep every result representable (8-bit products stay below 127, unsigned
    // differences positive); wrapping is not what this test is about.
    const bool is_unsigned = IsInteger(dtype) && !IsSigned(dtype);
    const bool narrow = DTypeSize(dtype) == 1;
    for (const BinaryCase& c : ArithmeticCases()) {
      const Tensor a =
          RandomTensor(dtype, {3, 4, 5}, seed++, is_unsigned ? 10 : -14, narrow ? 14 : 40);
      const Tensor b = RandomTensor(dtype, {4, 1}, seed++, 1, 9);
      const Tensor y = RunOne(MakeNode(c.op, {"a", "b"}, {"y"}), {a, b});
      std::function<double(double, double)> fn = c.fn;
      if (IsInteger(dtype) && std::string(c.op) == "Div") {
        fn = [](double p, double q) { return std::trunc(p / q); };
      }
      const Tensor expected =
          Reference({a, b}, dtype, [&](const std::vector<double>& v) { return fn(v[0], v[1]); });
      const bool half = dtype == DType::kF16 || dtype == DType::kBF16;
      EXPECT_TRUE(AllClose(y, expected, half ? 1e-2 : 1e-12, half ? 1e-2 : 0))
          << c.op << " " << DTypeName(dtype);
    }
  }
}

TEST(ElementwiseTest, IntegerDivisionTruncatesTowardZero) {
  const Tensor a = Tensor::FromVector<int32_t>({4}, {-7, 7, -7, 7});
  const Tensor b = Tensor::FromVector<int32_t>({4}, {2, 2, -2, -2});
  const Tensor y = RunOne(MakeNode("Div", {"a", "b"}, {"y"}), {a, b});
  EXPECT_TRUE(AllClose(y, Tensor::FromVector<int32_t>({4}, {-3, 3, 3, -3})));
}

TEST(ElementwiseTest, LargeTensorsUseTheParallelPathCorrectly) {
  const Tensor a = RandomTensor(DType::kF32, {64, 3, 1024}, 7);
  const Tensor b = RandomTensor(DType::kF32, {3, 1}, 8);
  const Tensor c = RandomTensor(DType::kF32, {64, 3, 1024}, 9);
  const Tensor y = RunOne(MakeNode("Mul", {"a", "b"}, {"y"}), {a, b});
  EXPECT_TRUE(AllClose(
      y, Reference({a, b}, DType::kF32, [](const std::vector<double>& v) { return v[0] * v[1]; })));
  const Tensor z = RunOne(MakeNode("Add", {"a", "c"}, {"y"}), {a, c});
  EXPECT_TRUE(AllClose(
      z, Reference({a, c}, DType::kF32, [](const std::vector<double>& v) { return v[0] + v[1]; })));
}

TEST(ElementwiseTest, IncompatibleShapesNameTheNode) {
  const Tensor a = RandomTensor(DType::kF32, {2, 3}, 1);
  const Tensor b = RandomTensor(DType::kF32, {4}, 2);
  Result<std::vector<Tensor>> out =
      RunNode(AllCpuKernels(), MakeNode("Add", {"a", "b"}, {"y"}), {a, b});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("node 'Add_under_test' (Add)"), std::string::npos)
      << out.status().message();
  EXPECT_NE(out.status().message().find("cannot be broadcast"), std::string::npos);
}

TEST(ElementwiseTest, MixedDTypesAreRejected) {
  const Tensor a = RandomTensor(DType::kF32, {3}, 1);
  const Tensor b = RandomTensor(DType::kI64, {3}, 2);
  Result<std::vector<Tensor>> out =
      RunNode(AllCpuKernels(), MakeNode("Mul", {"a", "b"}, {"y"}), {a, b});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("same dtype"), std::string::npos) << out.status().message();
}

TEST(ElementwiseTest, PowFloatAndMixedTypes) {
  // float ^ float, broadcast.
  const Tensor base = RandomTensor(DType::kF32, {3, 4}, 11, 0.1, 3.0);
  const Tensor exponent = RandomTensor(DType::kF32, {4}, 12, -2.0, 2.0);
  auto pow = [](const std::vector<double>& v) { return std::pow(v[0], v[1]); };
  EXPECT_TRUE(AllClose(RunOne(MakeNode("Pow", {"a", "b"}, {"y"}, {}, 7), {base, exponent}),
                       Reference({base, exponent}, DType::kF32, pow)));
  // float ^ int64 (opset 12+), including the x*x fast path for a scalar 2.
  const Tensor int_exponent = Tensor::FromVector<int64_t>({4}, {0, 1, 2, 3});
  EXPECT_TRUE(AllClose(RunOne(MakeNode("Pow", {"a", "b"}, {"y"}, {}, 15), {base, int_exponent}),
                       Reference({base, int_exponent}, DType::kF32, pow)));
  for (double e : {2.0, 0.5, 1.0, 3.0}) {
    const Tensor scalar = Tensor::Scalar<float>(static_cast<float>(e));
    EXPECT_TRUE(AllClose(RunOne(MakeNode("Pow", {"a", "b"}, {"y"}, {}, 15), {base, scalar},
                                {.constant_inputs = {1}}),
                         Reference({base, scalar}, DType::kF32, pow)))
        << e;
  }
  // int ^ int is exact integer power; int ^ float truncates the float result.
  const Tensor ib = Tensor::FromVector<int64_t>({5}, {2, -3, 7, 1, -1});
  const Tensor ie = Tensor::FromVector<int32_t>({5}, {40, 3, 0, 9, 5});
  EXPECT_TRUE(AllClose(RunOne(MakeNode("Pow", {"a", "b"}, {"y"}, {}, 15), {ib, ie}),
                       Tensor::FromVector<int64_t>({5}, {int64_t{1} << 40, -27, 1, 1, -1})));
  const Tensor fe = Tensor::FromVector<float>({5}, {0.5f, 2.0f, 1.5f, 3.0f, 2.0f});
  const Tensor ib2 = Tensor::FromVector<int32_t>({5}, {9, 3, 4, 5, 6});
  EXPECT_TRUE(AllClose(RunOne(MakeNode("Pow", {"a", "b"}, {"y"}, {}, 15), {ib2, fe}),
                       Tensor::FromVector<int32_t>({5}, {3, 9, 8, 125, 36})));
}

TEST(ElementwiseTest, PowBeforeOpset12NeedsOneDType) {
  const Tensor a = RandomTensor(DType::kF32, {3}, 1, 0.5, 2);
  const Tensor b = Tensor::FromVector<int64_t>({3}, {1, 2, 3});
  Result<std::vector<Tensor>> out =
      RunNode(AllCpuKernels(), MakeNode("Pow", {"a", "b"}, {"y"}, {}, 7), {a, b});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("opset 12"), std::string::npos) << out.status().message();
}

TEST(ElementwiseTest, VariadicOpsBroadcast) {
  const Tensor a = RandomTensor(DType::kF32, {2, 3, 4}, 21);
  const Tensor b = RandomTensor(DType::kF32, {3, 1}, 22);
  const Tensor c = RandomTensor(DType::kF32, {4}, 23);
  const Tensor d = RandomTensor(DType::kF32, {1, 1, 1}, 24);
  const std::vector<Tensor> inputs = {a, b, c, d};
  auto node = [](const char* op) { return MakeNode(op, {"a", "b", "c", "d"}, {"y"}, {}, 13); };
  EXPECT_TRUE(AllClose(RunOne(node("Sum"), inputs),
                       Reference(inputs, DType::kF32, [](const std::vector<double>& v) {
                         return v[0] + v[1] + v[2] + v[3];
                       })));
  EXPECT_TRUE(AllClose(RunOne(node("Mean"), inputs),
                       Reference(inputs, DType::kF32, [](const std::vector<double>& v) {
                         return (v[0] + v[1] + v[2] + v[3]) / 4;
                       })));
  EXPECT_TRUE(AllClose(RunOne(node("Max"), inputs),
                       Reference(inputs, DType::kF32, [](const std::vector<double>& v) {
                         return std::max({v[0], v[1], v[2], v[3]});
                       })));
  EXPECT_TRUE(AllClose(RunOne(node("Min"), inputs),
                       Reference(inputs, DType::kF32, [](const std::vector<double>& v) {
                         return std::min({v[0], v[1], v[2], v[3]});
                       })));
  // One input: a copy. Two int64 inputs: exact.
  EXPECT_TRUE(AllClose(RunOne(MakeNode("Sum", {"a"}, {"y"}), {a}), a));
  const Tensor i1 = RandomTensor(DType::kI64, {5, 2}, 25, -1000, 1000);
  const Tensor i2 = RandomTensor(DType::kI64, {2}, 26, -1000, 1000);
  EXPECT_TRUE(AllClose(
      RunOne(MakeNode("Sum", {"a", "b"}, {"y"}), {i1, i2}),
      Reference({i1, i2}, DType::kI64, [](const std::vector<double>& v) { return v[0] + v[1]; })));
}

struct UnaryCase {
  const char* op;
  std::function<double(double)> fn;
  double lo, hi;
};

TEST(ElementwiseTest, UnaryFloatOps) {
  const std::vector<UnaryCase> cases = {
      {"Relu", [](double x) { return x > 0 ? x : 0; }, -2, 2},
      {"Sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }, -100, 100},
      {"Tanh", [](double x) { return std::tanh(x); }, -5, 5},
      {"Erf", [](double x) { return std::erf(x); }, -3, 3},
      {"Sqrt", [](double x) { return std::sqrt(x); }, 0, 10},
      {"Exp", [](double x) { return std::exp(x); }, -10, 10},
      {"Log", [](double x) { return std::log(x); }, 0.01, 10},
      {"Neg", [](double x) { return -x; }, -5, 5},
      {"Abs", [](double x) { return std::abs(x); }, -5, 5},
      {"Reciprocal", [](double x) { return 1 / x; }, 0.5, 5},
      {"Floor", [](double x) { return std::floor(x); }, -5, 5},
      {"Ceil", [](double x) { return std::ceil(x); }, -5, 5},
      {"Sign", [](double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }, -5, 5},
      {"Sin", [](double x) { return std::sin(x); }, -5, 5},
      {"Cos", [](double x) { return std::cos(x); }, -5, 5},
  };
  uint64_t seed = 300;
  for (const UnaryCase& c : cases) {
    for (DType dtype : {DType::kF32, DType::kF64}) {
      for (const Shape& shape : {Shape{}, Shape{7}, Shape{3, 5, 4000}}) {
        const Tensor x = RandomTensor(dtype, shape, seed++, c.lo, c.hi);
        const Tensor y = RunOne(MakeNode(c.op, {"x"}, {"y"}, {}, 13), {x});
        const Tensor expected =
            Reference({x}, dtype, [&](const std::vector<double>& v) { return c.fn(v[0]); });
        EXPECT_TRUE(AllClose(y, expected, dtype == DType::kF32 ? 2e-6 : 1e-12, 1e-7))
            << c.op << " " << DTypeName(dtype) << ShapeToString(shape);
      }
    }
  }
}

TEST(ElementwiseTest, ReluAbsNegOnIntegers) {
  const Tensor x = RandomTensor(DType::kI32, {50}, 5, -100, 100);
  EXPECT_TRUE(AllClose(RunOne(MakeNode("Relu", {"x"}, {"y"}, {}, 14), {x}),
                       Reference({x}, DType::kI32, [](const std::vector<double>& v) {
                         return std::max(0.0, v[0]);
                       })));
  EXPECT_TRUE(AllClose(
      RunOne(MakeNode("Abs", {"x"}, {"y"}), {x}),
      Reference({x}, DType::kI32, [](const std::vector<double>& v) { return std::abs(v[0]); })));
  EXPECT_TRUE(
      AllClose(RunOne(MakeNode("Neg", {"x"}, {"y"}), {x}),
               Reference({x}, DType::kI32, [](const std::vector<double>& v) { return -v[0]; })));
}

TEST(ElementwiseTest, UnaryRejectsIntegersWhereUndefined) {
  const Tensor x = RandomTensor(DType::kI32, {4}, 5);
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), MakeNode("Exp", {"x"}, {"y"}), {x});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(out.status().message().find("int32"), std::string::npos) << out.status().message();
}

TEST(ElementwiseTest, ComparisonsLogicAndWhere) {
  const Tensor a = RandomTensor(DType::kF32, {3, 4}, 31);
  const Tensor b = RandomTensor(DType::kF32, {4}, 32);
  struct Cmp {
    const char* op;
    std::function<bool(double, double)> fn;
  };
  for (const Cmp& c :
       std::vector<Cmp>{{"Less", [](double p, double q) { return p < q; }},
                        {"LessOrEqual", [](double p, double q) { return p <= q; }},
                        {"Greater", [](double p, double q) { return p > q; }},
                        {"GreaterOrEqual", [](double p, double q) { return p >= q; }},
                        {"Equal", [](double p, double q) { return p == q; }}}) {
    EXPECT_TRUE(AllClose(
        RunOne(MakeNode(c.op, {"a", "b"}, {"y"}, {}, 13), {a, b}),
        Reference({a, b}, DType::kBool,
                  [&](const std::vector<double>& v) { return c.fn(v[0], v[1]) ? 1.0 : 0.0; })))
        << c.op;
  }
  // Equal on integers, where ties are common.
  const Tensor ia = RandomTensor(DType::kI64, {20}, 33, 0, 3);
  const Tensor ib = RandomTensor(DType::kI64, {20}, 34, 0, 3);
  EXPECT_TRUE(AllClose(RunOne(MakeNode("Equal", {"a", "b"}, {"y"}, {}, 13), {ia, ib}),
                       Reference({ia, ib}, DType::kBool, [](const std::vector<double>& v) {
                         return v[0] == v[1] ? 1.0 : 0.0;
                       })));
  const Tensor p = RandomTensor(DType::kBool, {2, 5}, 35);
  const Tensor q = RandomTensor(DType::kBool, {5}, 36);
  EXPECT_TRUE(AllClose(
      RunOne(MakeNode("And", {"a", "b"}, {"y"}), {p, q}),
      Reference({p, q}, DType::kBool, [](const std::vector<double>& v) { return v[0] && v[1]; })));
  EXPECT_TRUE(AllClose(
      RunOne(MakeNode("Or", {"a", "b"}, {"y"}), {p, q}),
      Reference({p, q}, DType::kBool, [](const std::vector<double>& v) { return v[0] || v[1]; })));
  EXPECT_TRUE(
      AllClose(RunOne(MakeNode("Not", {"a"}, {"y"}), {p}),
               Reference({p}, DType::kBool, [](const std::vector<double>& v) { return !v[0]; })));
  // Where with three different broadcast shapes.
  const Tensor cond = RandomTensor(DType::kBool, {2, 1, 4}, 37);
  const Tensor x = RandomTensor(DType::kI64, {3, 1}, 38, -50, 50);
  const Tensor y = RandomTensor(DType::kI64, {4}, 39, -50, 50);
  EXPECT_TRUE(AllClose(RunOne(MakeNode("Where", {"c", "x", "y"}, {"z"}), {cond, x, y}),
                       Reference({cond, x, y}, DType::kI64,
                                 [](const std::vector<double>& v) { return v[0] ? v[1] : v[2]; })));
}

TEST(ElementwiseTest, ClipAttributesAndInputs) {
  const Tensor x = RandomTensor(DType::kF32, {4, 6}, 41, -3, 3);
  auto clip = [](double lo, double hi) {
    return [lo, hi](const std::vector<double>& v) { return std::min(std::max(v[0], lo), hi); };
  };
  // Opset 6: attributes.
  EXPECT_TRUE(AllClose(RunOne(MakeNode("Clip", {"x"}, {"y"},
                                       {{"min", AttrFloat(-1.0f)}, {"max", AttrFloat(0.5f)}}, 6),
                              {x}),
                       Reference({x}, DType::kF32, clip(-1.0, 0.5))));
  // Opset 13: optional inputs; only max given.
  const Tensor hi = Tensor::Scalar<float>(1.25f);
  EXPECT_TRUE(AllClose(RunOne(MakeNode("Clip", {"x", "", "hi"}, {"y"}, {}, 13), {x, Tensor(), hi}),
                       Reference({x}, DType::kF32, clip(-1e30, 1.25))));
  const Tensor ix = RandomTensor(DType::kI32, {10}, 42, -10, 10);
  EXPECT_TRUE(AllClose(RunOne(MakeNode("Clip", {"x", "lo", "hi"}, {"y"}, {}, 13),
                              {ix, Tensor::Scalar<int32_t>(-2), Tensor::Scalar<int32_t>(6)}),
                       Reference({ix}, DType::kI32, clip(-2, 6))));
  // LeakyRelu.
  EXPECT_TRUE(AllClose(
      RunOne(MakeNode("LeakyRelu", {"x"}, {"y"}, {{"alpha", AttrFloat(0.2f)}}), {x}),
      Reference({x}, DType::kF32,
                [](const std::vector<double>& v) { return v[0] >= 0 ? v[0] : 0.2f * v[0]; })));
}

}  // namespace
}  // namespace unihal::cpu
