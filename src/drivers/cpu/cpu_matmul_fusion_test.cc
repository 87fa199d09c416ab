#include "drivers/cpu/cpu_matmul_fusion.h"

#include <gtest/gtest.h>

#include <cmath>

#include "testing/op_test_util.h"
#include "unihal/hal/kernel_executable.h"

namespace unihal::cpu {
namespace {

using unihal::testing::AllClose;
using unihal::testing::AllCpuKernels;
using unihal::testing::CompileAndRun;
using unihal::testing::CpuKernelsCanRun;
using unihal::testing::F32Value;
using unihal::testing::MakeNode;
using unihal::testing::RandomTensor;

// A transformer feed-forward block: h = GELU(X W1 + b1) in the (x * 0.5) * (1 + erf(x / sqrt2))
// form, Y = h W2 + b2 + X; and a side branch G = (Z * (1 + erf(Z * (1/sqrt2)))) * 0.5 with
// Z = X W3 + b3, the other GELU form.
ir::Graph FeedForwardGraph() {
  ir::Graph g;
  g.inputs.push_back(F32Value("X", {2, 6, 16}));
  g.initializers["W1"] = RandomTensor(DType::kF32, {16, 24}, 1);
  g.initializers["b1"] = RandomTensor(DType::kF32, {24}, 2);
  g.initializers["W2"] = RandomTensor(DType::kF32, {24, 16}, 3);
  g.initializers["b2"] = RandomTensor(DType::kF32, {16}, 4);
  g.initializers["W3"] = RandomTensor(DType::kF32, {16, 8}, 5);
  g.initializers["b3"] = RandomTensor(DType::kF32, {1, 8}, 6);
  g.initializers["sqrt2"] = Tensor::Scalar<float>(static_cast<float>(M_SQRT2));
  g.initializers["inv_sqrt2"] = Tensor::Scalar<float>(static_cast<float>(M_SQRT1_2));
  g.initializers["one"] = Tensor::Scalar<float>(1.f);
  g.initializers["half"] = Tensor::Scalar<float>(0.5f);
  g.nodes = {
      MakeNode("MatMul", {"X", "W1"}, {"m1"}),     MakeNode("Add", {"m1", "b1"}, {"x1"}),
      MakeNode("Div", {"x1", "sqrt2"}, {"d1"}),    MakeNode("Erf", {"d1"}, {"e1"}),
      MakeNode("Mul", {"x1", "half"}, {"h1"}),     MakeNode("Add", {"e1", "one"}, {"p1"}),
      MakeNode("Mul", {"h1", "p1"}, {"g1"}),       MakeNode("MatMul", {"g1", "W2"}, {"m2"}),
      MakeNode("Add", {"b2", "m2"}, {"x2"}),       MakeNode("Add", {"X", "x2"}, {"Y"}),
      MakeNode("MatMul", {"X", "W3"}, {"m3"}),     MakeNode("Add", {"m3", "b3"}, {"z"}),
      MakeNode("Mul", {"z", "inv_sqrt2"}, {"d3"}), MakeNode("Erf", {"d3"}, {"e3"}),
      MakeNode("Add", {"one", "e3"}, {"p3"}),      MakeNode("Mul", {"z", "p3"}, {"q3"}),
      MakeNode("Mul", {"q3", "half"}, {"G"}),
  };
  for (const char* v : {"m1", "x1", "d1", "e1", "h1", "p1", "g1"})
    g.value_info[v] = F32Value(v, {2, 6, 24});
  for (const char* v : {"m2", "x2"}) g.value_info[v] = F32Value(v, {2, 6, 16});
  for (const char* v : {"m3", "z", "d3", "e3", "p3", "q3"})
    g.value_info[v] = F32Value(v, {2, 6, 8});
  g.outputs = {F32Value("Y", {2, 6, 16}), F32Value("G", {2, 6, 8})};
  return g;
}

TEST(CpuMatMulFusionTest, FusesBiasGeluAndResidualAndStaysEquivalent) {
  const ir::Graph original = FeedForwardGraph();
  ir::Graph fused = original;
  ASSERT_TRUE(FuseMatMulEpilogues(fused, CpuKernelsCanRun).ok());
  ASSERT_EQ(fused.nodes.size(), 3u);
  for (const ir::Node& node : fused.nodes) EXPECT_EQ(node.op_type, kFusedMatMulOp);
  EXPECT_EQ(fused.nodes[0].inputs, (std::vector<std::string>{"X", "W1", "b1"}));
  EXPECT_EQ(fused.nodes[0].outputs, (std::vector<std::string>{"g1"}));
  EXPECT_EQ(*fused.nodes[0].GetString("activation", ""), "Gelu");
  EXPECT_EQ(fused.nodes[1].inputs, (std::vector<std::string>{"g1", "W2", "b2", "X"}));
  EXPECT_EQ(*fused.nodes[1].GetString("activation", ""), "");
  EXPECT_EQ(fused.nodes[2].outputs, (std::vector<std::string>{"G"}));
  EXPECT_EQ(*fused.nodes[2].GetString("activation", ""), "Gelu");
  const Tensor x = RandomTensor(DType::kF32, {2, 6, 16}, 7);
  Result<std::vector<Tensor>> before = CompileAndRun(original, AllCpuKernels(), {x});
  Result<std::vector<Tensor>> after = CompileAndRun(fused, AllCpuKernels(), {x});
  ASSERT_TRUE(before.ok() && after.ok()) << before.status().ToString() << after.status().ToString();
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(AllClose((*after)[i], (*before)[i], 1e-5, 1e-5));
}

TEST(CpuMatMulFusionTest, LeavesChainsWithOtherReadersOrWrongConstants) {
  ir::Graph g = FeedForwardGraph();
  g.outputs.push_back(F32Value("x1", {2, 6, 24}));        // the GELU input is read elsewhere
  g.initializers["half"] = Tensor::Scalar<float>(0.25f);  // and G's is no GELU any more
  ASSERT_TRUE(FuseMatMulEpilogues(g, CpuKernelsCanRun).ok());
  std::vector<std::string> ops;
  for (const ir::Node& node : g.nodes) ops.push_back(node.op_type);
  // MatMul+bias still fuse (x1 is their output); the GELU nodes stay.
  EXPECT_EQ(ops, (std::vector<std::string>{"FusedMatMul", "Div", "Erf", "Mul", "Add", "Mul",
                                           "FusedMatMul", "FusedMatMul", "Mul", "Erf", "Add", "Mul",
                                           "Mul"}));
  const Tensor x = RandomTensor(DType::kF32, {2, 6, 16}, 8);
  ir::Graph original = FeedForwardGraph();
  original.outputs.push_back(F32Value("x1", {2, 6, 24}));
  original.initializers["half"] = Tensor::Scalar<float>(0.25f);
  Result<std::vector<Tensor>> before = CompileAndRun(original, AllCpuKernels(), {x});
  Result<std::vector<Tensor>> after = CompileAndRun(g, AllCpuKernels(), {x});
  ASSERT_TRUE(before.ok() && after.ok()) << before.status().ToString() << after.status().ToString();
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(AllClose((*after)[i], (*before)[i], 1e-5, 1e-5));
}

TEST(CpuMatMulFusionTest, FusesWhenTheShapeOfAIsUnknown) {
  // As after a LayerNormalization whose output shape inference left unknown: bias, GELU and
  // the residual (checked at run time) still fuse.
  ir::Graph original = FeedForwardGraph();
  original.inputs[0].shape = std::nullopt;
  ir::Graph g = original;
  ASSERT_TRUE(FuseMatMulEpilogues(g, CpuKernelsCanRun).ok());
  std::vector<std::string> ops;
  for (const ir::Node& node : g.nodes) ops.push_back(node.op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"FusedMatMul", "FusedMatMul", "FusedMatMul"}));
  const Tensor x = RandomTensor(DType::kF32, {2, 6, 16}, 9);
  Result<std::vector<Tensor>> before = CompileAndRun(original, AllCpuKernels(), {x});
  Result<std::vector<Tensor>> after = CompileAndRun(g, AllCpuKernels(), {x});
  ASSERT_TRUE(before.ok() && after.ok()) << before.status().ToString() << after.status().ToString();
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(AllClose((*after)[i], (*before)[i], 1e-5, 1e-5));
}

