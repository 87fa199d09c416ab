#include "ir/passes.h"

#include <gtest/gtest.h>

#include <climits>

#include "testing/op_test_util.h"
#include "unihal/hal/kernel_executable.h"

namespace unihal::ir {
namespace {

using unihal::testing::AllClose;
using unihal::testing::AttrFloat;
using unihal::testing::AttrInt;
using unihal::testing::AttrInts;
using unihal::testing::AttrTensor;
using unihal::testing::MakeNode;
using unihal::testing::RandomTensor;

// Same-shape float32 elementwise kernels of the test's own, so the passes are tested apart
// from the real cpu kernels: Add, Mul, Neg, and ConstantOfShape.
hal::KernelRegistry TestKernels() {
  hal::KernelRegistry registry;
  auto binary = [&](const std::string& op, float (*fn)(float, float)) {
    registry.Register(hal::KernelDef{
        op, "", 1, INT_MAX, "test", 0, nullptr,
        [fn](const hal::KernelCreateInfo&) -> Result<std::unique_ptr<hal::Kernel>> {
          return std::unique_ptr<hal::Kernel>(
              std::make_unique<hal::FunctionKernel>([fn](hal::KernelContext& ctx) -> Status {
                const Tensor* a = ctx.input(0);
                const Tensor* b = ctx.input(1);
                if (a->shape() != b->shape()) return InvalidArgumentError("shapes differ");
                UH_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, DType::kF32, a->shape()));
                for (int64_t i = 0; i < a->num_elements(); ++i) {
                  y->data_as<float>()[i] = fn(a->data_as<float>()[i], b->data_as<float>()[i]);
                }
                return Status::Ok();
              }));
        }});
  };
  binary("Add", [](float a, float b) { return a + b; });
  binary("Mul", [](float a, float b) { return a * b; });
  binary("Sub", [](float a, float b) { return a - b; });
  registry.Register(hal::KernelDef{
      "Neg", "", 1, INT_MAX, "test", 0, nullptr,
      [](const hal::KernelCreateInfo&) -> Result<std::unique_ptr<hal::Kernel>> {
        return std::unique_ptr<hal::Kernel>(
            std::make_unique<hal::FunctionKernel>([](hal::KernelContext& ctx) -> Status {
              const Tensor* x = ctx.input(0);
              UH_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, DType::kF32, x->shape()));
              for (int64_t i = 0; i < x->num_elements(); ++i) {
                y->data_as<float>()[i] = -x->data_as<float>()[i];
              }
              return Status::Ok();
            }));
      }});
  registry.Register(hal::KernelDef{
      "ConstantOfShape", "", 1, INT_MAX, "test", 0, nullptr,
      [](const hal::KernelCreateInfo&) -> Result<std::unique_ptr<hal::Kernel>> {
        return std::unique_ptr<hal::Kernel>(
            std::make_unique<hal::FunctionKernel>([](hal::KernelContext& ctx) -> Status {
              UH_ASSIGN_OR_RETURN(std::vector<int64_t> shape, ctx.input(0)->ToInt64Vector());
              UH_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, DType::kF32, shape));
              for (int64_t i = 0; i < y->num_elements(); ++i) y->data_as<float>()[i] = 1.f;
              return Status::Ok();
            }));
      }});
  return registry;
}

const hal::KernelRegistry& Kernels() {
  static const hal::KernelRegistry registry = TestKernels();
  return registry;
}

Result<std::vector<Tensor>> RunGraph(const Graph& graph, const std::vector<Tensor>& inputs) {
  UH_ASSIGN_OR_RETURN(std::shared_ptr<hal::Executable> exe,
                      hal::CompileWithKernels(graph, Kernels(), hal::ThreadPool::Process()));
  std::vector<Tensor> outputs;
  UH_RETURN_IF_ERROR(exe->Run(inputs, outputs));
  return outputs;
}

