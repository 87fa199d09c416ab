#include "drivers/cpu/cpu_fusion.h"

#include <gtest/gtest.h>

#include "drivers/cpu/cpu_layout.h"
#include "testing/op_test_util.h"
#include "unihal/hal/kernel_executable.h"

namespace unihal::cpu {
namespace {

// The layout pass runs with nChw8c here (what the driver picks on AVX2 machines); tests that
// name a block of their own use nChw16c as well.
constexpr int64_t kBlock = 8;

using unihal::testing::AllClose;
using unihal::testing::AllCpuKernels;
using unihal::testing::AttrFloat;
using unihal::testing::AttrInts;
using unihal::testing::CompileAndRun;
using unihal::testing::CpuKernelsCanRun;
using unihal::testing::F32Value;
using unihal::testing::MakeNode;
using unihal::testing::RandomTensor;

// Every output of `rewritten` agrees with `original`'s for input x (1e-5).
void ExpectSameOutputs(const ir::Graph& original, const ir::Graph& rewritten, const Tensor& x) {
  Result<std::vector<Tensor>> before = CompileAndRun(original, AllCpuKernels(), {x});
  Result<std::vector<Tensor>> after = CompileAndRun(rewritten, AllCpuKernels(), {x});
  ASSERT_TRUE(before.ok() && after.ok()) << before.status().ToString() << after.status().ToString();
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < before->size(); ++i) {
    EXPECT_TRUE(AllClose((*after)[i], (*before)[i], 1e-5, 1e-5)) << "output " << i;
  }
}

ir::Node Named(ir::Node node, std::string name) {
  node.name = std::move(name);
  return node;
}

// A ResNet-like block: conv1 -> Relu, conv2 -> Add(residual X) -> Relu, conv3 -> Clip(0, 6),
// conv4 -> LeakyRelu, and conv5 whose output is also a graph output (so it cannot fuse).
ir::Graph BlockGraph() {
  ir::Graph g;
  const Shape shape{1, 8, 7, 7};
  g.inputs.push_back(F32Value("X", shape));
  for (const char* w : {"W1", "W2", "W3", "W4", "W5"}) {
    g.initializers[w] = RandomTensor(DType::kF32, {8, 8, 3, 3}, w[1]);
  }
  g.initializers["B"] = RandomTensor(DType::kF32, {8}, 9);
  g.initializers["lo"] = Tensor::Scalar<float>(0.f);
  g.initializers["hi"] = Tensor::Scalar<float>(0.5f);
  const std::map<std::string, ir::Attribute> pads{{"pads", AttrInts({1, 1, 1, 1})}};
  g.nodes.push_back(Named(MakeNode("Conv", {"X", "W1", "B"}, {"c1"}, pads), "conv1"));
  g.nodes.push_back(Named(MakeNode("Relu", {"c1"}, {"r1"}), "relu1"));
  g.nodes.push_back(Named(MakeNode("Conv", {"r1", "W2", "B"}, {"c2"}, pads), "conv2"));
  g.nodes.push_back(Named(MakeNode("Add", {"X", "c2"}, {"a2"}), "add2"));
  g.nodes.push_back(Named(MakeNode("Relu", {"a2"}, {"r2"}), "relu2"));
  g.nodes.push_back(Named(MakeNode("Conv", {"r2", "W3"}, {"c3"}, pads), "conv3"));
  g.nodes.push_back(Named(MakeNode("Clip", {"c3", "lo", "hi"}, {"r3"}), "clip3"));
  g.nodes.push_back(Named(MakeNode("Conv", {"r3", "W4", "B"}, {"c4"}, pads), "conv4"));
  g.nodes.push_back(
      Named(MakeNode("LeakyRelu", {"c4"}, {"r4"}, {{"alpha", AttrFloat(0.2f)}}), "leaky4"));
  g.nodes.push_back(Named(MakeNode("Conv", {"r4", "W5", "B"}, {"c5"}, pads), "conv5"));
  g.nodes.push_back(Named(MakeNode("Sigmoid", {"c5"}, {"Y"}), "sigmoid5"));
  for (const char* v : {"c1", "r1", "c2", "a2", "r2", "c3", "r3", "c4", "r4", "c5"}) {
    g.value_info[v] = F32Value(v, shape);
  }
  g.outputs.push_back(F32Value("Y", shape));
  g.outputs.push_back(F32Value("c5", shape));
  return g;
}

TEST(CpuFusionTest, FusesConvSumAndActivationsAndStaysEquivalent) {
  const ir::Graph original = BlockGraph();
  ir::Graph fused = original;
  ASSERT_TRUE(FuseConvPostOps(fused, CpuKernelsCanRun).ok());
  std::vector<std::string> ops;
  for (const ir::Node& node : fused.nodes) ops.push_back(node.op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"FusedConv", "FusedConv", "FusedConv", "FusedConv",
                                           "Conv", "Sigmoid"}));
  EXPECT_EQ(fused.nodes[1].inputs, (std::vector<std::string>{"r1", "W2", "B", "X"}));
  EXPECT_EQ(fused.nodes[1].outputs, (std::vector<std::string>{"r2"}));
  EXPECT_EQ(fused.nodes[2].inputs.size(), 2u);  // no bias, no sum
  EXPECT_EQ(fused.nodes[2].domain, kCpuFusionDomain);
  const Tensor x = RandomTensor(DType::kF32, {1, 8, 7, 7}, 11);
  ExpectSameOutputs(original, fused, x);
}