TEST(CpuMatMulFusionTest, AResidualThatBroadcastsAtRunTimeStillAddsCorrectly) {
  // Y = X W + b + R with shapes unknown at compile time; at run time R [1, 5, 1] broadcasts
  // against the product [3, 5, 8] (and against a [2, 1, 1, 1] R the output grows a dim).
  ir::Graph original;
  original.inputs = {ir::ValueInfo{"X", DType::kF32, std::nullopt},
                     ir::ValueInfo{"R", DType::kF32, std::nullopt}};
  original.initializers["W"] = RandomTensor(DType::kF32, {4, 8}, 31);
  original.initializers["b"] = RandomTensor(DType::kF32, {8}, 32);
  original.nodes = {MakeNode("MatMul", {"X", "W"}, {"m"}), MakeNode("Add", {"m", "b"}, {"z"}),
                    MakeNode("Add", {"R", "z"}, {"Y"})};
  original.outputs = {ir::ValueInfo{"Y", DType::kF32, std::nullopt}};
  ir::Graph g = original;
  ASSERT_TRUE(FuseMatMulEpilogues(g, CpuKernelsCanRun).ok());
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].inputs, (std::vector<std::string>{"X", "W", "b", "R"}));
  auto run = [](const ir::Graph& graph, const Tensor& x, const Tensor& r) {
    std::shared_ptr<hal::Executable> exe =
        *hal::CompileWithKernels(graph, AllCpuKernels(), hal::ThreadPool::Process());
    std::vector<Tensor> outputs;
    Status status = exe->Run(std::vector<Tensor>{x, r}, outputs);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return outputs;
  };
  const Tensor x = RandomTensor(DType::kF32, {3, 5, 4}, 33);
  for (const Shape& r_shape : {Shape{3, 5, 8}, Shape{1, 5, 1}, Shape{2, 1, 1, 1}}) {
    const Tensor r = RandomTensor(DType::kF32, r_shape, 34);
    const std::vector<Tensor> expected = run(original, x, r);
    const std::vector<Tensor> actual = run(g, x, r);
    ASSERT_EQ(actual.size(), 1u);
    EXPECT_EQ(actual[0].shape(), expected[0].shape());
    EXPECT_TRUE(AllClose(actual[0], expected[0], 1e-5, 1e-5)) << ShapeToString(r_shape);
  }
  // A residual that cannot broadcast is an error naming the node, not a crash.
  std::vector<Tensor> outputs;
  Status bad = (*hal::CompileWithKernels(g, AllCpuKernels(), hal::ThreadPool::Process()))
                   ->Run(std::vector<Tensor>{x, RandomTensor(DType::kF32, {4, 8}, 35)}, outputs);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("residual Add"), std::string::npos) << bad.ToString();
}

