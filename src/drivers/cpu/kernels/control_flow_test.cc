#include <gtest/gtest.h>

#include "onnx/test_model_builder.h"
#include "testing/op_test_util.h"
#include "unihal/session.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrInts;
using ::unihal::testing::AttrTensor;
using ::unihal::testing::ElementAsDouble;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;

ir::ValueInfo Value(std::string name, DType dtype = DType::kUndefined,
                    std::optional<Shape> shape = std::nullopt) {
  ir::ValueInfo info{std::move(name), dtype, std::nullopt};
  if (shape) {
    info.shape = ir::SymbolicShape();
    for (int64_t d : *shape) info.shape->push_back(ir::Dim::Static(d));
  }
  return info;
}

ir::Attribute Subgraph(std::string name, std::vector<ir::ValueInfo> inputs,
                       std::vector<ir::Node> nodes, std::vector<ir::ValueInfo> outputs) {
  auto graph = std::make_shared<ir::Graph>();
  graph->name = std::move(name);
  graph->inputs = std::move(inputs);
  graph->nodes = std::move(nodes);
  graph->outputs = std::move(outputs);
  return ir::Attribute(std::shared_ptr<const ir::Graph>(std::move(graph)));
}

Result<std::vector<Tensor>> RunControlFlow(const ir::Node& node,
                                           const std::vector<Tensor>& inputs) {
  return RunNode(AllCpuKernels(), node, inputs);
}

void ExpectError(const Result<std::vector<Tensor>>& result, StatusCode code,
                 const std::string& fragment) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), code) << result.status().ToString();
  EXPECT_NE(result.status().message().find(fragment), std::string::npos)
      << result.status().ToString();
}

Tensor Bool(bool v) { return Tensor::Scalar<bool>(v); }
Tensor I64(int64_t v) { return Tensor::Scalar<int64_t>(v); }

// cond ? x + y : x - y, where the branches read x and y from the enclosing graph (the node
// lists them after cond, as the loader does).
ir::Node AddOrSubIf() {
  return MakeNode("If", {"cond", "x", "y"}, {"out"},
                  {{"then_branch",
                    Subgraph("then", {}, {MakeNode("Add", {"x", "y"}, {"sum"})}, {Value("sum")})},
                   {"else_branch", Subgraph("else", {}, {MakeNode("Sub", {"x", "y"}, {"diff"})},
                                            {Value("diff")})}},
                  16);
}

TEST(ControlFlowTest, IfRunsTheChosenBranchOnOuterValues) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3}, 1);
  const Tensor y = RandomTensor(DType::kF32, {2, 3}, 2);
  for (bool cond : {true, false}) {
    Result<std::vector<Tensor>> out = RunControlFlow(AddOrSubIf(), {Bool(cond), x, y});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    Tensor expected = *Tensor::Allocate(DType::kF32, {2, 3});
    for (int64_t i = 0; i < 6; ++i) {
      const double a = ElementAsDouble(x, i), b = ElementAsDouble(y, i);
      expected.data_as<float>()[i] = static_cast<float>(cond ? a + b : a - b);
    }
    EXPECT_TRUE(AllClose((*out)[0], expected));
  }
}

TEST(ControlFlowTest, IfErrorsNameTheNode) {
  const Tensor x = RandomTensor(DType::kF32, {2}, 3);
  ExpectError(
      RunControlFlow(AddOrSubIf(), {Tensor::Scalar<float>(1), x, x}), StatusCode::kInvalidArgument,
      "node 'If_under_test' (If): cond must be a bool tensor with one element, got float32[]");
  ExpectError(RunControlFlow(AddOrSubIf(), {Tensor::FromVector<bool>({2}, {true, false}), x, x}),
              StatusCode::kInvalidArgument, "cond must be a bool tensor with one element");
  ir::Node two_outputs = AddOrSubIf();
  two_outputs.outputs.push_back("extra");
  ExpectError(RunControlFlow(two_outputs, {Bool(true), x, x}), StatusCode::kInvalidArgument,
              "node 'If_under_test' (If) has 2 outputs, but branch 'then' gives 1");
  ir::Node missing_outer = AddOrSubIf();
  missing_outer.inputs = {"cond"};
  ExpectError(RunControlFlow(missing_outer, {Bool(true)}), StatusCode::kInvalidArgument,
              "its subgraphs read 'x', 'y' from the enclosing graph");
}