// Evaluates a node with the test kernels and counts the calls.
struct CountingEvaluator {
  int calls = 0;
  NodeEvaluator Get() {
    return
        [this](const Node& node, const std::vector<Tensor>& inputs) -> Result<std::vector<Tensor>> {
          ++calls;
          Graph g;
          g.nodes.push_back(node);
          for (size_t i = 0; i < inputs.size(); ++i) {
            if (!node.inputs[i].empty()) g.initializers[node.inputs[i]] = inputs[i];
          }
          for (const auto& out : node.outputs) g.outputs.push_back(ValueInfo{out, DType::kF32, {}});
          return RunGraph(g, {});
        };
  }
};

ValueInfo F32(const std::string& name, Shape shape) {
  SymbolicShape dims;
  for (int64_t d : shape) dims.push_back(Dim::Static(d));
  return ValueInfo{name, DType::kF32, dims};
}

std::vector<std::string> NodeNames(const Graph& g) {
  std::vector<std::string> names;
  for (const Node& n : g.nodes) names.push_back(n.name);
  return names;
}

Node Named(Node node, std::string name) {
  node.name = std::move(name);
  return node;
}

// Y = X + ((A + B) * A) - Neg(B): the constant chain (A+B)*A and Neg(B) fold away.
Graph ConstantChainGraph() {
  Graph g;
  g.inputs.push_back(F32("X", {3}));
  g.initializers["A"] = Tensor::FromVector<float>({3}, {1, 2, 3});
  g.initializers["B"] = Tensor::FromVector<float>({3}, {10, 20, 30});
  g.nodes.push_back(Named(MakeNode("Add", {"A", "B"}, {"AB"}), "ab"));
  g.nodes.push_back(Named(MakeNode("Mul", {"AB", "A"}, {"ABA"}), "aba"));
  g.nodes.push_back(Named(MakeNode("Neg", {"B"}, {"NB"}), "nb"));
  g.nodes.push_back(Named(MakeNode("Add", {"X", "ABA"}, {"S"}), "s"));
  g.nodes.push_back(Named(MakeNode("Sub", {"S", "NB"}, {"Y"}), "y"));
  g.outputs.push_back(F32("Y", {3}));
  return g;
}

TEST(FoldConstantsTest, FoldsAChainOfConstantNodesAndStaysEquivalent) {
  Graph original = ConstantChainGraph();
  Graph folded = original;
  CountingEvaluator evaluator;
  ASSERT_TRUE(FoldConstants(folded, evaluator.Get()).ok());
  EXPECT_EQ(evaluator.calls, 3);
  EXPECT_EQ(NodeNames(folded), (std::vector<std::string>{"s", "y"}));
  EXPECT_TRUE(AllClose(folded.initializers.at("AB"), Tensor::FromVector<float>({3}, {11, 22, 33})));
  EXPECT_TRUE(
      AllClose(folded.initializers.at("ABA"), Tensor::FromVector<float>({3}, {11, 44, 99})));
  EXPECT_TRUE(
      AllClose(folded.initializers.at("NB"), Tensor::FromVector<float>({3}, {-10, -20, -30})));
  EXPECT_EQ(folded.value_info.at("ABA").Describe(), "ABA: float32[3]");

  ASSERT_TRUE(RemoveDeadNodes(folded).ok());
  // AB only fed a folded node; A and B are no longer read by anything.
  EXPECT_EQ(folded.initializers.size(), 2u);
  EXPECT_TRUE(folded.initializers.count("ABA") && folded.initializers.count("NB"));

  const Tensor x = RandomTensor(DType::kF32, {3}, 42);
  Result<std::vector<Tensor>> before = RunGraph(original, {x});
  Result<std::vector<Tensor>> after = RunGraph(folded, {x});
  ASSERT_TRUE(before.ok() && after.ok()) << before.status().ToString() << after.status().ToString();
  EXPECT_TRUE(AllClose((*after)[0], (*before)[0], 0, 0));
  // X + (A+B)*A + B, computed here in double.
  const double expected[] = {11 + 10, 44 + 20, 99 + 30};
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR((*after)[0].data_as<float>()[i], x.data_as<float>()[i] + expected[i], 1e-5);
  }
}

