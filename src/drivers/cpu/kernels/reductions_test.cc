// Tests of the reduction-family reference kernels against float64 computations written out
// here, plus the error paths the ONNX node data does not reach.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrInts;
using ::unihal::testing::AttrString;
using ::unihal::testing::ElementAsDouble;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;

using ::unihal::testing::FromDoubles;

std::vector<double> Doubles(const Tensor& t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.num_elements(); ++i) v.push_back(ElementAsDouble(t, i));
  return v;
}

std::vector<Tensor> RunOk(const ir::Node& node, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::vector<Tensor>(node.outputs.size());
}

// The error message of running `node`, or "" when it succeeds.
std::string ErrorOf(const ir::Node& node, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  return out.ok() ? std::string() : std::string(out.status().message());
}

// ---- ReduceL1 / L2 / LogSum / LogSumExp / SumSquare ----

// x [a, b, c] reduced over dims 0 and 2 (kept as 1): fold maps each group to one value.
std::vector<double> ReduceOuterAndInner(const Tensor& x,
                                        const std::function<double(std::vector<double>)>& fold) {
  const int64_t a = x.dim(0), b = x.dim(1), c = x.dim(2);
  std::vector<double> out;
  for (int64_t j = 0; j < b; ++j) {
    std::vector<double> group;
    for (int64_t i = 0; i < a; ++i) {
      for (int64_t k = 0; k < c; ++k) group.push_back(ElementAsDouble(x, (i * b + j) * c + k));
    }
    out.push_back(fold(group));
  }
  return out;
}

TEST(ReductionsTest, SumLikeReductionsOverNonTrailingAxes) {
  const Tensor x = RandomTensor(DType::kF32, {3, 4, 5}, 21, -2, 2);
  auto sum_of = [](std::function<double(double)> map) {
    return [map](std::vector<double> g) {
      double s = 0;
      for (double v : g) s += map(v);
      return s;
    };
  };
  struct Case {
    const char* op;
    std::function<double(std::vector<double>)> fold;
  };
  const std::vector<Case> cases = {
      {"ReduceL1", sum_of([](double v) { return std::fabs(v); })},
      {"ReduceL2",
       [&](std::vector<double> g) { return std::sqrt(sum_of([](double v) { return v * v; })(g)); }},
      {"ReduceSumSquare", sum_of([](double v) { return v * v; })},
      {"ReduceLogSumExp",
       [&](std::vector<double> g) {
         return std::log(sum_of([](double v) { return std::exp(v); })(g));
       }},
  };
  const Tensor axes = Tensor::FromVector<int64_t>({2}, {0, -1});
  for (const Case& c : cases) {
    const Tensor expected = FromDoubles(DType::kF32, {1, 4, 1}, ReduceOuterAndInner(x, c.fold));
    // Opset 13: axes attribute; opset 18: axes input.
    EXPECT_TRUE(AllClose(
        RunOk(MakeNode(c.op, {"x"}, {"y"}, {{"axes", AttrInts({0, 2})}}, 13), {x})[0], expected))
        << c.op;
    EXPECT_TRUE(
        AllClose(RunOk(MakeNode(c.op, {"x", "axes"}, {"y"}, {}, 18), {x, axes})[0], expected))
        << c.op;
  }
  // ReduceLogSum of positive values, all axes, keepdims 0.
  const Tensor positive = RandomTensor(DType::kF64, {2, 3}, 22, 0.5, 3);
  double sum = 0;
  for (double v : Doubles(positive)) sum += v;
  EXPECT_TRUE(AllClose(
      RunOk(MakeNode("ReduceLogSum", {"x"}, {"y"}, {{"keepdims", AttrInt(0)}}, 18), {positive})[0],
      FromDoubles(DType::kF64, {}, {std::log(sum)}), 1e-12));
}

