// oneDNN kernels against the reference kernels on the same random inputs, which
// implementation the registry picks, and concurrent runs.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "drivers/cpu/cpu_kernels.h"
#include "testing/op_test_util.h"
#include "unihal/hal/kernel_executable.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrFloat;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrInts;
using ::unihal::testing::AttrString;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;
using ::unihal::testing::RunNodeOptions;

const hal::KernelRegistry& ReferenceKernels() {
  static const hal::KernelRegistry* registry = [] {
    static hal::KernelRegistry r;
    RegisterReferenceNnKernels(r);
    return &r;
  }();
  return *registry;
}

// The one-node graph RunNode builds, for asking the registry what it would pick.
ir::Graph OneNodeGraph(const ir::Node& node, const std::vector<Tensor>& inputs,
                       const std::set<size_t>& constants) {
  ir::Graph graph;
  graph.nodes.push_back(node);
  for (size_t i = 0; i < node.inputs.size() && i < inputs.size(); ++i) {
    if (node.inputs[i].empty() || !inputs[i].defined()) continue;
    if (constants.count(i)) {
      graph.initializers[node.inputs[i]] = inputs[i];
      continue;
    }
    ir::SymbolicShape shape;
    for (int64_t d : inputs[i].shape()) shape.push_back(ir::Dim::Static(d));
    graph.inputs.push_back(ir::ValueInfo{node.inputs[i], inputs[i].dtype(), shape});
  }
  return graph;
}

std::string Selected(const ir::Node& node, const std::vector<Tensor>& inputs,
                     const std::set<size_t>& constants = {}) {
  const ir::Graph graph = OneNodeGraph(node, inputs, constants);
  return AllCpuKernels().SelectedImplementation(hal::KernelCreateInfo{graph.nodes[0], graph});
}

// Runs `node` with every cpu kernel and with the reference kernels only; all outputs must
// agree, and the registry must pick `implementation`.
void ExpectMatchesReference(const ir::Node& node, const std::vector<Tensor>& inputs,
                            const std::string& implementation,
                            const std::set<size_t>& constants = {}) {
  EXPECT_EQ(Selected(node, inputs, constants), implementation);
  RunNodeOptions options;
  options.constant_inputs = constants;
  Result<std::vector<Tensor>> actual = RunNode(AllCpuKernels(), node, inputs, options);
  ASSERT_TRUE(actual.ok()) << actual.status().ToString();
  Result<std::vector<Tensor>> expected = RunNode(ReferenceKernels(), node, inputs, options);
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  ASSERT_EQ(actual->size(), expected->size());
  for (size_t i = 0; i < actual->size(); ++i) {
    EXPECT_TRUE(AllClose((*actual)[i], (*expected)[i], 1e-4, 1e-5)) << "output " << i;
  }
}

// ---------------------------------------------------------------------------------------------
// Conv

struct ConvCase {
  std::string name{};
  Shape x{};
  Shape w{};
  bool bias = true;
  int64_t group = 1;
  Shape strides{};
  Shape dilations{};
  Shape pads{};
  std::string auto_pad = "NOTSET";
  DType dtype = DType::kF32;
  std::string implementation = "onednn";
};

ir::Node ConvNode(const ConvCase& c) {
  std::map<std::string, ir::Attribute> attributes{{"group", AttrInt(c.group)}};
  if (!c.strides.empty()) attributes["strides"] = AttrInts(c.strides);
  if (!c.dilations.empty()) attributes["dilations"] = AttrInts(c.dilations);
  if (!c.pads.empty()) attributes["pads"] = AttrInts(c.pads);
  if (c.auto_pad != "NOTSET") attributes["auto_pad"] = AttrString(c.auto_pad);
  return MakeNode("Conv", {"X", "W", c.bias ? "B" : ""}, {"Y"}, attributes);
}

std::vector<Tensor> ConvInputs(const ConvCase& c) {
  return {RandomTensor(c.dtype, c.x, 101), RandomTensor(c.dtype, c.w, 102),
          RandomTensor(c.dtype, {c.w[0]}, 103)};
}

class DnnlConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(DnnlConvTest, MatchesReference) {
  const ConvCase& c = GetParam();
  ExpectMatchesReference(ConvNode(c), ConvInputs(c), c.implementation);
}