TEST(FoldConstantsTest, ConstantNodesBecomeInitializersWithoutTheEvaluator) {
  Graph g;
  g.inputs.push_back(F32("X", {2}));
  g.nodes.push_back(Named(MakeNode("Constant", {}, {"c_tensor"},
                                   {{"value", AttrTensor(Tensor::FromVector<float>({2}, {4, 5}))}}),
                          "c1"));
  g.nodes.push_back(
      Named(MakeNode("Constant", {}, {"c_float"}, {{"value_float", AttrFloat(0.5f)}}), "c2"));
  g.nodes.push_back(
      Named(MakeNode("Constant", {}, {"c_ints"}, {{"value_ints", AttrInts({7, 8})}}), "c3"));
  g.nodes.push_back(Named(MakeNode("Add", {"X", "c_tensor"}, {"Y"}), "add"));
  g.outputs.push_back(F32("Y", {2}));
  g.outputs.push_back(ValueInfo{"c_float", DType::kF32, SymbolicShape{}});
  g.outputs.push_back(ValueInfo{"c_ints", DType::kI64, SymbolicShape{Dim::Static(2)}});
  CountingEvaluator evaluator;
  ASSERT_TRUE(FoldConstants(g, evaluator.Get()).ok());
  EXPECT_EQ(evaluator.calls, 0);
  EXPECT_EQ(NodeNames(g), (std::vector<std::string>{"add"}));
  EXPECT_TRUE(AllClose(g.initializers.at("c_tensor"), Tensor::FromVector<float>({2}, {4, 5})));
  EXPECT_TRUE(AllClose(g.initializers.at("c_float"), Tensor::Scalar<float>(0.5f)));
  EXPECT_TRUE(AllClose(g.initializers.at("c_ints"), Tensor::FromVector<int64_t>({2}, {7, 8})));
}

TEST(FoldConstantsTest, GraphOutputThatBecomesAnInitializerIsStillReturned) {
  Graph g;
  g.inputs.push_back(F32("X", {2}));
  g.initializers["A"] = Tensor::FromVector<float>({2}, {1, 2});
  g.nodes.push_back(Named(MakeNode("Neg", {"A"}, {"constant_out"}), "neg"));
  g.nodes.push_back(Named(MakeNode("Add", {"X", "A"}, {"Y"}), "add"));
  g.outputs.push_back(F32("constant_out", {2}));
  g.outputs.push_back(F32("Y", {2}));
  CountingEvaluator evaluator;
  ASSERT_TRUE(FoldConstants(g, evaluator.Get()).ok());
  ASSERT_TRUE(RemoveDeadNodes(g).ok());
  EXPECT_EQ(NodeNames(g), (std::vector<std::string>{"add"}));
  ASSERT_TRUE(g.initializers.count("constant_out"));
  Result<std::vector<Tensor>> out = RunGraph(g, {Tensor::FromVector<float>({2}, {10, 20})});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_TRUE(AllClose((*out)[0], Tensor::FromVector<float>({2}, {-1, -2})));
  EXPECT_TRUE(AllClose((*out)[1], Tensor::FromVector<float>({2}, {11, 22})));
}

TEST(FoldConstantsTest, EveryNodeFoldedLeavesAGraphThatStillRuns) {
  Graph g;
  g.initializers["A"] = Tensor::FromVector<float>({2}, {1, 2});
  g.nodes.push_back(Named(MakeNode("Neg", {"A"}, {"Y"}), "neg"));
  g.outputs.push_back(F32("Y", {2}));
  CountingEvaluator evaluator;
  ASSERT_TRUE(FoldConstants(g, evaluator.Get()).ok());
  ASSERT_TRUE(RemoveDeadNodes(g).ok());
  EXPECT_TRUE(g.nodes.empty());
  EXPECT_EQ(g.initializers.size(), 1u);
  Result<std::vector<Tensor>> out = RunGraph(g, {});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(AllClose((*out)[0], Tensor::FromVector<float>({2}, {-1, -2})));
}