// ShuffleNet's unit: a grouped 1x1 conv whose Sum with the block input and Relu fuse (the
// grouped pointwise path adds them in cache), and a grouped 3x3 conv whose Add stays separate.
TEST(CpuFusionTest, GroupedPointwiseConvTakesSumAndRelu) {
  ir::Graph g;
  const Shape shape{2, 12, 5, 6};
  g.inputs.push_back(F32Value("X", shape));
  g.initializers["W1"] = RandomTensor(DType::kF32, {12, 4, 1, 1}, 1);
  g.initializers["W3"] = RandomTensor(DType::kF32, {12, 4, 3, 3}, 3);
  g.initializers["B"] = RandomTensor(DType::kF32, {12}, 9);
  const std::map<std::string, ir::Attribute> group{{"group", unihal::testing::AttrInt(3)}};
  std::map<std::string, ir::Attribute> padded = group;
  padded["pads"] = AttrInts({1, 1, 1, 1});
  g.nodes.push_back(Named(MakeNode("Conv", {"X", "W1", "B"}, {"c1"}, group), "gconv1"));
  g.nodes.push_back(Named(MakeNode("Sum", {"c1", "X"}, {"s1"}), "sum1"));
  g.nodes.push_back(Named(MakeNode("Relu", {"s1"}, {"r1"}), "relu1"));
  g.nodes.push_back(Named(MakeNode("Conv", {"r1", "W3", "B"}, {"c3"}, padded), "gconv3"));
  g.nodes.push_back(Named(MakeNode("Add", {"c3", "r1"}, {"Y"}), "add3"));
  for (const char* v : {"c1", "s1", "r1", "c3"}) g.value_info[v] = F32Value(v, shape);
  g.outputs.push_back(F32Value("Y", shape));
  ir::Graph fused = g;
  ASSERT_TRUE(FuseConvPostOps(fused, CpuKernelsCanRun).ok());
  std::vector<std::string> ops;
  for (const ir::Node& node : fused.nodes) ops.push_back(node.op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"FusedConv", "Conv", "Add"}));
  EXPECT_EQ(fused.nodes[0].inputs, (std::vector<std::string>{"X", "W1", "B", "X"}));
  const Tensor x = RandomTensor(DType::kF32, shape, 11);
  ExpectSameOutputs(g, fused, x);
}

// A depthwise 3x3 conv (MobileNet, ShuffleNet) with a residual Add and Relu after it: both fuse,
// and the depthwise path (window_plain.h) applies them to each output plane.
TEST(CpuFusionTest, DepthwiseConvTakesSumAndRelu) {
  ir::Graph g;
  const Shape shape{2, 12, 9, 8};  // 12 channels: plain on nChw8c and nChw16c alike
  g.inputs.push_back(F32Value("X", shape));
  g.initializers["W"] = RandomTensor(DType::kF32, {12, 1, 3, 3}, 1);
  g.initializers["B"] = RandomTensor(DType::kF32, {12}, 9);
  const std::map<std::string, ir::Attribute> depthwise{{"group", unihal::testing::AttrInt(12)},
                                                       {"pads", AttrInts({1, 1, 1, 1})}};
  g.nodes.push_back(Named(MakeNode("Conv", {"X", "W", "B"}, {"c"}, depthwise), "dwconv"));
  g.nodes.push_back(Named(MakeNode("Add", {"c", "X"}, {"s"}), "add"));
  g.nodes.push_back(Named(MakeNode("Relu", {"s"}, {"Y"}), "relu"));
  for (const char* v : {"c", "s"}) g.value_info[v] = F32Value(v, shape);
  g.outputs.push_back(F32Value("Y", shape));
  ir::Graph fused = g;
  ASSERT_TRUE(FuseConvPostOps(fused, CpuKernelsCanRun).ok());
  ASSERT_EQ(fused.nodes.size(), 1u);
  EXPECT_EQ(fused.nodes[0].op_type, "FusedConv");
  EXPECT_EQ(fused.nodes[0].inputs, (std::vector<std::string>{"X", "W", "B", "X"}));
  const Tensor x = RandomTensor(DType::kF32, shape, 11);
  ExpectSameOutputs(g, fused, x);
}