TEST(ReductionsTest, LogSumExpIsStableAndHandlesEmptySets) {
  const Tensor big = FromDoubles(DType::kF32, {3}, {1000, 1000, 999});
  const double expected = 1000 + std::log(2 + std::exp(-1.0));
  EXPECT_TRUE(AllClose(RunOk(MakeNode("ReduceLogSumExp", {"x"}, {"y"}, {}, 13), {big})[0],
                       FromDoubles(DType::kF32, {1}, {expected})));
  const Tensor empty = *Tensor::Allocate(DType::kF32, {2, 0});
  const Tensor axes = Tensor::FromVector<int64_t>({1}, {1});
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(
      AllClose(RunOk(MakeNode("ReduceLogSumExp", {"x", "axes"}, {"y"}, {}, 18), {empty, axes})[0],
               FromDoubles(DType::kF32, {2, 1}, {-inf, -inf})));
  EXPECT_TRUE(AllClose(RunOk(MakeNode("ReduceL2", {"x", "axes"}, {"y"}, {}, 18), {empty, axes})[0],
                       FromDoubles(DType::kF32, {2, 1}, {0, 0})));
}

TEST(ReductionsTest, ReduceMaxMinTakeBoolFromOpset20) {
  const Tensor x = Tensor::FromVector<bool>({3, 2}, {true, false, false, false, true, true});
  const Tensor axes = Tensor::FromVector<int64_t>({1}, {1});
  const Tensor max = RunOk(MakeNode("ReduceMax", {"x", "axes"}, {"y"}, {}, 20), {x, axes})[0];
  const Tensor min = RunOk(MakeNode("ReduceMin", {"x", "axes"}, {"y"}, {}, 20), {x, axes})[0];
  EXPECT_TRUE(AllClose(max, Tensor::FromVector<bool>({3, 1}, {true, false, true})));
  EXPECT_TRUE(AllClose(min, Tensor::FromVector<bool>({3, 1}, {false, false, true})));
  EXPECT_NE(ErrorOf(MakeNode("ReduceMax", {"x", "axes"}, {"y"}, {}, 18), {x, axes}).find("bool"),
            std::string::npos);
  EXPECT_NE(ErrorOf(MakeNode("ReduceSum", {"x", "axes"}, {"y"}, {}, 20), {x, axes}).find("bool"),
            std::string::npos);
}

TEST(ReductionsTest, ReduceMaxOfAnEmptyIntegerSetIsTheTypeMinimum) {
  const Tensor empty = *Tensor::Allocate(DType::kI32, {0, 2});
  const Tensor y =
      RunOk(MakeNode("ReduceMax", {"x"}, {"y"}, {{"axes", AttrInts({0})}}, 13), {empty})[0];
  EXPECT_TRUE(AllClose(y, Tensor::FromVector<int32_t>({1, 2}, {INT32_MIN, INT32_MIN})));
}

// ---- ArgMax / ArgMin / Hardmax ----

TEST(ReductionsTest, ArgMaxArgMinTiesAndSelectLastIndex) {
  // Rows along axis 1: ties at the max and at the min.
  const Tensor x = Tensor::FromVector<int32_t>({2, 4}, {3, 7, 7, 1, 5, 5, 2, 2});
  auto run = [&](const char* op, int64_t last) {
    return RunOk(
        MakeNode(
            op, {"x"}, {"y"},
            {{"axis", AttrInt(-1)}, {"keepdims", AttrInt(0)}, {"select_last_index", AttrInt(last)}},
            13),
        {x})[0];
  };
  EXPECT_TRUE(AllClose(run("ArgMax", 0), Tensor::FromVector<int64_t>({2}, {1, 0})));
  EXPECT_TRUE(AllClose(run("ArgMax", 1), Tensor::FromVector<int64_t>({2}, {2, 1})));
  EXPECT_TRUE(AllClose(run("ArgMin", 0), Tensor::FromVector<int64_t>({2}, {3, 2})));
  EXPECT_TRUE(AllClose(run("ArgMin", 1), Tensor::FromVector<int64_t>({2}, {3, 3})));
}

TEST(ReductionsTest, ArgMaxMatchesAScanAlongAxis0) {
  const Tensor x = RandomTensor(DType::kF64, {5, 3, 2}, 31);
  const Tensor y = RunOk(MakeNode("ArgMax", {"x"}, {"y"}, {}, 13), {x})[0];
  std::vector<double> expected;
  for (int64_t j = 0; j < 6; ++j) {
    int64_t best = 0;
    for (int64_t i = 1; i < 5; ++i) {
      if (ElementAsDouble(x, i * 6 + j) > ElementAsDouble(x, best * 6 + j)) best = i;
    }
    expected.push_back(static_cast<double>(best));
  }
  EXPECT_TRUE(AllClose(y, FromDoubles(DType::kI64, {1, 3, 2}, expected)));
}