TEST(FoldConstantsTest, NonDeterministicAndSubgraphNodesStay) {
  Graph g;
  g.initializers["A"] = Tensor::FromVector<float>({2}, {1, 2});
  g.initializers["train"] = Tensor::Scalar<bool>(true);
  g.nodes.push_back(Named(MakeNode("RandomNormal", {}, {"R"}, {{"shape", AttrInts({2})}}), "rand"));
  g.nodes.push_back(Named(MakeNode("Dropout", {"A", "", "train"}, {"D"}), "dropout"));
  Node with_body = Named(MakeNode("If", {"A"}, {"I"}), "if");
  with_body.attributes["then_branch"] = Attribute(std::make_shared<const Graph>());
  g.nodes.push_back(with_body);
  Node custom = Named(MakeNode("Neg", {"A"}, {"C"}), "custom");
  custom.domain = "com.example";
  g.nodes.push_back(custom);
  for (const char* out : {"R", "D", "I", "C"}) g.outputs.push_back(ValueInfo{out, DType::kF32, {}});
  CountingEvaluator evaluator;
  ASSERT_TRUE(FoldConstants(g, evaluator.Get()).ok());
  EXPECT_EQ(evaluator.calls, 0);
  EXPECT_EQ(NodeNames(g), (std::vector<std::string>{"rand", "dropout", "if", "custom"}));
}

TEST(FoldConstantsTest, HugeResultsStayNodes) {
  Graph g;
  g.initializers["small_shape"] = Tensor::FromVector<int64_t>({2}, {2, 3});
  g.initializers["huge_shape"] = Tensor::FromVector<int64_t>({2}, {100000, 100000});
  g.nodes.push_back(Named(MakeNode("ConstantOfShape", {"small_shape"}, {"S"}), "small"));
  g.nodes.push_back(Named(MakeNode("ConstantOfShape", {"huge_shape"}, {"H"}), "huge"));
  g.outputs.push_back(ValueInfo{"S", DType::kF32, {}});
  g.outputs.push_back(ValueInfo{"H", DType::kF32, {}});
  CountingEvaluator evaluator;
  ASSERT_TRUE(FoldConstants(g, evaluator.Get()).ok());
  // 40 GB is predicted from the shape and never evaluated.
  EXPECT_EQ(evaluator.calls, 1);
  EXPECT_EQ(NodeNames(g), (std::vector<std::string>{"huge"}));
  EXPECT_TRUE(AllClose(g.initializers.at("S"),
                       Tensor::FromVector<float>({2, 3}, std::vector<float>(6, 1.f))));

  // A result over the limit found only after evaluating (no shape known beforehand) is dropped.
  Graph big;
  big.initializers["A"] = RandomTensor(DType::kF32, {64}, 1);
  big.nodes.push_back(Named(MakeNode("Neg", {"A"}, {"Y"}), "neg"));
  big.outputs.push_back(ValueInfo{"Y", DType::kF32, {}});
  FoldConstantsOptions options;
  options.max_folded_bytes = 100;
  ASSERT_TRUE(FoldConstants(big, evaluator.Get(), options).ok());
  EXPECT_EQ(evaluator.calls, 2);
  EXPECT_EQ(NodeNames(big), (std::vector<std::string>{"neg"}));
  EXPECT_FALSE(big.initializers.count("Y"));
}