// Loop body: (i, cond_in, acc) -> (cond_out = i < limit, acc + scale * i, scan = acc + scale*i)
// with `scale` read from the enclosing graph.
ir::Node AccumulateLoop(std::vector<std::string> node_inputs, int64_t limit) {
  std::vector<ir::Node> body = {
      MakeNode("Constant", {}, {"limit"}, {{"value", AttrTensor(I64(limit))}}),
      MakeNode("Less", {"i", "limit"}, {"keep_going"}),
      MakeNode("Cast", {"i"}, {"i_float"}, {{"to", AttrInt(1)}}),
      MakeNode("Mul", {"i_float", "scale"}, {"step"}),
      MakeNode("Add", {"acc", "step"}, {"acc_out"}),
      MakeNode("Identity", {"acc_out"}, {"scan_out"}),
  };
  node_inputs.push_back("scale");
  return MakeNode("Loop", std::move(node_inputs), {"acc_final", "scans"},
                  {{"body", Subgraph("body",
                                     {Value("i", DType::kI64, Shape{}),
                                      Value("cond_in", DType::kBool, Shape{}), Value("acc")},
                                     std::move(body),
                                     {Value("keep_going"), Value("acc_out"),
                                      Value("scan_out", DType::kF32, Shape{2})})}},
                  16);
}

// The accumulator after each of `iterations` iterations.
std::vector<std::vector<double>> Accumulate(const Tensor& initial, const Tensor& scale,
                                            int64_t iterations) {
  std::vector<double> acc = {ElementAsDouble(initial, 0), ElementAsDouble(initial, 1)};
  std::vector<std::vector<double>> history;
  for (int64_t i = 0; i < iterations; ++i) {
    for (int64_t e = 0; e < 2; ++e) {
      acc[static_cast<size_t>(e)] += static_cast<double>(i) * ElementAsDouble(scale, e);
    }
    history.push_back(acc);
  }
  return history;
}

void ExpectLoopResult(const std::vector<Tensor>& out, const std::vector<std::vector<double>>& h) {
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[1].shape(), (Shape{static_cast<int64_t>(h.size()), 2}));
  for (size_t i = 0; i < h.size(); ++i) {
    for (int64_t e = 0; e < 2; ++e) {
      EXPECT_NEAR(ElementAsDouble(out[1], static_cast<int64_t>(i) * 2 + e), h[i][e], 1e-5);
    }
  }
  for (int64_t e = 0; e < 2; ++e) EXPECT_NEAR(ElementAsDouble(out[0], e), h.back()[e], 1e-5);
}

TEST(ControlFlowTest, LoopStopsAtTripCountOrCondition) {
  const Tensor initial = RandomTensor(DType::kF32, {2}, 4);
  const Tensor scale = RandomTensor(DType::kF32, {2}, 5);
  // For loop: M = 3; the body's condition (i < 1) is ignored without a cond input.
  Result<std::vector<Tensor>> for_loop =
      RunControlFlow(AccumulateLoop({"M", "", "acc0"}, 1), {I64(3), Tensor(), initial, scale});
  ASSERT_TRUE(for_loop.ok()) << for_loop.status().ToString();
  ExpectLoopResult(*for_loop, Accumulate(initial, scale, 3));
  // While loop: runs until i < 4 is false after iteration 4, i.e. 5 iterations.
  Result<std::vector<Tensor>> while_loop = RunControlFlow(AccumulateLoop({"", "cond", "acc0"}, 4),
                                                          {Tensor(), Bool(true), initial, scale});
  ASSERT_TRUE(while_loop.ok()) << while_loop.status().ToString();
  ExpectLoopResult(*while_loop, Accumulate(initial, scale, 5));
  // Both: the trip count ends it first.
  Result<std::vector<Tensor>> both = RunControlFlow(AccumulateLoop({"M", "cond", "acc0"}, 10),
                                                    {I64(2), Bool(true), initial, scale});
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  ExpectLoopResult(*both, Accumulate(initial, scale, 2));
}