TEST(CpuFusionTest, TwoConvsIntoOneAddFuseOnlyOnce) {
  ir::Graph g;
  const Shape shape{1, 8, 7, 7};
  g.inputs.push_back(F32Value("X", shape));
  g.initializers["W1"] = RandomTensor(DType::kF32, {8, 8, 1, 1}, 1);
  g.initializers["W2"] = RandomTensor(DType::kF32, {8, 8, 1, 1}, 2);
  g.nodes.push_back(Named(MakeNode("Conv", {"X", "W1"}, {"a"}), "main"));
  g.nodes.push_back(Named(MakeNode("Conv", {"X", "W2"}, {"b"}), "shortcut"));
  g.nodes.push_back(Named(MakeNode("Add", {"a", "b"}, {"s"}), "add"));
  g.nodes.push_back(Named(MakeNode("Relu", {"s"}, {"Y"}), "relu"));
  for (const char* v : {"a", "b", "s"}) g.value_info[v] = F32Value(v, shape);
  g.outputs.push_back(F32Value("Y", shape));
  ir::Graph fused = g;
  ASSERT_TRUE(FuseConvPostOps(fused, CpuKernelsCanRun).ok());
  ASSERT_EQ(fused.nodes.size(), 2u);
  EXPECT_EQ(fused.nodes[0].op_type, "Conv");
  EXPECT_EQ(fused.nodes[1].inputs, (std::vector<std::string>{"X", "W1", "", "b"}));
  const Tensor x = RandomTensor(DType::kF32, shape, 3);
  ExpectSameOutputs(g, fused, x);
}

int64_t Layout(const ir::Node& node, const char* attr) { return *node.GetInt(attr, 0); }

TEST(CpuLayoutTest, KeepsOnlyConvToConvValuesBlockedAndStaysEquivalent) {
  const ir::Graph original = BlockGraph();
  ir::Graph g = original;
  ASSERT_TRUE(FuseConvPostOps(g, CpuKernelsCanRun).ok());
  ASSERT_TRUE(KeepConvActivationsBlocked(g, CpuKernelsCanRun, kBlock).ok());
  ASSERT_EQ(g.nodes.size(), 6u);
  // X is a graph input: read plain; r1..r4 pass between convs blocked.
  EXPECT_EQ(Layout(g.nodes[0], kXLayoutAttr), 0);
  EXPECT_EQ(Layout(g.nodes[0], kYLayoutAttr), kBlock);
  EXPECT_EQ(Layout(g.nodes[1], kXLayoutAttr), kBlock);
  EXPECT_EQ(Layout(g.nodes[1], kSumLayoutAttr), 0);  // the residual is X
  EXPECT_EQ(Layout(g.nodes[3], kYLayoutAttr), kBlock);
  // conv5 reads blocked r4 (so it becomes a FusedConv) but writes c5, a graph output, plain.
  EXPECT_EQ(g.nodes[4].op_type, kFusedConvOp);
  EXPECT_EQ(Layout(g.nodes[4], kXLayoutAttr), kBlock);
  EXPECT_EQ(Layout(g.nodes[4], kYLayoutAttr), 0);
  EXPECT_EQ(g.nodes[5].op_type, "Sigmoid");
  const Tensor x = RandomTensor(DType::kF32, {1, 8, 7, 7}, 11);
  ExpectSameOutputs(original, g, x);
}