TEST(ReductionsTest, HardmaxAxisBeforeAndSinceOpset13) {
  const Tensor x = FromDoubles(DType::kF32, {2, 2, 2}, {1, 4, 3, 2, 0, 0, 5, 9});
  // Opset 13, axis 1: along the middle dim only.
  EXPECT_TRUE(AllClose(RunOk(MakeNode("Hardmax", {"x"}, {"y"}, {{"axis", AttrInt(1)}}, 13), {x})[0],
                       FromDoubles(DType::kF32, {2, 2, 2}, {0, 1, 1, 0, 0, 0, 1, 1})));
  // Opset 11, axis 1: each batch row of 4 elements is one lane.
  EXPECT_TRUE(AllClose(RunOk(MakeNode("Hardmax", {"x"}, {"y"}, {{"axis", AttrInt(1)}}, 11), {x})[0],
                       FromDoubles(DType::kF32, {2, 2, 2}, {0, 1, 0, 0, 0, 0, 0, 1})));
  const std::string error = ErrorOf(MakeNode("Hardmax", {"x"}, {"y"}, {}, 13),
                                    {Tensor::FromVector<int32_t>({2}, {1, 2})});
  EXPECT_NE(error.find("Hardmax"), std::string::npos) << error;
  EXPECT_NE(error.find("int32"), std::string::npos) << error;
}

// ---- CumSum / CumProd / TopK ----

TEST(ReductionsTest, CumSumExclusiveReverseAlongAxis0) {
  const Tensor x = RandomTensor(DType::kF32, {4, 3}, 41);
  const Tensor axis = Tensor::Scalar<int32_t>(0);
  for (int64_t exclusive : {0, 1}) {
    for (int64_t reverse : {0, 1}) {
      const Tensor y =
          RunOk(MakeNode("CumSum", {"x", "axis"}, {"y"},
                         {{"exclusive", AttrInt(exclusive)}, {"reverse", AttrInt(reverse)}}, 14),
                {x, axis})[0];
      std::vector<double> expected(12);
      for (int64_t j = 0; j < 3; ++j) {
        for (int64_t i = 0; i < 4; ++i) {
          double s = 0;
          for (int64_t k = 0; k < 4; ++k) {
            const bool before = reverse ? k > i : k < i;
            if (before || (!exclusive && k == i)) s += ElementAsDouble(x, k * 3 + j);
          }
          expected[static_cast<size_t>(i * 3 + j)] = s;
        }
      }
      EXPECT_TRUE(AllClose(y, FromDoubles(DType::kF32, {4, 3}, expected)))
          << "exclusive " << exclusive << " reverse " << reverse;
    }
  }
}

TEST(ReductionsTest, CumProdOnIntegersAndBadAxis) {
  const Tensor x = Tensor::FromVector<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor axis = Tensor::Scalar<int64_t>(-1);
  EXPECT_TRUE(AllClose(RunOk(MakeNode("CumProd", {"x", "axis"}, {"y"}, {}, 26), {x, axis})[0],
                       Tensor::FromVector<int64_t>({2, 3}, {1, 2, 6, 4, 20, 120})));
  const std::string error =
      ErrorOf(MakeNode("CumSum", {"x", "axis"}, {"y"}, {}, 14), {x, Tensor::Scalar<int64_t>(2)});
  EXPECT_NE(error.find("node 'CumSum_under_test' (CumSum): axis 2"), std::string::npos) << error;
}