TEST(ControlFlowTest, LoopWithZeroIterationsGivesInitialValuesAndEmptyScans) {
  const Tensor initial = RandomTensor(DType::kF32, {2}, 6);
  Result<std::vector<Tensor>> out = RunControlFlow(AccumulateLoop({"M", "cond", "acc0"}, 10),
                                                   {I64(0), Bool(true), initial, initial});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(AllClose((*out)[0], initial));
  EXPECT_EQ((*out)[1].shape(), (Shape{0, 2}));
  EXPECT_EQ((*out)[1].dtype(), DType::kF32);
}

TEST(ControlFlowTest, LoopCarriedValuesMayChangeShape) {
  // v = Concat(v, v) each iteration: [1] -> [2] -> [4] -> [8].
  ir::Node loop = MakeNode(
      "Loop", {"M", "", "v0"}, {"v_final"},
      {{"body", Subgraph("grow", {Value("i"), Value("c"), Value("v")},
                         {MakeNode("Concat", {"v", "v"}, {"v_out"}, {{"axis", AttrInt(0)}}),
                          MakeNode("Identity", {"c"}, {"c_out"})},
                         {Value("c_out"), Value("v_out")})}},
      13);
  Result<std::vector<Tensor>> out =
      RunControlFlow(loop, {I64(3), Tensor(), Tensor::FromVector<float>({1}, {2.5f})});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(AllClose((*out)[0], Tensor::FromVector<float>({8}, std::vector<float>(8, 2.5f))));
}

TEST(ControlFlowTest, LoopErrorsNameTheNode) {
  const Tensor v = RandomTensor(DType::kF32, {2}, 7);
  ExpectError(RunControlFlow(AccumulateLoop({"", "", "acc0"}, 1), {Tensor(), Tensor(), v, v}),
              StatusCode::kInvalidArgument,
              "node 'Loop_under_test' (Loop) has neither M nor cond, so it would never stop");
  ExpectError(RunControlFlow(AccumulateLoop({"M", "", "acc0"}, 1),
                             {Tensor::Scalar<int32_t>(2), Tensor(), v, v}),
              StatusCode::kInvalidArgument, "M must be an int64 tensor with one element");
  // A body whose condition output is a float.
  ir::Node float_cond = MakeNode(
      "Loop", {"M", "", "v0"}, {"v_final"},
      {{"body", Subgraph("b", {Value("i"), Value("c"), Value("v")},
                         {MakeNode("Identity", {"v"}, {"v_out"})}, {Value("v"), Value("v_out")})}},
      13);
  ExpectError(
      RunControlFlow(float_cond, {I64(2), Tensor(), v}), StatusCode::kInvalidArgument,
      "node 'Loop_under_test' (Loop): the body's condition must be a bool tensor with one element, "
      "got float32[2]");
  ir::Node extra_output = AccumulateLoop({"M", "", "acc0"}, 1);
  extra_output.outputs.push_back("extra");
  ExpectError(
      RunControlFlow(extra_output, {I64(1), Tensor(), v, v}), StatusCode::kInvalidArgument,
      "node 'Loop_under_test' (Loop) has 3 outputs, but the body (after its condition) gives 2");
  ir::Node missing_initial = AccumulateLoop({"M", ""}, 1);
  ExpectError(RunControlFlow(missing_initial, {I64(1), Tensor(), v}), StatusCode::kInvalidArgument,
              "node 'Loop_under_test' (Loop) has 2 inputs, but its body has 1 loop-carried values");
}

// Scan body: (sum, a, b) -> (sum + a * b, sum + a * b).
ir::Attribute MultiplyAccumulateBody() {
  return Subgraph("mac", {Value("sum"), Value("a"), Value("b")},
                  {MakeNode("Mul", {"a", "b"}, {"ab"}), MakeNode("Add", {"sum", "ab"}, {"next"}),
                   MakeNode("Identity", {"next"}, {"scan"})},
                  {Value("next"), Value("scan")});
}