TEST(FoldConstantsTest, EvaluatorErrors) {
  Graph g = ConstantChainGraph();
  NodeEvaluator unimplemented = [](const Node& node,
                                   const std::vector<Tensor>&) -> Result<std::vector<Tensor>> {
    return UnimplementedError("no kernel for " + node.op_type);
  };
  ASSERT_TRUE(FoldConstants(g, unimplemented).ok());
  EXPECT_EQ(g.nodes.size(), 5u);  // nothing folded, nothing broken

  NodeEvaluator failing = [](const Node&,
                             const std::vector<Tensor>&) -> Result<std::vector<Tensor>> {
    return InvalidArgumentError("shapes do not broadcast");
  };
  Status status = FoldConstants(g, failing);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "constant-folding node 'ab' (Add): shapes do not broadcast");
}

TEST(RemoveDeadNodesTest, RemovesNodesAndInitializersThatReachNoOutput) {
  Graph g;
  g.inputs.push_back(F32("X", {2}));
  g.initializers["A"] = Tensor::FromVector<float>({2}, {1, 2});
  g.initializers["unused"] = Tensor::FromVector<float>({2}, {3, 4});
  g.nodes.push_back(Named(MakeNode("Add", {"X", "A"}, {"live"}), "live"));
  g.nodes.push_back(Named(MakeNode("Neg", {"X"}, {"dead1"}), "dead1"));
  g.nodes.push_back(Named(MakeNode("Mul", {"dead1", "unused"}, {"dead2"}), "dead2"));
  g.nodes.push_back(Named(MakeNode("Neg", {"live"}, {"Y"}), "out"));
  g.outputs.push_back(F32("Y", {2}));
  const Graph original = g;
  ASSERT_TRUE(RemoveDeadNodes(g).ok());
  EXPECT_EQ(NodeNames(g), (std::vector<std::string>{"live", "out"}));
  EXPECT_EQ(g.initializers.size(), 1u);
  EXPECT_TRUE(g.initializers.count("A"));
  EXPECT_EQ(g.inputs.size(), 1u);  // inputs are the interface and stay

  const Tensor x = Tensor::FromVector<float>({2}, {5, 6});
  Result<std::vector<Tensor>> before = RunGraph(original, {x});
  Result<std::vector<Tensor>> after = RunGraph(g, {x});
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_TRUE(AllClose((*after)[0], (*before)[0], 0, 0));
  EXPECT_TRUE(AllClose((*after)[0], Tensor::FromVector<float>({2}, {-6, -8})));
}

// Dropout's mask and MaxPool's Indices go when nothing reads them, and stay when something does;
// the other outputs of an op whose outputs are not optional stay.
TEST(RemoveDeadNodesTest, DropsUnreadOptionalTrailingOutputs) {
  Graph g;
  g.inputs.push_back(F32("X", {1, 1, 4, 4}));
  g.nodes.push_back(Named(MakeNode("Dropout", {"X"}, {"D", "unread_mask"}), "dropout"));
  Node pool = Named(MakeNode("MaxPool", {"D"}, {"P", "unread_indices"}), "pool");
  pool.attributes["kernel_shape"] = Attribute(std::vector<int64_t>{2, 2});
  g.nodes.push_back(pool);
  Node read_pool = pool;
  read_pool.name = "read_pool";
  read_pool.outputs = {"Q", "indices"};
  g.nodes.push_back(read_pool);
  g.nodes.push_back(Named(MakeNode("Split", {"X"}, {"S0", "S1"}), "split"));
  g.outputs.push_back(F32("P", {1, 1, 3, 3}));
  g.outputs.push_back(F32("Q", {1, 1, 3, 3}));
  g.outputs.push_back(ValueInfo{"indices", DType::kI64, {}});
  g.outputs.push_back(F32("S0", {1, 1, 2, 4}));
  ASSERT_TRUE(RemoveDeadNodes(g).ok());
  ASSERT_EQ(NodeNames(g), (std::vector<std::string>{"dropout", "pool", "read_pool", "split"}));
  EXPECT_EQ(g.nodes[0].outputs, (std::vector<std::string>{"D"}));
  EXPECT_EQ(g.nodes[1].outputs, (std::vector<std::string>{"P"}));
  EXPECT_EQ(g.nodes[2].outputs, (std::vector<std::string>{"Q", "indices"}));
  EXPECT_EQ(g.nodes[3].outputs, (std::vector<std::string>{"S0", "S1"}));
}

