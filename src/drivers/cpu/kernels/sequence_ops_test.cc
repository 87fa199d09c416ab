// Sequence, optional and SequenceMap kernels, and sequences through If and Loop, against
// hand-computed results; error paths name the node.
#include <gtest/gtest.h>

#include "drivers/cpu/cpu_kernels.h"
#include "testing/op_test_util.h"
#include "unihal/hal/kernel_executable.h"
#include "unihal/hal/thread_pool.h"
#include "unihal/value.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrInt;
using ::unihal::testing::MakeNode;

ir::ValueInfo Info(std::string name, ir::TypeKind kind = ir::TypeKind::kTensor,
                   DType dtype = DType::kUndefined) {
  ir::ValueInfo info{std::move(name), dtype, std::nullopt};
  info.kind = kind;
  return info;
}

Tensor F32(Shape shape, std::vector<float> values) {
  return Tensor::FromVector<float>(std::move(shape), values);
}
Tensor I64(int64_t v) { return Tensor::Scalar<int64_t>(v); }

Value Sequence(std::vector<Tensor> elements) {
  return *Value::Sequence(DType::kUndefined, std::move(elements));
}

// Compiles `nodes` as one graph with the cpu kernels and runs it once.
Result<std::vector<Value>> RunGraph(std::vector<ir::Node> nodes, std::vector<ir::ValueInfo> inputs,
                                    std::vector<std::string> outputs,
                                    const std::vector<Value>& values,
                                    const hal::KernelRegistry& registry = AllCpuKernels()) {
  ir::Graph graph;
  graph.name = "test";
  graph.nodes = std::move(nodes);
  graph.inputs = std::move(inputs);
  for (std::string& out : outputs) graph.outputs.push_back(Info(std::move(out)));
  UH_ASSIGN_OR_RETURN(std::shared_ptr<hal::Executable> exe,
                      hal::CompileWithKernels(graph, registry, hal::ThreadPool::Process()));
  std::vector<Value> results;
  UH_RETURN_IF_ERROR(exe->RunValues(values, results));
  return results;
}

std::vector<float> Floats(const Tensor& t) {
  return std::vector<float>(t.data_as<float>(), t.data_as<float>() + t.num_elements());
}

void ExpectError(const Status& status, StatusCode code, const std::string& fragment) {
  EXPECT_EQ(status.code(), code) << status.ToString();
  EXPECT_NE(status.message().find(fragment), std::string::npos) << status.ToString();
}