TEST(CpuLayoutTest, BlockedSumAndOddChannelsStayCorrect) {
  // a (12 channels: not a multiple of 8) stays plain; b (8 channels) feeds the sum blocked.
  ir::Graph g;
  g.inputs.push_back(F32Value("X", {1, 8, 5, 5}));
  g.initializers["Wa"] = RandomTensor(DType::kF32, {12, 8, 3, 3}, 1);
  g.initializers["Wb"] = RandomTensor(DType::kF32, {8, 8, 1, 1}, 2);
  g.initializers["Wc"] = RandomTensor(DType::kF32, {8, 12, 3, 3}, 3);
  const std::map<std::string, ir::Attribute> pads{{"pads", AttrInts({1, 1, 1, 1})}};
  g.nodes.push_back(Named(MakeNode("Conv", {"X", "Wa"}, {"a"}, pads), "ca"));
  g.nodes.push_back(Named(MakeNode("Conv", {"X", "Wb"}, {"b"}), "cb"));
  g.nodes.push_back(Named(MakeNode("Conv", {"a", "Wc"}, {"c"}, pads), "cc"));
  g.nodes.push_back(Named(MakeNode("Add", {"c", "b"}, {"s"}), "add"));
  g.nodes.push_back(Named(MakeNode("Relu", {"s"}, {"Y"}), "relu"));
  g.value_info["a"] = F32Value("a", {1, 12, 5, 5});
  for (const char* v : {"b", "c", "s"}) g.value_info[v] = F32Value(v, {1, 8, 5, 5});
  g.outputs.push_back(F32Value("Y", {1, 8, 5, 5}));
  ir::Graph t = g;
  ASSERT_TRUE(FuseConvPostOps(t, CpuKernelsCanRun).ok());
  ASSERT_TRUE(KeepConvActivationsBlocked(t, CpuKernelsCanRun, kBlock).ok());
  ASSERT_EQ(t.nodes.size(), 3u);
  EXPECT_EQ(Layout(t.nodes[0], kYLayoutAttr), 0);
  EXPECT_EQ(Layout(t.nodes[1], kYLayoutAttr), kBlock);
  EXPECT_EQ(Layout(t.nodes[2], kSumLayoutAttr), kBlock);
  EXPECT_EQ(Layout(t.nodes[2], kYLayoutAttr), 0);
  const Tensor x = RandomTensor(DType::kF32, {1, 8, 5, 5}, 4);
  ExpectSameOutputs(g, t, x);
}

// A residual block between blocked convolutions at 7x7 (ResNet's last stage in small): the
// residual r is an intermediate read last by the Add, so conv2 with its sum runs on
// ConvBlockedDirect and writes into r's storage (AllocateOutputInPlace), the next run reusing
// pooled buffers; the results stay those of the unfused graph.
TEST(CpuLayoutTest, BlockedResidualBlockStaysEquivalent) {
  ir::Graph g;
  const Shape shape{1, 16, 7, 7};
  g.inputs.push_back(F32Value("X", shape));
  for (const char* w : {"W0", "W1", "W2", "W3"}) {
    g.initializers[w] = RandomTensor(DType::kF32, {16, 16, 3, 3}, w[1], -0.3, 0.3);
  }
  g.initializers["B"] = RandomTensor(DType::kF32, {16}, 7);
  const std::map<std::string, ir::Attribute> pads{{"pads", AttrInts({1, 1, 1, 1})}};
  g.nodes.push_back(Named(MakeNode("Conv", {"X", "W0", "B"}, {"c0"}, pads), "conv0"));
  g.nodes.push_back(Named(MakeNode("Relu", {"c0"}, {"r"}), "relu0"));
  g.nodes.push_back(Named(MakeNode("Conv", {"r", "W1", "B"}, {"c1"}, pads), "conv1"));
  g.nodes.push_back(Named(MakeNode("Relu", {"c1"}, {"r1"}), "relu1"));
  g.nodes.push_back(Named(MakeNode("Conv", {"r1", "W2", "B"}, {"c2"}, pads), "conv2"));
  g.nodes.push_back(Named(MakeNode("Add", {"c2", "r"}, {"s"}), "add"));
  g.nodes.push_back(Named(MakeNode("Relu", {"s"}, {"r2"}), "relu2"));
  g.nodes.push_back(Named(MakeNode("Conv", {"r2", "W3"}, {"Y"}, pads), "conv3"));
  for (const char* v : {"c0", "r", "c1", "r1", "c2", "s", "r2"})
    g.value_info[v] = F32Value(v, shape);
  g.outputs.push_back(F32Value("Y", shape));
  ir::Graph t = g;
  ASSERT_TRUE(FuseConvPostOps(t, CpuKernelsCanRun).ok());
  ASSERT_TRUE(KeepConvActivationsBlocked(t, CpuKernelsCanRun, kBlock).ok());
  ASSERT_EQ(t.nodes.size(), 4u);
  const ir::Node& conv2 = t.nodes[2];
  EXPECT_EQ(conv2.inputs.back(), "r");
  EXPECT_EQ(Layout(conv2, kXLayoutAttr), kBlock);
  EXPECT_EQ(Layout(conv2, kSumLayoutAttr), kBlock);
  EXPECT_EQ(Layout(conv2, kYLayoutAttr), kBlock);
  const Tensor x = RandomTensor(DType::kF32, shape, 5);
  for (int run = 0; run < 2; ++run) ExpectSameOutputs(g, t, x);
}

TEST(CpuFusionTest, NothingFusesWhenTheDeviceCannotRunIt) {
  ir::Graph g = BlockGraph();
  const size_t before = g.nodes.size();
  ASSERT_TRUE(FuseConvPostOps(g, [](const ir::Node&, const ir::Graph&) { return false; }).ok());
  EXPECT_EQ(g.nodes.size(), before);
}

}  // namespace
}  // namespace unihal::cpu