TEST(RemoveDeadNodesTest, KeepsWhatSubgraphsReadFromOuterScope) {
  Graph body;
  body.nodes.push_back(Named(MakeNode("Neg", {"captured"}, {"body_out"}), "inner"));
  body.outputs.push_back(ValueInfo{"body_out", DType::kF32, {}});
  Graph g;
  g.inputs.push_back(F32("X", {2}));
  g.inputs.push_back(ValueInfo{"cond", DType::kBool, SymbolicShape{}});
  g.initializers["W"] = Tensor::FromVector<float>({2}, {1, 1});
  g.nodes.push_back(Named(MakeNode("Add", {"X", "W"}, {"captured"}), "producer"));
  Node if_node = Named(MakeNode("If", {"cond"}, {"Y"}), "if");
  if_node.attributes["then_branch"] = Attribute(std::make_shared<const Graph>(body));
  if_node.attributes["else_branch"] = Attribute(std::make_shared<const Graph>(body));
  g.nodes.push_back(if_node);
  g.outputs.push_back(F32("Y", {2}));
  EXPECT_EQ(OuterScopeValues(g.nodes[1]), (std::set<std::string>{"captured"}));
  ASSERT_TRUE(RemoveDeadNodes(g).ok());
  EXPECT_EQ(NodeNames(g), (std::vector<std::string>{"producer", "if"}));
  EXPECT_TRUE(g.initializers.count("W"));
}

// X -> Conv(W, B) -> BatchNormalization -> Relu, plus a second Conv whose output has two
// readers (so its BatchNormalization must stay).
Graph ConvBatchNormGraph() {
  Graph g;
  g.inputs.push_back(F32("X", {1, 3, 6, 6}));
  g.initializers["W"] = RandomTensor(DType::kF32, {4, 3, 3, 3}, 1);
  g.initializers["B"] = RandomTensor(DType::kF32, {4}, 2);
  g.initializers["scale"] = RandomTensor(DType::kF32, {4}, 3, 0.5, 2.0);
  g.initializers["beta"] = RandomTensor(DType::kF32, {4}, 4);
  g.initializers["mean"] = RandomTensor(DType::kF32, {4}, 5);
  g.initializers["var"] = RandomTensor(DType::kF32, {4}, 6, 0.1, 3.0);
  g.initializers["W2"] = RandomTensor(DType::kF32, {4, 4, 1, 1}, 7);
  g.nodes.push_back(
      Named(MakeNode("Conv", {"X", "W", "B"}, {"C"}, {{"pads", AttrInts({1, 1, 1, 1})}}), "conv"));
  g.nodes.push_back(Named(MakeNode("BatchNormalization", {"C", "scale", "beta", "mean", "var"},
                                   {"N"}, {{"epsilon", AttrFloat(1e-3f)}}),
                          "bn"));
  g.nodes.push_back(Named(MakeNode("Relu", {"N"}, {"R"}), "relu"));
  g.nodes.push_back(Named(MakeNode("Conv", {"R", "W2"}, {"C2"}), "conv2"));
  g.nodes.push_back(
      Named(MakeNode("BatchNormalization", {"C2", "scale", "beta", "mean", "var"}, {"N2"}), "bn2"));
  g.nodes.push_back(Named(MakeNode("Add", {"N2", "C2"}, {"Y"}), "add"));
  g.outputs.push_back(F32("Y", {1, 4, 6, 6}));
  return g;
}

Result<std::vector<Tensor>> RunOnCpu(const Graph& graph, const std::vector<Tensor>& inputs) {
  UH_ASSIGN_OR_RETURN(
      std::shared_ptr<hal::Executable> exe,
      hal::CompileWithKernels(graph, unihal::testing::AllCpuKernels(), hal::ThreadPool::Process()));
  std::vector<Tensor> outputs;
  UH_RETURN_IF_ERROR(exe->Run(inputs, outputs));
  return outputs;
}