TEST_P(DnnlConvTest, MatchesReferenceWithConstantWeights) {
  const ConvCase& c = GetParam();
  ExpectMatchesReference(ConvNode(c), ConvInputs(c), c.implementation, {1, 2});
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DnnlConvTest,
    ::testing::Values(
        ConvCase{"basic_2d", {2, 3, 7, 8}, {4, 3, 3, 3}, true, 1, {}, {}, {1, 1, 1, 1}},
        ConvCase{"strided_dilated_no_bias",
                 {1, 3, 11, 10},
                 {5, 3, 3, 2},
                 false,
                 1,
                 {2, 2},
                 {2, 3},
                 {0, 1, 2, 1}},
        ConvCase{"group_2", {2, 4, 6, 6}, {6, 2, 3, 3}, true, 2, {1, 2}, {}, {1, 0, 1, 2}},
        // grouped 1x1: grouped_pointwise_conv.h instead of oneDNN's convolution
        ConvCase{"grouped_pointwise", {2, 12, 5, 7}, {9, 4, 1, 1}, true, 3},
        ConvCase{"grouped_pointwise_1d_no_bias", {1, 6, 11}, {4, 3, 1}, false, 2},
        ConvCase{"grouped_1x1_strided", {1, 8, 6, 6}, {8, 4, 1, 1}, true, 2, {2, 2}},
        // depthwise: window_plain.h instead of oneDNN's convolution
        ConvCase{"depthwise", {1, 8, 9, 9}, {8, 1, 3, 3}, true, 8, {2, 2}, {}, {1, 1, 1, 1}},
        ConvCase{"depthwise_multiplier_dilated",
                 {2, 4, 11, 10},
                 {12, 1, 3, 2},
                 false,
                 4,
                 {1, 2},
                 {2, 1},
                 {2, 0, 1, 1}},
        ConvCase{"conv_1d", {2, 3, 13}, {2, 3, 4}, true, 1, {3}, {}, {2, 1}},
        ConvCase{"conv_3d",
                 {1, 2, 4, 5, 6},
                 {3, 2, 2, 3, 2},
                 true,
                 1,
                 {1, 2, 1},
                 {2, 1, 1},
                 {1, 0, 1, 0, 1, 1}},
        ConvCase{"same_upper", {1, 2, 7, 8}, {3, 2, 4, 4}, true, 1, {2, 3}, {}, {}, "SAME_UPPER"},
        ConvCase{"same_lower", {1, 2, 7, 8}, {3, 2, 4, 4}, true, 1, {2, 3}, {}, {}, "SAME_LOWER"},
        ConvCase{"valid", {1, 3, 9, 7}, {2, 3, 3, 2}, true, 1, {2, 2}, {}, {}, "VALID"},
        ConvCase{"resnet_like", {2, 16, 14, 14}, {32, 16, 3, 3}, true, 1, {1, 1}, {}, {1, 1, 1, 1}},
        ConvCase{"float64_declined",
                 {1, 2, 5, 5},
                 {2, 2, 3, 3},
                 true,
                 1,
                 {},
                 {},
                 {},
                 "NOTSET",
                 DType::kF64,
                 "reference"}),
    [](const auto& info) { return info.param.name; });