TEST(ReductionsTest, TopKLargestSmallestAndTies) {
  const Tensor x = FromDoubles(DType::kF32, {2, 5}, {1, 3, 3, 0, 2, 4, 4, 4, 1, 5});
  const Tensor k = Tensor::FromVector<int64_t>({1}, {3});
  const std::vector<Tensor> largest =
      RunOk(MakeNode("TopK", {"x", "k"}, {"v", "i"}, {}, 11), {x, k});
  EXPECT_TRUE(AllClose(largest[0], FromDoubles(DType::kF32, {2, 3}, {3, 3, 2, 5, 4, 4})));
  EXPECT_TRUE(AllClose(largest[1], Tensor::FromVector<int64_t>({2, 3}, {1, 2, 4, 4, 0, 1})));
  const std::vector<Tensor> smallest =
      RunOk(MakeNode("TopK", {"x", "k"}, {"v", "i"}, {{"largest", AttrInt(0)}}, 11), {x, k});
  EXPECT_TRUE(AllClose(smallest[0], FromDoubles(DType::kF32, {2, 3}, {0, 1, 2, 1, 4, 4})));
  EXPECT_TRUE(AllClose(smallest[1], Tensor::FromVector<int64_t>({2, 3}, {3, 0, 4, 3, 0, 1})));
  // Opset 1: k is an attribute.
  const std::vector<Tensor> v1 =
      RunOk(MakeNode("TopK", {"x"}, {"v", "i"}, {{"k", AttrInt(1)}, {"axis", AttrInt(0)}}, 1), {x});
  EXPECT_TRUE(AllClose(v1[1], Tensor::FromVector<int64_t>({1, 5}, {1, 1, 1, 1, 1})));
  const std::string error = ErrorOf(MakeNode("TopK", {"x", "k"}, {"v", "i"}, {}, 11),
                                    {x, Tensor::FromVector<int64_t>({1}, {6})});
  EXPECT_NE(error.find("TopK_under_test"), std::string::npos) << error;
  EXPECT_NE(error.find("k = 6"), std::string::npos) << error;
}

// ---- Einsum / Det ----

TEST(ReductionsTest, EinsumMatmulTraceAndImplicitOutput) {
  const Tensor a = RandomTensor(DType::kF64, {3, 4}, 51);
  const Tensor b = RandomTensor(DType::kF64, {4, 2}, 52);
  std::vector<double> product(6, 0.0);
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 2; ++j) {
      for (int64_t k = 0; k < 4; ++k) {
        product[static_cast<size_t>(i * 2 + j)] +=
            ElementAsDouble(a, i * 4 + k) * ElementAsDouble(b, k * 2 + j);
      }
    }
  }
  const Tensor expected = FromDoubles(DType::kF64, {3, 2}, product);
  auto einsum = [](const std::string& eq, int inputs) {
    std::vector<std::string> names = {"a", "b", "c"};
    names.resize(static_cast<size_t>(inputs));
    return MakeNode("Einsum", names, {"y"}, {{"equation", AttrString(eq)}}, 12);
  };
  EXPECT_TRUE(AllClose(RunOk(einsum("ij, jk -> ik", 2), {a, b})[0], expected, 1e-12));
  EXPECT_TRUE(AllClose(RunOk(einsum("ij,jk", 2), {a, b})[0], expected, 1e-12));  // implicit
  // Transposed output, and a trace over a repeated index.
  const Tensor square = RandomTensor(DType::kF32, {4, 4}, 53);
  double trace = 0;
  for (int64_t i = 0; i < 4; ++i) trace += ElementAsDouble(square, i * 5);
  EXPECT_TRUE(AllClose(RunOk(einsum("ii", 1), {square})[0], FromDoubles(DType::kF32, {}, {trace})));
  // A size-1 dim broadcasts against the other operand's, as in NumPy.
  const Tensor row = FromDoubles(DType::kF32, {1, 2}, {2, 3});
  const Tensor full = FromDoubles(DType::kF32, {2, 2}, {1, 2, 3, 4});
  EXPECT_TRUE(AllClose(RunOk(einsum("ij,ij->ij", 2), {row, full})[0],
                       FromDoubles(DType::kF32, {2, 2}, {2, 6, 6, 12})));
  const Tensor t = RunOk(einsum("ij->ji", 1), {a})[0];
  EXPECT_EQ(t.shape(), (Shape{4, 3}));
  EXPECT_EQ(ElementAsDouble(t, 1 * 3 + 2), ElementAsDouble(a, 2 * 4 + 1));
}

TEST(ReductionsTest, EinsumEllipsisBroadcastsBatchDims) {
  const Tensor a = RandomTensor(DType::kF32, {2, 1, 3, 4}, 61);
  const Tensor b = RandomTensor(DType::kF32, {5, 4, 2}, 62);
  const Tensor y = RunOk(
      MakeNode("Einsum", {"a", "b"}, {"y"}, {{"equation", AttrString("...ij,...jk->...ik")}}, 12),
      {a, b})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 5, 3, 2}));
  std::vector<double> expected;
  for (int64_t p = 0; p < 2; ++p) {
    for (int64_t q = 0; q < 5; ++q) {
      for (int64_t i = 0; i < 3; ++i) {
        for (int64_t k = 0; k < 2; ++k) {
          double s = 0;
          for (int64_t j = 0; j < 4; ++j) {
            s += ElementAsDouble(a, (p * 3 + i) * 4 + j) * ElementAsDouble(b, (q * 4 + j) * 2 + k);
          }
          expected.push_back(s);
        }
      }
    }
  }
  EXPECT_TRUE(AllClose(y, FromDoubles(DType::kF32, {2, 5, 3, 2}, expected)));
}