TEST(CpuMatMulFusionTest, AMatMulWithoutBiasBecomesABiaslessFusedMatMul) {
  // Y = X W with a constant W, its output also read by a Relu: nothing to absorb, but the
  // product itself is rewritten (B packed once).
  ir::Graph original;
  original.inputs.push_back(F32Value("X", {3, 5, 16}));
  original.initializers["W"] = RandomTensor(DType::kF32, {16, 24}, 21);
  original.nodes = {MakeNode("MatMul", {"X", "W"}, {"Y"}), MakeNode("Relu", {"Y"}, {"R"})};
  original.outputs = {F32Value("Y", {3, 5, 24}), F32Value("R", {3, 5, 24})};
  ir::Graph g = original;
  ASSERT_TRUE(FuseMatMulEpilogues(g, CpuKernelsCanRun).ok());
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op_type, kFusedMatMulOp);
  EXPECT_EQ(g.nodes[0].inputs, (std::vector<std::string>{"X", "W"}));
  EXPECT_EQ(g.nodes[1].op_type, "Relu");
  const Tensor x = RandomTensor(DType::kF32, {3, 5, 16}, 22);
  Result<std::vector<Tensor>> before = CompileAndRun(original, AllCpuKernels(), {x});
  Result<std::vector<Tensor>> after = CompileAndRun(g, AllCpuKernels(), {x});
  ASSERT_TRUE(before.ok() && after.ok()) << before.status().ToString() << after.status().ToString();
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(AllClose((*after)[i], (*before)[i], 1e-5, 1e-5));
}

TEST(CpuMatMulFusionTest, NothingFusesWhenTheDeviceCannotRunIt) {
  ir::Graph g = FeedForwardGraph();
  const size_t before = g.nodes.size();
  ASSERT_TRUE(FuseMatMulEpilogues(g, [](const ir::Node&, const ir::Graph&) { return false; }).ok());
  EXPECT_EQ(g.nodes.size(), before);
}

}  // namespace
}  // namespace unihal::cpu