TEST(ControlFlowTest, ScanAxesAndDirections) {
  // a: [3, 2] scanned along axis 0 forward; b: [2, 3] scanned along axis 1 (as -1) in reverse;
  // the scan output [2] per step is stacked along axis 1 in reverse: [2, 3].
  const Tensor init = RandomTensor(DType::kF64, {2}, 8);
  const Tensor a = RandomTensor(DType::kF64, {3, 2}, 9);
  const Tensor b = RandomTensor(DType::kF64, {2, 3}, 10);
  ir::Node scan = MakeNode("Scan", {"init", "a", "b"}, {"final", "stacked"},
                           {{"body", MultiplyAccumulateBody()},
                            {"num_scan_inputs", AttrInt(2)},
                            {"scan_input_axes", AttrInts({0, -1})},
                            {"scan_input_directions", AttrInts({0, 1})},
                            {"scan_output_axes", AttrInts({1})},
                            {"scan_output_directions", AttrInts({1})}},
                           16);
  Result<std::vector<Tensor>> out = RunControlFlow(scan, {init, a, b});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::vector<double> sum = {ElementAsDouble(init, 0), ElementAsDouble(init, 1)};
  Tensor expected_stack = *Tensor::Allocate(DType::kF64, {2, 3});
  for (int64_t t = 0; t < 3; ++t) {
    for (int64_t e = 0; e < 2; ++e) {
      sum[e] += ElementAsDouble(a, t * 2 + e) * ElementAsDouble(b, e * 3 + (2 - t));
      expected_stack.data_as<double>()[e * 3 + (2 - t)] = sum[e];
    }
  }
  EXPECT_TRUE(AllClose((*out)[0], Tensor::FromVector<double>({2}, sum)));
  EXPECT_TRUE(AllClose((*out)[1], expected_stack));
}

TEST(ControlFlowTest, ScanOpset8RunsEachBatchEntry) {
  // [batch 2, seq 3, 2] inputs, [2, 2] state: a cumulative sum per batch entry.
  const Tensor init = RandomTensor(DType::kF32, {2, 2}, 11);
  const Tensor a = RandomTensor(DType::kF32, {2, 3, 2}, 12);
  const Tensor ones = Tensor::FromVector<float>({2, 3, 2}, std::vector<float>(12, 1.0f));
  ir::Node scan =
      MakeNode("Scan", {"", "init", "a", "b"}, {"final", "stacked"},
               {{"body", MultiplyAccumulateBody()}, {"num_scan_inputs", AttrInt(2)}}, 8);
  Result<std::vector<Tensor>> out = RunControlFlow(scan, {Tensor(), init, a, ones});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)[1].shape(), (Shape{2, 3, 2}));
  for (int64_t batch = 0; batch < 2; ++batch) {
    for (int64_t e = 0; e < 2; ++e) {
      double sum = ElementAsDouble(init, batch * 2 + e);
      for (int64_t t = 0; t < 3; ++t) {
        sum += ElementAsDouble(a, batch * 6 + t * 2 + e);
        EXPECT_NEAR(ElementAsDouble((*out)[1], batch * 6 + t * 2 + e), sum, 1e-5);
      }
      EXPECT_NEAR(ElementAsDouble((*out)[0], batch * 2 + e), sum, 1e-5);
    }
  }
  scan.inputs[0] = "sequence_lens";
  ExpectError(RunControlFlow(scan, {Tensor::FromVector<int64_t>({2}, {3, 2}), init, a, ones}),
              StatusCode::kUnimplemented, "sequence_lens shorter than the sequence (2 of 3)");
}

TEST(ControlFlowTest, ScanErrorsNameTheNode) {
  const Tensor init = RandomTensor(DType::kF32, {2}, 13);
  ir::Node scan =
      MakeNode("Scan", {"init", "a", "b"}, {"final", "stacked"},
               {{"body", MultiplyAccumulateBody()}, {"num_scan_inputs", AttrInt(2)}}, 11);
  ExpectError(
      RunControlFlow(scan, {init, RandomTensor(DType::kF32, {3, 2}, 14),
                            RandomTensor(DType::kF32, {4, 2}, 15)}),
      StatusCode::kInvalidArgument,
      "node 'Scan_under_test' (Scan): scan inputs have different sequence lengths (3 and 4)");
  scan.attributes["scan_input_directions"] = AttrInts({0, 2});
  ExpectError(RunControlFlow(scan, {init, init, init}), StatusCode::kInvalidArgument,
              "node 'Scan_under_test' (Scan): attribute 'scan_input_directions' entries must be 0 "
              "(forward) or 1 (reverse), got 2");
  scan.attributes["num_scan_inputs"] = AttrInt(4);
  ExpectError(RunControlFlow(scan, {init, init, init}), StatusCode::kInvalidArgument,
              "num_scan_inputs is 4 but the body takes 3 inputs");
}