TEST(SequenceOpsTest, SplitToSequenceByChunkSizeThenConcatBack) {
  // [[0 1 2 3 4], [5 6 7 8 9]] in chunks of 2 along axis 1: [2x2, 2x2, 2x1].
  const Tensor x = F32({2, 5}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  Result<std::vector<Value>> out =
      RunGraph({MakeNode("SplitToSequence", {"x", "split"}, {"seq"}, {{"axis", AttrInt(1)}}),
                MakeNode("ConcatFromSequence", {"seq"}, {"y"}, {{"axis", AttrInt(1)}})},
               {Info("x"), Info("split")}, {"seq", "y"}, {x, I64(2)});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const Value& seq = (*out)[0];
  ASSERT_TRUE(seq.is_sequence());
  ASSERT_EQ(seq.elements().size(), 3u);
  EXPECT_EQ(seq.elements()[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Floats(seq.elements()[0]), (std::vector<float>{0, 1, 5, 6}));
  EXPECT_EQ(Floats(seq.elements()[1]), (std::vector<float>{2, 3, 7, 8}));
  EXPECT_EQ(seq.elements()[2].shape(), (Shape{2, 1}));
  EXPECT_EQ(Floats(seq.elements()[2]), (std::vector<float>{4, 9}));
  ASSERT_TRUE((*out)[1].is_tensor());
  EXPECT_EQ((*out)[1].tensor().shape(), (Shape{2, 5}));
  EXPECT_EQ(Floats((*out)[1].tensor()), Floats(x));
}

TEST(SequenceOpsTest, SplitWithoutSizesDropsTheAxisAndConcatNewAxisStacks) {
  const Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  Result<std::vector<Value>> out =
      RunGraph({MakeNode("SplitToSequence", {"x"}, {"rows"}, {{"keepdims", AttrInt(0)}}),
                MakeNode("ConcatFromSequence", {"rows"}, {"stacked"},
                         {{"axis", AttrInt(-1)}, {"new_axis", AttrInt(1)}})},
               {Info("x")}, {"rows", "stacked"}, {x});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)[0].elements().size(), 2u);
  EXPECT_EQ((*out)[0].elements()[1].shape(), (Shape{3}));
  EXPECT_EQ(Floats((*out)[0].elements()[1]), (std::vector<float>{4, 5, 6}));
  // Stacking the rows [1 2 3] and [4 5 6] along a new last axis gives the transpose.
  EXPECT_EQ((*out)[1].tensor().shape(), (Shape{3, 2}));
  EXPECT_EQ(Floats((*out)[1].tensor()), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(SequenceOpsTest, InsertAtEraseAndLength) {
  const Tensor a = F32({1}, {1}), b = F32({2}, {2, 2}), c = F32({3}, {3, 3, 3});
  // construct (a, b) -> insert c at 0 -> (c, a, b) -> erase -1 -> (c, a); at(-1) is a.
  Result<std::vector<Value>> out = RunGraph(
      {MakeNode("SequenceConstruct", {"a", "b"}, {"s0"}),
       MakeNode("SequenceInsert", {"s0", "c", "zero"}, {"s1"}),
       MakeNode("SequenceErase", {"s1"}, {"s2"}), MakeNode("SequenceLength", {"s2"}, {"n"}),
       MakeNode("SequenceAt", {"s2", "minus_one"}, {"last"})},
      {Info("a"), Info("b"), Info("c"), Info("zero"), Info("minus_one")}, {"s1", "s2", "n", "last"},
      {a, b, c, I64(0), Tensor::Scalar<int32_t>(-1)});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const std::vector<Tensor>& s1 = (*out)[0].elements();
  ASSERT_EQ(s1.size(), 3u);
  EXPECT_EQ(s1[0].shape(), (Shape{3}));
  EXPECT_EQ(s1[1].data(), a.data());  // elements are shared, not copied
  EXPECT_EQ((*out)[1].elements().size(), 2u);
  EXPECT_EQ(*(*out)[2].tensor().data_as<int64_t>(), 2);
  EXPECT_EQ(Floats((*out)[3].tensor()), (std::vector<float>{1}));
}

TEST(SequenceOpsTest, EmptySequenceTakesItsDtypeAttribute) {
  Result<std::vector<Value>> out =
      RunGraph({MakeNode("SequenceEmpty", {}, {"empty"}, {{"dtype", AttrInt(7)}}),  // int64
                MakeNode("SequenceLength", {"empty"}, {"n"})},
               {}, {"empty", "n"}, {});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE((*out)[0].is_sequence());
  EXPECT_EQ((*out)[0].element_dtype(), DType::kI64);
  EXPECT_EQ(*(*out)[1].tensor().data_as<int64_t>(), 0);
}

TEST(SequenceOpsTest, TensorRunNamesAnOutputThatIsASequence) {
  ir::Graph graph;
  graph.name = "g";
  graph.inputs = {Info("x")};
  graph.nodes = {MakeNode("SequenceConstruct", {"x"}, {"seq"})};
  graph.outputs = {Info("seq")};  // type unknown until it runs
  Result<std::shared_ptr<hal::Executable>> exe =
      hal::CompileWithKernels(graph, AllCpuKernels(), hal::ThreadPool::Process());
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  std::vector<Tensor> outputs;
  const Status status = (*exe)->Run(std::vector<Tensor>{F32({1}, {1})}, outputs);
  ExpectError(status, StatusCode::kInvalidArgument,
              "output 'seq' of subgraph 'g' is sequence<float32>(float32[1]), not a tensor; run "
              "the model with Session::RunValues");
}

TEST(SequenceOpsTest, SequenceAtOutOfRangeNamesTheNode) {
  ir::Node at = MakeNode("SequenceAt", {"s", "i"}, {"y"});
  at.name = "pick";
  Result<std::vector<Value>> out =
      RunGraph({at}, {Info("s", ir::TypeKind::kSequence), Info("i")}, {"y"},
               {Sequence({F32({1}, {1}), F32({1}, {2})}), I64(2)});
  ASSERT_FALSE(out.ok());
  ExpectError(out.status(), StatusCode::kOutOfRange,
              "node 'pick' (SequenceAt): position 2 is out of range for a sequence of 2 "
              "elements (valid: -2..1)");
}

TEST(SequenceOpsTest, WrongValueKindsAreRefused) {
  // A tensor where a sequence belongs.
  Result<std::vector<Value>> at = RunGraph({MakeNode("SequenceAt", {"s", "i"}, {"y"})},
                                           {Info("s"), Info("i")}, {"y"}, {F32({1}, {1}), I64(0)});
  ASSERT_FALSE(at.ok());
  ExpectError(at.status(), StatusCode::kInvalidArgument,
              "input 0 ('s') must be a sequence, got float32[1]");
  // A sequence into a tensor kernel whose input type was not known when it was compiled.
  Result<std::vector<Value>> relu =
      RunGraph({MakeNode("Relu", {"s"}, {"y"})}, {Info("s")}, {"y"}, {Sequence({F32({1}, {1})})});
  ASSERT_FALSE(relu.ok());
  ExpectError(relu.status(), StatusCode::kInvalidArgument,
              "input 0 is sequence<float32>(float32[1]), but Relu takes and gives tensors only");
  // Known statically, the registry refuses it before any kernel is made.
  ir::Graph graph;
  graph.inputs = {Info("s", ir::TypeKind::kSequence, DType::kF32)};
  const ir::Node node = MakeNode("Relu", {"s"}, {"y"});
  hal::SupportResult support = AllCpuKernels().Supports(hal::KernelCreateInfo{node, graph});
  EXPECT_FALSE(support.supported);
  EXPECT_NE(support.reason.find("input s: sequence(float32[unknown rank]), but this kernel takes "
                                "and gives tensors only"),
            std::string::npos)
      << support.reason;
  // An empty optional has no element.
  Result<std::vector<Value>> get =
      RunGraph({MakeNode("OptionalGetElement", {"o"}, {"y"}, {}, 18)},
               {Info("o", ir::TypeKind::kOptionalTensor)}, {"y"}, {Value::None()});
  ASSERT_FALSE(get.ok());
  ExpectError(get.status(), StatusCode::kInvalidArgument, "is an empty optional (none)");
}

TEST(SequenceOpsTest, TensorOnlyRegistryRefusesSequences) {
  hal::KernelRegistry registry;
  RegisterReferenceCpuKernels(registry);
  registry.SetTensorValuesOnly("npu-under-test");
  ir::Graph graph;
  graph.inputs = {Info("s", ir::TypeKind::kSequence, DType::kF32)};
  const ir::Node identity = MakeNode("Identity", {"s"}, {"y"});
  hal::SupportResult support = registry.Supports(hal::KernelCreateInfo{identity, graph});
  EXPECT_FALSE(support.supported);
  EXPECT_EQ(support.reason,
            "the device holds tensor values only (no sequences or optionals); input s: "
            "sequence(float32[unknown rank])");
  // Types unknown at compile time: refused when the sequence arrives.
  Result<std::vector<Value>> out =
      RunGraph({identity}, {Info("s")}, {"y"}, {Sequence({F32({1}, {1})})}, registry);
  ASSERT_FALSE(out.ok());
  ExpectError(out.status(), StatusCode::kUnimplemented, "npu-under-test holds tensor values only");
  // Tensors still pass.
  Result<std::vector<Value>> tensor =
      RunGraph({identity}, {Info("s")}, {"y"}, {F32({1}, {5})}, registry);
  ASSERT_TRUE(tensor.ok()) << tensor.status().ToString();
  EXPECT_EQ(Floats((*tensor)[0].tensor()), (std::vector<float>{5}));
}

TEST(SequenceOpsTest, OptionalWrapsAndTellsIfItHoldsSomething) {
  ir::Attribute type(ir::ValueInfo{"", DType::kF32, std::nullopt});
  Result<std::vector<Value>> out = RunGraph(
      {MakeNode("Optional", {"x"}, {"some"}, {}, 18),
       MakeNode("Optional", {}, {"empty"}, {{"type", type}}, 18),
       MakeNode("OptionalHasElement", {"some"}, {"has_some"}, {}, 18),
       MakeNode("OptionalHasElement", {"empty"}, {"has_empty"}, {}, 18),
       MakeNode("OptionalHasElement", {}, {"has_absent"}, {}, 18),
       MakeNode("OptionalGetElement", {"some"}, {"got"}, {}, 18)},
      {Info("x")}, {"empty", "has_some", "has_empty", "has_absent", "got"}, {F32({2}, {1, 2})});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE((*out)[0].is_none());
  EXPECT_TRUE(*(*out)[1].tensor().data_as<bool>());
  EXPECT_FALSE(*(*out)[2].tensor().data_as<bool>());
  EXPECT_FALSE(*(*out)[3].tensor().data_as<bool>());
  EXPECT_EQ(Floats((*out)[4].tensor()), (std::vector<float>{1, 2}));
}

ir::Attribute Body(std::vector<ir::ValueInfo> inputs, std::vector<ir::Node> nodes,
                   std::vector<std::string> outputs) {
  auto graph = std::make_shared<ir::Graph>();
  graph->name = "body";
  graph->inputs = std::move(inputs);
  graph->nodes = std::move(nodes);
  for (std::string& out : outputs) graph->outputs.push_back(Info(std::move(out)));
  return ir::Attribute(std::shared_ptr<const ir::Graph>(std::move(graph)));
}

TEST(SequenceOpsTest, SequenceMapRunsItsBodyPerElement) {
  // y[i] = x[i] + bias, with bias a tensor given whole to every iteration.
  const ir::Node map = MakeNode(
      "SequenceMap", {"x", "bias"}, {"y"},
      {{"body", Body({Info("e"), Info("b")}, {MakeNode("Add", {"e", "b"}, {"sum"})}, {"sum"})}});
  Result<std::vector<Value>> out =
      RunGraph({map}, {Info("x", ir::TypeKind::kSequence), Info("bias")}, {"y"},
               {Sequence({F32({2}, {1, 2}), F32({1}, {10})}), F32({1}, {0.5f})});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)[0].elements().size(), 2u);
  EXPECT_EQ(Floats((*out)[0].elements()[0]), (std::vector<float>{1.5f, 2.5f}));
  EXPECT_EQ(Floats((*out)[0].elements()[1]), (std::vector<float>{10.5f}));
}