TEST(DnnlConvErrorTest, ChannelMismatchNamesTheNode) {
  ConvCase c{"bad", {1, 3, 5, 5}, {2, 4, 3, 3}};
  const std::vector<Tensor> inputs = ConvInputs(c);
  EXPECT_EQ(Selected(ConvNode(c), inputs), "onednn");
  for (const std::set<size_t>& constants : {std::set<size_t>{}, std::set<size_t>{1, 2}}) {
    RunNodeOptions options;
    options.constant_inputs = constants;
    Result<std::vector<Tensor>> y = RunNode(AllCpuKernels(), ConvNode(c), inputs, options);
    ASSERT_FALSE(y.ok());
    EXPECT_EQ(y.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(y.status().message().find("node 'Conv_under_test' (Conv)"), std::string::npos)
        << y.status().message();
    EXPECT_NE(y.status().message().find("has 3 channels"), std::string::npos)
        << y.status().message();
  }
}

// ---------------------------------------------------------------------------------------------
// Gemm and MatMul

struct GemmCase {
  std::string name{};
  int64_t m = 0, k = 0, n = 0;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f, beta = 1.0f;
  std::optional<Shape> c{};
  DType dtype = DType::kF32;
  std::string implementation = "onednn";
};

class DnnlGemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(DnnlGemmTest, MatchesReference) {
  const GemmCase& g = GetParam();
  const std::vector<Tensor> inputs{
      RandomTensor(g.dtype, g.trans_a ? Shape{g.k, g.m} : Shape{g.m, g.k}, 111, -3, 3),
      RandomTensor(g.dtype, g.trans_b ? Shape{g.n, g.k} : Shape{g.k, g.n}, 112, -3, 3),
      g.c ? RandomTensor(g.dtype, *g.c, 113, -3, 3) : Tensor()};
  ir::Node node = MakeNode("Gemm", {"A", "B", g.c ? "C" : ""}, {"Y"},
                           {{"transA", AttrInt(g.trans_a)},
                            {"transB", AttrInt(g.trans_b)},
                            {"alpha", AttrFloat(g.alpha)},
                            {"beta", AttrFloat(g.beta)}});
  ExpectMatchesReference(node, inputs, g.implementation);
  ExpectMatchesReference(node, inputs, g.implementation, {1, 2});
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DnnlGemmTest,
    ::testing::Values(GemmCase{"plain_full_c", 5, 7, 6, false, false, 1, 1, Shape{5, 6}},
                      GemmCase{"trans_a_row_c", 5, 7, 6, true, false, 0.5f, 2.0f, Shape{6}},
                      GemmCase{"trans_b_column_c", 9, 4, 3, false, true, 1.5f, -1, Shape{9, 1}},
                      GemmCase{"trans_both", 4, 8, 5, true, true, 1, 0.25f, Shape{1, 5}},
                      GemmCase{"scalar_c", 3, 3, 3, false, false, 2, 3, Shape{}},
                      GemmCase{"no_c", 17, 33, 9, true, false, 0.75f, 1, std::nullopt},
                      GemmCase{"beta_zero", 4, 5, 6, false, false, 1, 0, Shape{4, 6}},
                      GemmCase{"fc_layer", 8, 256, 100, false, true, 1, 1, Shape{100}},
                      GemmCase{"int32_declined", 4, 5, 3, false, false, 1, 1, Shape{3}, DType::kI32,
                               "reference"}),
    [](const auto& info) { return info.param.name; });

TEST(DnnlGemmErrorTest, InnerDimMismatchNamesTheNode) {
  ir::Node node = MakeNode("Gemm", {"A", "B"}, {"Y"}, {{"transB", AttrInt(1)}});
  const std::vector<Tensor> inputs{RandomTensor(DType::kF32, {3, 4}, 1),
                                   RandomTensor(DType::kF32, {5, 3}, 2)};
  EXPECT_EQ(Selected(node, inputs), "onednn");
  Result<std::vector<Tensor>> y = RunNode(AllCpuKernels(), node, inputs);
  ASSERT_FALSE(y.ok());
  EXPECT_EQ(y.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(y.status().message().find("node 'Gemm_under_test' (Gemm)"), std::string::npos)
      << y.status().message();
  EXPECT_NE(y.status().message().find("inner dims differ"), std::string::npos);
}

struct MatMulCase {
  std::string name{};
  Shape a{}, b{};
  DType dtype = DType::kF32;
  std::string implementation = "onednn";
};

class DnnlMatMulTest : public ::testing::TestWithParam<MatMulCase> {};

TEST_P(DnnlMatMulTest, MatchesReference) {
  const MatMulCase& c = GetParam();
  const std::vector<Tensor> inputs{RandomTensor(c.dtype, c.a, 121, -3, 3),
                                   RandomTensor(c.dtype, c.b, 122, -3, 3)};
  ir::Node node = MakeNode("MatMul", {"A", "B"}, {"Y"});
  ExpectMatchesReference(node, inputs, c.implementation);
  ExpectMatchesReference(node, inputs, c.implementation, {1});
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DnnlMatMulTest,
    ::testing::Values(MatMulCase{"matrix", {5, 7}, {7, 3}}, MatMulCase{"vector_vector", {6}, {6}},
                      MatMulCase{"vector_matrix", {6}, {6, 4}},
                      MatMulCase{"matrix_vector", {3, 6}, {6}},
                      MatMulCase{"batched", {3, 4, 5}, {3, 5, 6}},
                      MatMulCase{"broadcast_b", {2, 3, 4, 5}, {5, 6}},
                      MatMulCase{"broadcast_both", {2, 1, 4, 5}, {3, 5, 2}},
                      MatMulCase{"broadcast_ones", {1, 3, 4, 5}, {2, 1, 5, 3}},
                      MatMulCase{"attention_like", {2, 4, 16, 8}, {2, 4, 8, 16}},
                      MatMulCase{"int64_declined", {3, 4}, {4, 5}, DType::kI64, "reference"}),
    [](const auto& info) { return info.param.name; });

TEST(DnnlMatMulSupportTest, UnknownRankOrDTypeStillGoesToOneDnn) {
  // A MatMul fed by a Reshape to a computed shape: nothing is known about A until it runs.
  const ir::Node node = MakeNode("MatMul", {"A", "B"}, {"Y"});
  ir::Graph graph;
  graph.nodes.push_back(node);
  graph.inputs.push_back(ir::ValueInfo{"A", DType::kUndefined, std::nullopt});
  graph.inputs.push_back(ir::ValueInfo{"B", DType::kF32, std::nullopt});
  EXPECT_EQ(AllCpuKernels().SelectedImplementation(hal::KernelCreateInfo{graph.nodes[0], graph}),
            "onednn");
  graph.inputs[0].dtype = DType::kI64;
  EXPECT_EQ(AllCpuKernels().SelectedImplementation(hal::KernelCreateInfo{graph.nodes[0], graph}),
            "reference");
}

// ---------------------------------------------------------------------------------------------
// Pools

struct PoolCase {
  std::string name{};
  std::string op{};
  Shape x{};
  Shape kernel{};
  Shape strides{};
  Shape pads{};
  Shape dilations{};
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;
  bool count_include_pad = false;
  bool indices = false;
  DType dtype = DType::kF32;
  std::string implementation = "onednn";
};

class DnnlPoolTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(DnnlPoolTest, MatchesReference) {
  const PoolCase& c = GetParam();
  std::map<std::string, ir::Attribute> attributes;
  if (c.op != "GlobalAveragePool") attributes["kernel_shape"] = AttrInts(c.kernel);
  if (!c.strides.empty()) attributes["strides"] = AttrInts(c.strides);
  if (!c.pads.empty()) attributes["pads"] = AttrInts(c.pads);
  if (!c.dilations.empty()) attributes["dilations"] = AttrInts(c.dilations);
  if (c.auto_pad != "NOTSET") attributes["auto_pad"] = AttrString(c.auto_pad);
  if (c.ceil_mode) attributes["ceil_mode"] = AttrInt(1);
  if (c.op == "AveragePool") attributes["count_include_pad"] = AttrInt(c.count_include_pad);
  std::vector<std::string> outputs{"Y"};
  if (c.indices) outputs.push_back("Indices");
  ExpectMatchesReference(MakeNode(c.op, {"X"}, outputs, attributes, 19),
                         {RandomTensor(c.dtype, c.x, 131)}, c.implementation);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DnnlPoolTest,
    ::testing::Values(
        PoolCase{"max_2d", "MaxPool", {2, 3, 8, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}},
        PoolCase{"max_ceil", "MaxPool", {1, 2, 8, 8}, {3, 3}, {2, 2}, {}, {}, "NOTSET", true},
        PoolCase{"max_ceil_pads",
                 "MaxPool",
                 {1, 2, 9, 10},
                 {3, 2},
                 {3, 3},
                 {1, 1, 1, 0},
                 {},
                 "NOTSET",
                 true},
        PoolCase{"max_dilated", "MaxPool", {1, 2, 10, 9}, {3, 2}, {1, 2}, {1, 0, 1, 1}, {2, 3}},
        PoolCase{"max_1d", "MaxPool", {2, 3, 15}, {4}, {3}, {1, 2}},
        PoolCase{"max_3d", "MaxPool", {1, 2, 5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {0, 1, 1, 1, 1, 0}},
        PoolCase{"max_same_upper", "MaxPool", {1, 2, 7, 8}, {2, 3}, {2, 3}, {}, {}, "SAME_UPPER"},
        PoolCase{"max_same_lower", "MaxPool", {1, 2, 7, 8}, {2, 3}, {2, 3}, {}, {}, "SAME_LOWER"},
        PoolCase{"max_valid", "MaxPool", {1, 2, 7, 8}, {3, 2}, {2, 3}, {}, {}, "VALID"},
        PoolCase{"max_indices_declined",
                 "MaxPool",
                 {1, 2, 6, 6},
                 {2, 2},
                 {2, 2},
                 {},
                 {},
                 "NOTSET",
                 false,
                 false,
                 true,
                 DType::kF32,
                 "reference"},
        PoolCase{"max_float64_declined",
                 "MaxPool",
                 {1, 2, 6, 6},
                 {2, 2},
                 {2, 2},
                 {},
                 {},
                 "NOTSET",
                 false,
                 false,
                 false,
                 DType::kF64,
                 "reference"},
        PoolCase{"avg_exclude_pad", "AveragePool", {2, 3, 8, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}},
        PoolCase{"avg_include_pad",
                 "AveragePool",
                 {2, 3, 8, 9},
                 {3, 3},
                 {2, 2},
                 {1, 1, 1, 1},
                 {},
                 "NOTSET",
                 false,
                 true},
        PoolCase{"avg_ceil", "AveragePool", {1, 2, 8, 8}, {3, 3}, {2, 2}, {}, {}, "NOTSET", true},
        PoolCase{"avg_ceil_include_pad",
                 "AveragePool",
                 {1, 2, 9, 10},
                 {3, 2},
                 {3, 3},
                 {1, 1, 1, 0},
                 {},
                 "NOTSET",
                 true,
                 true},
        PoolCase{"avg_1d", "AveragePool", {2, 3, 15}, {4}, {3}, {1, 2}},
        PoolCase{"avg_3d_include_pad",
                 "AveragePool",
                 {1, 2, 5, 6, 7},
                 {2, 3, 2},
                 {2, 1, 2},
                 {0, 1, 1, 1, 1, 0},
                 {},
                 "NOTSET",
                 false,
                 true},
        PoolCase{
            "avg_same_upper", "AveragePool", {1, 2, 7, 8}, {2, 3}, {2, 3}, {}, {}, "SAME_UPPER"},
        PoolCase{"avg_dilated", "AveragePool", {1, 2, 10, 9}, {3, 2}, {1, 2}, {1, 0, 1, 1}, {2, 3}},
        PoolCase{"global_avg_2d", "GlobalAveragePool", {2, 5, 7, 6}},
        PoolCase{"global_avg_1d", "GlobalAveragePool", {2, 5, 11}},
        PoolCase{"global_avg_3d", "GlobalAveragePool", {1, 3, 4, 5, 6}}),
    [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// BatchNormalization

struct BatchNormCase {
  std::string name{};
  Shape x{};
  int opset = 15;
  bool per_element = false;
  std::string implementation = "onednn";
};

class DnnlBatchNormTest : public ::testing::TestWithParam<BatchNormCase> {};

TEST_P(DnnlBatchNormTest, MatchesReference) {
  const BatchNormCase& c = GetParam();
  const Shape param_shape = c.per_element ? Shape(c.x.begin() + 1, c.x.end()) : Shape{c.x[1]};
  std::map<std::string, ir::Attribute> attributes{{"epsilon", AttrFloat(1e-3f)}};
  if (c.per_element) attributes["spatial"] = AttrInt(0);
  ir::Node node = MakeNode("BatchNormalization", {"X", "scale", "B", "mean", "var"}, {"Y"},
                           attributes, c.opset);
  const std::vector<Tensor> inputs{RandomTensor(DType::kF32, c.x, 141, -3, 3),
                                   RandomTensor(DType::kF32, param_shape, 142, 0.5, 2),
                                   RandomTensor(DType::kF32, param_shape, 143),
                                   RandomTensor(DType::kF32, param_shape, 144),
                                   RandomTensor(DType::kF32, param_shape, 145, 0.1, 3)};
  ExpectMatchesReference(node, inputs, c.implementation, {1, 2, 3, 4});
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DnnlBatchNormTest,
    ::testing::Values(BatchNormCase{"nchw", {2, 3, 5, 4}}, BatchNormCase{"nc", {4, 6}},
                      BatchNormCase{"ncw_opset9", {2, 3, 7}, 9},
                      BatchNormCase{"ncdhw_opset14", {1, 2, 3, 4, 5}, 14},
                      BatchNormCase{"per_element_declined", {2, 3, 4, 2}, 7, true, "reference"}),
    [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// Concurrency: kernels are shared by concurrent runs of one executable.

TEST(DnnlConcurrencyTest, TwoThreadsGetIdenticalResults) {
  // X -> Conv(constant W, B) -> MaxPool -> Gemm-free chain ending in MatMul with constant B.
  ir::Graph graph;
  graph.name = "concurrent";
  graph.inputs.push_back(
      ir::ValueInfo{"x", DType::kF32,
                    ir::SymbolicShape{ir::Dim::Static(2), ir::Dim::Static(4), ir::Dim::Static(12),
                                      ir::Dim::Static(12)}});
  graph.initializers["w"] = RandomTensor(DType::kF32, {8, 4, 3, 3}, 151);
  graph.initializers["b"] = RandomTensor(DType::kF32, {8}, 152);
  graph.initializers["m"] = RandomTensor(DType::kF32, {6, 5}, 153);
  ir::Node conv = MakeNode("Conv", {"x", "w", "b"}, {"c"}, {{"pads", AttrInts({1, 1, 1, 1})}});
  conv.name = "conv";
  ir::Node pool = MakeNode("MaxPool", {"c"}, {"p"},
                           {{"kernel_shape", AttrInts({2, 2})}, {"strides", AttrInts({2, 2})}});
  pool.name = "pool";
  ir::Node matmul = MakeNode("MatMul", {"p", "m"}, {"y"});
  matmul.name = "matmul";
  graph.nodes = {conv, pool, matmul};
  graph.outputs.push_back(ir::ValueInfo{"y", DType::kF32, {}});
  Result<std::shared_ptr<hal::Executable>> exe =
      hal::CompileWithKernels(graph, AllCpuKernels(), hal::ThreadPool::Process());
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();

  const Tensor inputs[2] = {RandomTensor(DType::kF32, {2, 4, 12, 12}, 154),
                            RandomTensor(DType::kF32, {2, 4, 12, 12}, 155)};
  Tensor sequential[2];
  for (int t = 0; t < 2; ++t) {
    std::vector<Tensor> out;
    ASSERT_TRUE((*exe)->Run({&inputs[t], 1}, out).ok());
    sequential[t] = *out[0].Clone();
  }
  // The same graph on the reference kernels agrees with the oneDNN run.
  Result<std::shared_ptr<hal::Executable>> reference =
      hal::CompileWithKernels(graph, ReferenceKernels(), hal::ThreadPool::Process());
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();
  std::vector<Tensor> reference_out;
  ASSERT_TRUE((*reference)->Run({&inputs[0], 1}, reference_out).ok());
  EXPECT_TRUE(AllClose(sequential[0], reference_out[0], 1e-4, 1e-5));

  Status statuses[2];
  bool identical[2] = {true, true};
  std::thread threads[2];
  for (int t = 0; t < 2; ++t) {
    threads[t] = std::thread([&, t] {
      for (int iteration = 0; iteration < 25; ++iteration) {
        std::vector<Tensor> out;
        Status s = (*exe)->Run({&inputs[t], 1}, out);
        if (!s.ok()) {
          statuses[t] = s;
          return;
        }
        identical[t] &= static_cast<bool>(AllClose(out[0], sequential[t], 0, 0));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 2; ++t) {
    EXPECT_TRUE(statuses[t].ok()) << statuses[t].ToString();
    EXPECT_TRUE(identical[t]) << "thread " << t;
  }
}

}  // namespace
}  // namespace unihal::cpu
