// oneDNN Softmax / LogSoftmax / LayerNormalization against the reference kernels (which
// accumulate in double) on the same random inputs, and the cases that must stay on the
// reference kernel.
#include <gtest/gtest.h>

#include <string>

#include "drivers/cpu/cpu_kernels.h"
#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrFloat;
using ::unihal::testing::AttrInt;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;

const hal::KernelRegistry& MathReference() {
  static const hal::KernelRegistry* registry = [] {
    static hal::KernelRegistry r;
    RegisterMathKernels(r);
    return &r;
  }();
  return *registry;
}

// atol: float32 rounding of the largest magnitudes involved (LogSoftmax: |x - max| up to 90).
void ExpectMatchesReference(const ir::Node& node, const std::vector<Tensor>& inputs,
                            double atol = 1e-6) {
  Result<std::vector<Tensor>> actual = RunNode(AllCpuKernels(), node, inputs);
  ASSERT_TRUE(actual.ok()) << actual.status().ToString();
  Result<std::vector<Tensor>> expected = RunNode(MathReference(), node, inputs);
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  ASSERT_EQ(actual->size(), expected->size());
  for (size_t i = 0; i < actual->size(); ++i) {
    EXPECT_TRUE(AllClose((*actual)[i], (*expected)[i], 1e-5, atol)) << "output " << i;
  }
}

struct SoftmaxCase {
  std::string op;
  Shape shape;
  int64_t axis;
  int opset;
};

class DnnlSoftmaxTest : public ::testing::TestWithParam<SoftmaxCase> {};

TEST_P(DnnlSoftmaxTest, MatchesReference) {
  const SoftmaxCase& c = GetParam();
  const ir::Node node = MakeNode(c.op, {"x"}, {"y"}, {{"axis", AttrInt(c.axis)}}, c.opset);
  // Wide range: exp underflows for the smallest entries of each row.
  ExpectMatchesReference(node, {RandomTensor(DType::kF32, c.shape, 7, -60.0, 30.0)},
                         c.op == "LogSoftmax" ? 1e-5 : 1e-6);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, DnnlSoftmaxTest,
    ::testing::Values(SoftmaxCase{"Softmax", {2, 12, 16, 16}, -1, 13},  // attention scores
                      SoftmaxCase{"Softmax", {3, 1000}, 1, 13},
                      SoftmaxCase{"LogSoftmax", {4, 37}, -1, 13},
                      SoftmaxCase{"Softmax", {2, 3, 5}, 1, 13},  // not innermost: reference
                      SoftmaxCase{"Softmax", {2, 3, 5}, 1, 11},  // coerced to [2, 15]
                      SoftmaxCase{"LogSoftmax", {2, 3, 5}, 1, 11},
                      SoftmaxCase{"Softmax", {7}, 0, 13}));

TEST(DnnlSoftmaxTest, HalfPrecisionStaysOnTheReferenceKernel) {
  const ir::Node node = MakeNode("Softmax", {"x"}, {"y"}, {{"axis", AttrInt(-1)}}, 13);
  ExpectMatchesReference(node, {RandomTensor(DType::kF16, {3, 8}, 3)});
}

struct LayerNormCase {
  Shape shape;
  int64_t axis;
  bool bias;
  bool statistics;  // Mean and InvStdDev outputs too (reference kernel)
};

class DnnlLayerNormTest : public ::testing::TestWithParam<LayerNormCase> {};

TEST_P(DnnlLayerNormTest, MatchesReference) {
  const LayerNormCase& c = GetParam();
  const Shape norm(c.shape.begin() + (c.axis < 0 ? c.axis + c.shape.size() : c.axis),
                   c.shape.end());
  std::vector<std::string> outputs{"y"};
  if (c.statistics) outputs = {"y", "mean", "inv_std"};
  const ir::Node node =
      MakeNode("LayerNormalization", {"x", "scale", c.bias ? "bias" : ""}, outputs,
               {{"axis", AttrInt(c.axis)}, {"epsilon", AttrFloat(1e-3f)}});
  // An offset mean, as after a residual add.
  std::vector<Tensor> inputs{RandomTensor(DType::kF32, c.shape, 11, 2.0, 5.0),
                             RandomTensor(DType::kF32, norm, 12, 0.5, 1.5),
                             c.bias ? RandomTensor(DType::kF32, norm, 13) : Tensor()};
  ExpectMatchesReference(node, inputs);
}

INSTANTIATE_TEST_SUITE_P(Shapes, DnnlLayerNormTest,
                         ::testing::Values(LayerNormCase{{2, 16, 64}, -1, true, false},
                                           LayerNormCase{{2, 16, 64}, -1, false, false},
                                           LayerNormCase{{3, 4, 5}, 1, true, false},
                                           LayerNormCase{{3, 4, 5}, -1, true, true}));

}  // namespace
}  // namespace unihal::cpu