TEST(FoldBatchNormIntoConvTest, FoldsTheSoleReaderAndStaysEquivalent) {
  const Graph original = ConvBatchNormGraph();
  Graph folded = original;
  ASSERT_TRUE(FoldBatchNormIntoConv(folded).ok());
  ASSERT_TRUE(RemoveDeadNodes(folded).ok());
  EXPECT_EQ(NodeNames(folded), (std::vector<std::string>{"conv", "relu", "conv2", "bn2", "add"}));
  EXPECT_EQ(folded.nodes[0].outputs[0], "N");
  EXPECT_FALSE(folded.initializers.count("W"));  // replaced by the folded weights
  const Tensor x = RandomTensor(DType::kF32, {1, 3, 6, 6}, 8);
  Result<std::vector<Tensor>> before = RunOnCpu(original, {x});
  Result<std::vector<Tensor>> after = RunOnCpu(folded, {x});
  ASSERT_TRUE(before.ok() && after.ok()) << before.status().ToString() << after.status().ToString();
  EXPECT_TRUE(AllClose((*after)[0], (*before)[0], 1e-5, 1e-5));
}

TEST(FoldBatchNormIntoConvTest, LeavesNonConstantOrTrainingBatchNormAlone) {
  Graph g = ConvBatchNormGraph();
  g.inputs.push_back(F32("runtime_scale", {4}));
  g.nodes[1].inputs[1] = "runtime_scale";
  Graph training = ConvBatchNormGraph();
  training.nodes[1].attributes["training_mode"] = AttrInt(1);
  ASSERT_TRUE(FoldBatchNormIntoConv(g).ok());
  ASSERT_TRUE(FoldBatchNormIntoConv(training).ok());
  EXPECT_EQ(g.nodes.size(), 6u);
  EXPECT_EQ(training.nodes.size(), 6u);
}

TEST(FoldBatchNormIntoConvTest, FoldsExclusiveWeightsInPlaceAndSharedOnesIntoACopy) {
  // `shared` holds W's storage too (as a cached model would): its W must keep its values.
  const Graph shared = ConvBatchNormGraph();
  const Tensor w_before = *shared.initializers.at("W").Clone();
  Graph copy = shared;
  ASSERT_TRUE(FoldBatchNormIntoConv(copy).ok());
  EXPECT_TRUE(AllClose(shared.initializers.at("W"), w_before, 0, 0));
  // The sole holder of its weights gets the same folded values, written over W's storage.
  Graph exclusive = ConvBatchNormGraph();
  const void* w_storage = exclusive.initializers.at("W").data();
  ASSERT_TRUE(FoldBatchNormIntoConv(exclusive).ok());
  EXPECT_FALSE(exclusive.initializers.count("W"));  // its old values are gone
  const std::string folded_name = exclusive.nodes[0].inputs[1];
  ASSERT_EQ(folded_name, copy.nodes[0].inputs[1]);
  EXPECT_EQ(exclusive.initializers.at(folded_name).data(), w_storage);
  EXPECT_NE(copy.initializers.at(folded_name).data(), shared.initializers.at("W").data());
  EXPECT_TRUE(
      AllClose(exclusive.initializers.at(folded_name), copy.initializers.at(folded_name), 0, 0));
  // A weight two convs read is never written in place.
  Graph two_readers = ConvBatchNormGraph();
  two_readers.nodes.push_back(Named(MakeNode("Conv", {"X", "W"}, {"C3"}), "conv3"));
  two_readers.outputs.push_back(F32("C3", {1, 4, 4, 4}));
  ASSERT_TRUE(FoldBatchNormIntoConv(two_readers).ok());
  EXPECT_TRUE(AllClose(two_readers.initializers.at("W"), w_before, 0, 0));
}

}  // namespace
}  // namespace unihal::ir
