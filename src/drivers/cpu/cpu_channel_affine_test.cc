// FuseChannelAffine (cpu_channel_affine.h): per-channel Mul / Add / Sub / BatchNormalization
// chains fold into convolutions or become one cpu-private BatchNormalization, computing what the
// original graph computes on the reference kernels.
#include "drivers/cpu/cpu_channel_affine.h"

#include <gtest/gtest.h>

#include "drivers/cpu/cpu_kernels.h"
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
using unihal::testing::AttrInt;
using unihal::testing::AttrInts;
using unihal::testing::CompileAndRun;
using unihal::testing::CpuKernelsCanRun;
using unihal::testing::F32Value;
using unihal::testing::MakeNode;
using unihal::testing::RandomTensor;

void ExpectSameResults(const ir::Graph& g, const ir::Graph& optimized, const Shape& x_shape) {
  hal::KernelRegistry reference;
  RegisterReferenceCpuKernels(reference);
  const Tensor x = RandomTensor(DType::kF32, x_shape, 3);
  Result<std::vector<Tensor>> expected = CompileAndRun(g, reference, {x});
  Result<std::vector<Tensor>> actual = CompileAndRun(optimized, AllCpuKernels(), {x});
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  ASSERT_TRUE(actual.ok()) << actual.status().ToString();
  ASSERT_EQ(actual->size(), expected->size());
  for (size_t i = 0; i < actual->size(); ++i) {
    EXPECT_TRUE(AllClose((*actual)[i], (*expected)[i], 1e-4, 1e-5)) << "output " << i;
  }
}

// BatchNormalization `name` on `x` (c channels) writing `y`, with random parameters.
void AddBatchNorm(ir::Graph& g, const std::string& name, const std::string& x, const std::string& y,
                  int64_t c, uint64_t seed) {
  const std::vector<std::string> params = {name + "_s", name + "_b", name + "_m", name + "_v"};
  g.initializers[params[0]] = RandomTensor(DType::kF32, {c}, seed, 0.5, 1.5);
  g.initializers[params[1]] = RandomTensor(DType::kF32, {c}, seed + 1);
  g.initializers[params[2]] = RandomTensor(DType::kF32, {c}, seed + 2);
  g.initializers[params[3]] = RandomTensor(DType::kF32, {c}, seed + 3, 0.5, 2.0);
  ir::Node bn =
      MakeNode("BatchNormalization", {x, params[0], params[1], params[2], params[3]}, {y}, {}, 9);
  bn.name = name;
  g.nodes.push_back(bn);
}

// Caffe2-style DenseNet pieces: Conv -> BN -> Mul -> Add -> Relu -> MaxPool -> Concat with a
// conv branch -> BN -> Mul -> Add -> Relu -> Conv -> Y.
ir::Graph DenseGraph(int64_t c) {
  ir::Graph g;
  g.inputs.push_back(F32Value("X", {1, 3, 8, 8}));
  g.initializers["W0"] = RandomTensor(DType::kF32, {c, 3, 3, 3}, 1);
  g.initializers["W1"] = RandomTensor(DType::kF32, {c, c, 3, 3}, 2, -0.3, 0.3);
  g.initializers["W2"] = RandomTensor(DType::kF32, {8, 2 * c, 1, 1}, 3, -0.3, 0.3);
  g.initializers["w0"] = RandomTensor(DType::kF32, {c, 1, 1}, 4);
  g.initializers["b0"] = RandomTensor(DType::kF32, {c, 1, 1}, 5);
  g.initializers["w1"] = RandomTensor(DType::kF32, {2 * c, 1, 1}, 6);
  g.initializers["b1"] = RandomTensor(DType::kF32, {1, 2 * c, 1, 1}, 7);
  const std::map<std::string, ir::Attribute> pads{{"pads", AttrInts({1, 1, 1, 1})}};
  g.nodes.push_back(MakeNode("Conv", {"X", "W0"}, {"c0"}, pads));
  AddBatchNorm(g, "bn0", "c0", "n0", c, 10);
  g.nodes.push_back(MakeNode("Mul", {"n0", "w0"}, {"m0"}));
  g.nodes.push_back(MakeNode("Add", {"m0", "b0"}, {"a0"}));
  g.nodes.push_back(MakeNode("Relu", {"a0"}, {"r0"}));
  g.nodes.push_back(MakeNode("MaxPool", {"r0"}, {"p"},
                             {{"kernel_shape", AttrInts({2, 2})}, {"strides", AttrInts({2, 2})}}));
  g.nodes.push_back(MakeNode("Conv", {"p", "W1"}, {"c1"}, pads));
  g.nodes.push_back(MakeNode("Concat", {"p", "c1"}, {"cat"}, {{"axis", AttrInt(1)}}));
  AddBatchNorm(g, "bn1", "cat", "n1", 2 * c, 20);
  g.nodes.push_back(MakeNode("Mul", {"w1", "n1"}, {"m1"}));  // constant first
  g.nodes.push_back(MakeNode("Sub", {"m1", "b1"}, {"a1"}));
  g.nodes.push_back(MakeNode("Relu", {"a1"}, {"r1"}));
  g.nodes.push_back(MakeNode("Conv", {"r1", "W2"}, {"Y"}));
  for (const char* v : {"c0", "n0", "m0", "a0", "r0"}) g.value_info[v] = F32Value(v, {1, c, 8, 8});
  for (const char* v : {"p", "c1"}) g.value_info[v] = F32Value(v, {1, c, 4, 4});
  for (const char* v : {"cat", "n1", "m1", "a1", "r1"}) {
    g.value_info[v] = F32Value(v, {1, 2 * c, 4, 4});
  }
  g.outputs.push_back(F32Value("Y", {1, 8, 4, 4}));
  return g;
}