TEST(ReductionsTest, EinsumBatchMatmulLargeEnoughToSplitAcrossThreads) {
  const Tensor a = RandomTensor(DType::kF32, {64, 16, 16}, 63);
  const Tensor b = RandomTensor(DType::kF32, {64, 16, 16}, 64);
  const Tensor y =
      RunOk(MakeNode("Einsum", {"a", "b"}, {"y"}, {{"equation", AttrString("bij,bjk->bik")}}, 12),
            {a, b})[0];
  std::vector<double> expected(64 * 16 * 16, 0.0);
  for (int64_t n = 0; n < 64; ++n) {
    for (int64_t i = 0; i < 16; ++i) {
      for (int64_t j = 0; j < 16; ++j) {
        for (int64_t k = 0; k < 16; ++k) {
          expected[static_cast<size_t>((n * 16 + i) * 16 + k)] +=
              ElementAsDouble(a, (n * 16 + i) * 16 + j) * ElementAsDouble(b, (n * 16 + j) * 16 + k);
        }
      }
    }
  }
  EXPECT_TRUE(AllClose(y, FromDoubles(DType::kF32, {64, 16, 16}, expected)));
}

TEST(ReductionsTest, EinsumRejectsBadEquations) {
  const Tensor a = RandomTensor(DType::kF32, {2, 3}, 71);
  auto error = [&](const std::string& eq) {
    return ErrorOf(MakeNode("Einsum", {"a"}, {"y"}, {{"equation", AttrString(eq)}}, 12), {a});
  };
  EXPECT_NE(error("ijk->i").find("rank 2"), std::string::npos) << error("ijk->i");
  EXPECT_NE(error("ij->iz").find("Einsum_under_test"), std::string::npos) << error("ij->iz");
  EXPECT_NE(error("i1->i").find("'1'"), std::string::npos) << error("i1->i");
  EXPECT_NE(error("ii->i").find("size 3"), std::string::npos) << error("ii->i");
}

TEST(ReductionsTest, DetOfABatchOfMatrices) {
  const Tensor x = RandomTensor(DType::kF64, {2, 3, 3}, 81);
  std::vector<double> expected;
  for (int64_t b = 0; b < 2; ++b) {
    auto m = [&](int64_t i, int64_t j) { return ElementAsDouble(x, b * 9 + i * 3 + j); };
    expected.push_back(m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1)) -
                       m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0)) +
                       m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0)));
  }
  EXPECT_TRUE(AllClose(RunOk(MakeNode("Det", {"x"}, {"y"}, {}, 22), {x})[0],
                       FromDoubles(DType::kF64, {2}, expected), 1e-10, 1e-12));
  const Tensor singular = FromDoubles(DType::kF32, {2, 2}, {1, 2, 2, 4});
  EXPECT_TRUE(AllClose(RunOk(MakeNode("Det", {"x"}, {"y"}, {}, 22), {singular})[0],
                       FromDoubles(DType::kF32, {}, {0})));
  const std::string error =
      ErrorOf(MakeNode("Det", {"x"}, {"y"}, {}, 22), {RandomTensor(DType::kF32, {2, 3}, 82)});
  EXPECT_NE(error.find("square"), std::string::npos) << error;
}

// ---- NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss ----

struct LossCase {
  Tensor scores;  // [N, C, D]
  Tensor target;  // [N, D]
  Tensor weight;  // [C]
  int64_t ignore_index = 0;
};

LossCase MakeLossCase() {
  LossCase c;
  c.scores = RandomTensor(DType::kF32, {3, 4, 2}, 91, -3, 3);
  c.target = Tensor::FromVector<int64_t>({3, 2}, {0, 3, 1, 1, 2, 3});
  c.weight = FromDoubles(DType::kF32, {4}, {0.5, 1.0, 2.0, 0.25});
  c.ignore_index = 3;
  return c;
}