// Through the loader: a Loop whose body holds an If that reads `bias` from the main graph, two
// scopes up. The loader lists `bias` as an implicit input of both the Loop and the If.
TEST(ControlFlowTest, NestedSubgraphsReadMainGraphValuesThroughTheLoader) {
  namespace tb = ::unihal::onnx_import::testing;
  using onnx::AttributeProto;
  using onnx::TensorProto;
  onnx::ModelProto model = tb::NewModel(16);
  onnx::GraphProto* g = model.mutable_graph();
  tb::AddInput(g, "x", TensorProto::FLOAT, {2});
  tb::AddInput(g, "b", TensorProto::FLOAT, {2});
  tb::AddInput(g, "M", TensorProto::INT64, {});
  tb::AddNode(g, "Neg", {"b"}, {"bias"});
  onnx::GraphProto then_branch, else_branch, body;
  then_branch.set_name("then");
  tb::AddNode(&then_branch, "Add", {"v", "bias"}, {"t"});
  tb::AddOutput(&then_branch, "t", TensorProto::FLOAT, {2});
  else_branch.set_name("else");
  tb::AddNode(&else_branch, "Identity", {"v"}, {"e"});
  tb::AddOutput(&else_branch, "e", TensorProto::FLOAT, {2});
  body.set_name("body");
  tb::AddInput(&body, "i", TensorProto::INT64, {});
  tb::AddInput(&body, "c", TensorProto::BOOL, {});
  tb::AddInput(&body, "v", TensorProto::FLOAT, {2});
  tb::AddInitializer(&body, "two", Tensor::Scalar<int64_t>(2));
  tb::AddNode(&body, "Mod", {"i", "two"}, {"parity"});
  tb::AddNode(&body, "Cast", {"parity"}, {"odd"});
  tb::SetIntAttr(body.mutable_node(1), "to", TensorProto::BOOL);
  auto* branch = tb::AddNode(&body, "If", {"odd"}, {"v_out"}, "inner_if");
  *tb::AddAttr(branch, "then_branch", AttributeProto::GRAPH)->mutable_g() = then_branch;
  *tb::AddAttr(branch, "else_branch", AttributeProto::GRAPH)->mutable_g() = else_branch;
  tb::AddNode(&body, "Identity", {"c"}, {"c_out"});
  tb::AddOutput(&body, "c_out", TensorProto::BOOL, {});
  tb::AddOutput(&body, "v_out", TensorProto::FLOAT, {2});
  auto* loop = tb::AddNode(g, "Loop", {"M", "", "x"}, {"y"}, "loop");
  *tb::AddAttr(loop, "body", AttributeProto::GRAPH)->mutable_g() = body;
  tb::AddOutput(g, "y", TensorProto::FLOAT, {2});

  static const std::shared_ptr<Runtime> runtime = *Runtime::Create();
  Result<std::unique_ptr<Session>> session = Session::LoadFromBytes(runtime, tb::Serialize(model));
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  const Tensor x = RandomTensor(DType::kF32, {2}, 16);
  const Tensor b = RandomTensor(DType::kF32, {2}, 17);
  // Iterations 1, 3 and 5 of 0..5 add -b: y = x - 3b.
  Result<std::vector<Tensor>> out = (*session)->Run({{"x", x}, {"b", b}, {"M", I64(6)}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  Tensor expected = *Tensor::Allocate(DType::kF32, {2});
  for (int64_t e = 0; e < 2; ++e) {
    expected.data_as<float>()[e] =
        static_cast<float>(ElementAsDouble(x, e) - 3 * ElementAsDouble(b, e));
  }
  EXPECT_TRUE(AllClose((*out)[0], expected));
}

}  // namespace
}  // namespace unihal::cpu