std::vector<std::string> OpTypes(const ir::Graph& g) {
  std::vector<std::string> ops;
  for (const ir::Node& node : g.nodes) ops.push_back(node.op_type);
  return ops;
}

TEST(CpuChannelAffineTest, FoldsIntoConvsAndFusesBatchNormChains) {
  for (int64_t c : {8, 6}) {  // blocked and (6 channels) plain
    SCOPED_TRACE(c);
    const ir::Graph g = DenseGraph(c);
    ir::Graph t = g;
    ASSERT_TRUE(FuseChannelAffine(t, CpuKernelsCanRun).ok());
    EXPECT_EQ(OpTypes(t), (std::vector<std::string>{"Conv", "Relu", "MaxPool", "Conv", "Concat",
                                                    "BatchNormalization", "Conv"}));
    const ir::Node& bn = t.nodes[5];
    EXPECT_EQ(bn.domain, kCpuFusionDomain);
    EXPECT_EQ(*bn.GetString(kBatchNormActivationAttr, ""), "Relu");
    EXPECT_EQ(bn.outputs[0], "r1");
    ExpectSameResults(g, t, {1, 3, 8, 8});
    ASSERT_TRUE(FuseConvPostOps(t, CpuKernelsCanRun).ok());
    ASSERT_TRUE(KeepConvActivationsBlocked(t, CpuKernelsCanRun, kBlock).ok());
    const ir::Node& blocked_bn = t.nodes[4];
    ASSERT_EQ(blocked_bn.op_type, "BatchNormalization");
    EXPECT_EQ(*blocked_bn.GetInt(kXLayoutAttr, 0), c == 8 ? kBlock : 0);
    ExpectSameResults(g, t, {1, 3, 8, 8});
  }
}

TEST(CpuChannelAffineTest, LeavesBroadcastsAndSharedValuesAlone) {
  ir::Graph g;
  g.inputs.push_back(F32Value("X", {1, 4, 5, 5}));
  g.initializers["W"] = RandomTensor(DType::kF32, {4, 4, 1, 1}, 1);
  g.initializers["k"] = RandomTensor(DType::kF32, {4, 5, 5}, 2);  // not per channel
  g.initializers["s"] = RandomTensor(DType::kF32, {4, 1, 1}, 3);
  g.nodes.push_back(MakeNode("Conv", {"X", "W"}, {"c"}));
  g.nodes.push_back(MakeNode("Mul", {"c", "k"}, {"m"}));
  g.nodes.push_back(MakeNode("Conv", {"m", "W"}, {"d"}));
  g.nodes.push_back(MakeNode("Add", {"d", "s"}, {"Y"}));  // d is also a graph output
  for (const char* v : {"c", "m", "d", "Y"}) g.value_info[v] = F32Value(v, {1, 4, 5, 5});
  g.outputs = {g.value_info.at("Y"), g.value_info.at("d")};
  ir::Graph t = g;
  ASSERT_TRUE(FuseChannelAffine(t, CpuKernelsCanRun).ok());
  EXPECT_EQ(OpTypes(t), OpTypes(g));
  ExpectSameResults(g, t, {1, 4, 5, 5});
}

TEST(CpuChannelAffineTest, FiveDimensionalValuesAreLeftAlone) {
  // [4, 1, 1] broadcasts along depth (also 4) of a 5-D value, not along its channels.
  ir::Graph g;
  g.inputs.push_back(F32Value("X", {1, 4, 4, 3, 3}));
  g.initializers["W"] = RandomTensor(DType::kF32, {4, 4, 1, 1, 1}, 1);
  g.initializers["k"] = RandomTensor(DType::kF32, {4, 1, 1}, 2);
  g.nodes.push_back(MakeNode("Conv", {"X", "W"}, {"c"}));
  g.nodes.push_back(MakeNode("Mul", {"c", "k"}, {"Y"}));
  for (const char* v : {"c", "Y"}) g.value_info[v] = F32Value(v, {1, 4, 4, 3, 3});
  g.outputs = {g.value_info.at("Y")};
  ir::Graph t = g;
  ASSERT_TRUE(FuseChannelAffine(t, CpuKernelsCanRun).ok());
  EXPECT_EQ(OpTypes(t), OpTypes(g));
  ExpectSameResults(g, t, {1, 4, 4, 3, 3});
}

}  // namespace
}  // namespace unihal::cpu