// -log_prob[n, t, d] * w[t] per element, and the weighted mean, skipping the ignore_index.
std::pair<std::vector<double>, double> LossReference(const LossCase& c,
                                                     const std::vector<double>& log_prob) {
  std::vector<double> loss;
  double sum = 0, weight_sum = 0;
  for (int64_t n = 0; n < 3; ++n) {
    for (int64_t d = 0; d < 2; ++d) {
      const int64_t t = static_cast<int64_t>(ElementAsDouble(c.target, n * 2 + d));
      const double w = t == c.ignore_index ? 0.0 : ElementAsDouble(c.weight, t);
      loss.push_back(t == c.ignore_index ? 0.0
                                         : -log_prob[static_cast<size_t>((n * 4 + t) * 2 + d)] * w);
      sum += loss.back();
      weight_sum += w;
    }
  }
  return {loss, sum / weight_sum};
}

TEST(ReductionsTest, NegativeLogLikelihoodLossWeightsAndIgnoreIndex) {
  const LossCase c = MakeLossCase();
  const auto [loss, mean] = LossReference(c, Doubles(c.scores));
  std::map<std::string, ir::Attribute> attrs = {{"ignore_index", AttrInt(c.ignore_index)}};
  EXPECT_TRUE(
      AllClose(RunOk(MakeNode("NegativeLogLikelihoodLoss", {"x", "t", "w"}, {"y"}, attrs, 22),
                     {c.scores, c.target, c.weight})[0],
               FromDoubles(DType::kF32, {}, {mean})));
  attrs["reduction"] = AttrString("none");
  EXPECT_TRUE(
      AllClose(RunOk(MakeNode("NegativeLogLikelihoodLoss", {"x", "t", "w"}, {"y"}, attrs, 22),
                     {c.scores, c.target, c.weight})[0],
               FromDoubles(DType::kF32, {3, 2}, loss)));
  attrs["reduction"] = AttrString("average");
  EXPECT_NE(ErrorOf(MakeNode("NegativeLogLikelihoodLoss", {"x", "t", "w"}, {"y"}, attrs, 22),
                    {c.scores, c.target, c.weight})
                .find("reduction 'average'"),
            std::string::npos);
  // A target outside [0, C) that is not the ignore_index.
  const std::string error =
      ErrorOf(MakeNode("NegativeLogLikelihoodLoss", {"x", "t"}, {"y"}, {}, 22),
              {c.scores, Tensor::FromVector<int64_t>({3, 2}, {0, 4, 1, 1, 2, 3})});
  EXPECT_NE(error.find("target value 4"), std::string::npos) << error;
}

TEST(ReductionsTest, SoftmaxCrossEntropyLossWithLogProb) {
  const LossCase c = MakeLossCase();
  std::vector<double> log_prob = Doubles(c.scores);
  for (int64_t n = 0; n < 3; ++n) {
    for (int64_t d = 0; d < 2; ++d) {
      double sum = 0;
      for (int64_t k = 0; k < 4; ++k)
        sum += std::exp(log_prob[static_cast<size_t>((n * 4 + k) * 2 + d)]);
      for (int64_t k = 0; k < 4; ++k)
        log_prob[static_cast<size_t>((n * 4 + k) * 2 + d)] -= std::log(sum);
    }
  }
  const auto [loss, mean] = LossReference(c, log_prob);
  const std::vector<Tensor> out =
      RunOk(MakeNode("SoftmaxCrossEntropyLoss", {"x", "t", "w"}, {"y", "log_prob"},
                     {{"ignore_index", AttrInt(c.ignore_index)}}, 13),
            {c.scores, c.target, c.weight});
  EXPECT_TRUE(AllClose(out[0], FromDoubles(DType::kF32, {}, {mean})));
  EXPECT_TRUE(AllClose(out[1], FromDoubles(DType::kF32, {3, 4, 2}, log_prob)));
  const std::string error = ErrorOf(MakeNode("SoftmaxCrossEntropyLoss", {"x", "t"}, {"y"}, {}, 13),
                                    {c.scores, Tensor::FromVector<int64_t>({3}, {0, 1, 2})});
  EXPECT_NE(error.find("target has shape [3]"), std::string::npos) << error;
}

}  // namespace
}  // namespace unihal::cpu