TEST(SequenceOpsTest, LoopCarriesASequenceAndIfReturnsOne) {
  // for i in 0..2: seq = SequenceInsert(seq, i); the initial sequence is empty.
  const ir::Node loop =
      MakeNode("Loop", {"m", "", "seq"}, {"final"},
               {{"body", Body({Info("i"), Info("c"), Info("s", ir::TypeKind::kSequence)},
                              {MakeNode("Identity", {"c"}, {"c_out"}),
                               MakeNode("SequenceInsert", {"s", "i"}, {"s_out"})},
                              {"c_out", "s_out"})}},
               16);
  Result<std::vector<Value>> out =
      RunGraph({loop}, {Info("m"), Info("seq", ir::TypeKind::kSequence)}, {"final"},
               {I64(3), *Value::Sequence(DType::kI64, {})});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)[0].elements().size(), 3u);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(*(*out)[0].elements()[static_cast<size_t>(i)].data_as<int64_t>(), i);
  }
  // cond ? Optional() : SequenceConstruct(x)
  ir::Attribute none_type(ir::ValueInfo{"", DType::kF32, std::nullopt, ir::TypeKind::kSequence});
  const ir::Node if_node = MakeNode(
      "If", {"cond", "x"}, {"r"},
      {{"then_branch", Body({}, {MakeNode("Optional", {}, {"n"}, {{"type", none_type}})}, {"n"})},
       {"else_branch", Body({}, {MakeNode("SequenceConstruct", {"x"}, {"s"})}, {"s"})}},
      16);
  for (bool cond : {true, false}) {
    Result<std::vector<Value>> r = RunGraph({if_node}, {Info("cond"), Info("x")}, {"r"},
                                            {Tensor::Scalar<bool>(cond), F32({1}, {7})});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ((*r)[0].kind(), cond ? ValueKind::kNone : ValueKind::kSequence);
  }
}

}  // namespace
}  // namespace unihal::cpu
