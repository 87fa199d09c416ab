// The partitioner, the plan executor and the placement report, through Session on a runtime
// with the simulated NPU (edge-34: fp16/int8 only, a limited op set) and the cpu.
#include "planner/partitioner.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "onnx/test_model_builder.h"
#include "testing/op_test_util.h"
#include "unihal/session.h"

namespace unihal::planner {
namespace {

namespace mb = onnx_import::testing;
using unihal::testing::RandomTensor;
constexpr int32_t kF16 = onnx::TensorProto::FLOAT16;

std::shared_ptr<Runtime> RuntimeWithSimNpu() {
  static std::shared_ptr<Runtime> runtime = [] {
    RuntimeOptions options;
    options.sim_npu.profiles = {"edge-34"};
    return *Runtime::Create(options);
  }();
  return runtime;
}

// fp16: x -> Conv -> Relu -> Neg -> Reshape -> MatMul -> Relu -> y. edge-34 has no Neg, so
// it falls back to cpu in the middle; the convolution and the matrix product are heavy enough
// for the NPU to be worth its launches and copies.
std::string SplitModel() {
  onnx::ModelProto model = mb::NewModel(17);
  onnx::GraphProto* g = model.mutable_graph();
  mb::AddInput(g, "x", kF16, {1, 16, 16, 16});
  mb::AddInitializer(g, "w", RandomTensor(DType::kF16, {32, 16, 3, 3}, 1, -0.2, 0.2));
  mb::AddInitializer(g, "shape", Tensor::FromVector<int64_t>({2}, {32, 256}));
  mb::AddInitializer(g, "w2", RandomTensor(DType::kF16, {256, 256}, 2, -0.1, 0.1));
  onnx::NodeProto* conv = mb::AddNode(g, "Conv", {"x", "w"}, {"c"}, "conv");
  mb::SetIntsAttr(conv, "pads", {1, 1, 1, 1});
  mb::AddNode(g, "Relu", {"c"}, {"r"}, "relu1");
  mb::AddNode(g, "Neg", {"r"}, {"n"}, "neg");
  mb::AddNode(g, "Reshape", {"n", "shape"}, {"flat"}, "reshape");
  mb::AddNode(g, "MatMul", {"flat", "w2"}, {"m"}, "matmul");
  mb::AddNode(g, "Relu", {"m"}, {"y"}, "relu2");
  mb::AddOutput(g, "y", kF16, {32, 256});
  return mb::Serialize(model);
}

// fp16: x -> Neg -> Relu -> Neg -> y: a cheap node edge-34 could run between two it cannot.
std::string IslandModel() {
  onnx::ModelProto model = mb::NewModel(17);
  onnx::GraphProto* g = model.mutable_graph();
  mb::AddInput(g, "x", kF16, {1, 64});
  mb::AddNode(g, "Neg", {"x"}, {"a"}, "neg1");
  mb::AddNode(g, "Relu", {"a"}, {"b"}, "relu");
  mb::AddNode(g, "Neg", {"b"}, {"y"}, "neg2");
  mb::AddOutput(g, "y", kF16, {1, 64});
  return mb::Serialize(model);
}

Result<std::unique_ptr<Session>> Load(const std::string& bytes, std::vector<std::string> devices,
                                      FallbackPolicy fallback = FallbackPolicy::kAllow,
                                      const std::string& device = "cpu") {
  SessionOptions options;
  options.device = device;
  options.devices = std::move(devices);
  options.fallback = fallback;
  return Session::LoadFromBytes(RuntimeWithSimNpu(), bytes, options);
}

const NodePlacement& Placement(const Plan& plan, const std::string& node) {
  for (const NodePlacement& p : plan.nodes) {
    if (p.node == node) return p;
  }
  ADD_FAILURE() << "no placement for " << node;
  return plan.nodes.front();
}

void ExpectBitIdentical(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.nbytes()), 0);
}

TEST(PartitionerTest, SplitModelRunsLikeCpuAlone) {
  Result<std::unique_ptr<Session>> split = Load(SplitModel(), {"sim-npu", "cpu"});
  ASSERT_TRUE(split.ok()) << split.status().message();
  const Plan& plan = (*split)->plan();
  ASSERT_EQ(plan.segments.size(), 3u) << plan.ToText();
  EXPECT_EQ(plan.segments[0].device->info().id, "sim-npu:0");
  EXPECT_EQ(plan.segments[1].device->info().id, "cpu:0");
  EXPECT_EQ(plan.segments[2].device->info().id, "sim-npu:0");
  EXPECT_EQ(Placement(plan, "conv").device, "sim-npu:0");
  EXPECT_EQ(Placement(plan, "matmul").device, "sim-npu:0");
  const NodePlacement& neg = Placement(plan, "neg");
  EXPECT_EQ(neg.device, "cpu:0");
  EXPECT_TRUE(neg.fallback);
  EXPECT_EQ(neg.reason, "sim-npu: op Neg not in the edge-34 op set → cpu:0");
  ASSERT_EQ(plan.copies.size(), 2u) << plan.ToText();
  EXPECT_EQ(plan.copies[0].value, "r");
  EXPECT_EQ(plan.copies[0].from_device, "sim-npu:0");
  EXPECT_EQ(plan.copies[0].to_device, "cpu:0");
  EXPECT_EQ(plan.copies[0].bytes, 1.0 * 16 * 16 * 32 * 2);
  EXPECT_EQ(plan.copies[1].value, "n");
  EXPECT_EQ((*split)->device_id(), "sim-npu:0,cpu:0");

  Result<std::unique_ptr<Session>> cpu = Load(SplitModel(), {});
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  EXPECT_EQ((*cpu)->plan().segments.size(), 1u);
  const std::map<std::string, Tensor> inputs = {
      {"x", RandomTensor(DType::kF16, {1, 16, 16, 16}, 9)}};
  Result<std::vector<Tensor>> expected = (*cpu)->Run(inputs);
  ASSERT_TRUE(expected.ok()) << expected.status().message();
  Result<std::vector<Tensor>> actual = (*split)->Run(inputs);
  ASSERT_TRUE(actual.ok()) << actual.status().message();
  ASSERT_EQ(actual->size(), 1u);
  ExpectBitIdentical((*actual)[0], (*expected)[0]);
  // Nonzero: the comparison would pass trivially on an all-zero output.
  double sum = 0;
  for (int64_t i = 0; i < (*expected)[0].num_elements(); ++i) {
    sum += std::abs(unihal::testing::ElementAsDouble((*expected)[0], i));
  }
  EXPECT_GT(sum, 0);
}

// RunAsync follows the plan too: the task runs from the lane of the plan's first device
// (its segments on their own devices), with the same outputs as the cpu alone.
TEST(PartitionerTest, SplitModelAsyncRunsFollowThePlan) {
  Result<std::unique_ptr<Session>> split = Load(SplitModel(), {"sim-npu", "cpu"});
  ASSERT_TRUE(split.ok()) << split.status().message();
  ASSERT_EQ((*split)->plan().segments.size(), 3u);
  Result<std::unique_ptr<Session>> cpu = Load(SplitModel(), {});
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  const std::map<std::string, Tensor> inputs = {
      {"x", RandomTensor(DType::kF16, {1, 16, 16, 16}, 11)}};
  Result<std::vector<Tensor>> expected = (*cpu)->Run(inputs);
  ASSERT_TRUE(expected.ok()) << expected.status().message();
  Result<TaskHandle> task = (*split)->RunAsync(inputs);
  ASSERT_TRUE(task.ok()) << task.status().message();
  Result<std::vector<Tensor>> actual = task->Get();
  ASSERT_TRUE(actual.ok()) << actual.status().message();
  EXPECT_EQ(task->device_id(), "sim-npu:0");  // not the whole model on cpu:0
  EXPECT_EQ(task->attempts(), 1);
  ASSERT_EQ(actual->size(), 1u);
  ExpectBitIdentical((*actual)[0], (*expected)[0]);
}

TEST(PartitionerTest, ConcurrentRunsOfASplitPlanAgree) {
  Result<std::unique_ptr<Session>> split = Load(SplitModel(), {"sim-npu", "cpu"});
  ASSERT_TRUE(split.ok()) << split.status().message();
  const std::map<std::string, Tensor> inputs = {
      {"x", RandomTensor(DType::kF16, {1, 16, 16, 16}, 4)}};
  Result<std::vector<Tensor>> reference = (*split)->Run(inputs);
  ASSERT_TRUE(reference.ok()) << reference.status().message();
  std::vector<std::thread> threads;
  std::vector<Result<std::vector<Tensor>>> results(4, InternalError("not run"));
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] { results[t] = (*split)->Run(inputs); });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().message();
    ExpectBitIdentical((*r)[0], (*reference)[0]);
  }
}

// A graph input read by the first and the last segment, and an intermediate value that is both
// a graph output and read by a later segment.
TEST(PartitionerTest, SkipConnectionsAndIntermediateOutputsCrossSegments) {
  onnx::ModelProto model = mb::NewModel(17);
  onnx::GraphProto* g = model.mutable_graph();
  mb::AddInput(g, "x", kF16, {1, 16, 32, 32});
  mb::AddInitializer(g, "w1", RandomTensor(DType::kF16, {16, 16, 3, 3}, 5, -0.2, 0.2));
  mb::AddInitializer(g, "w2", RandomTensor(DType::kF16, {16, 16, 3, 3}, 6, -0.2, 0.2));
  mb::SetIntsAttr(mb::AddNode(g, "Conv", {"x", "w1"}, {"c"}, "conv1"), "pads", {1, 1, 1, 1});
  mb::AddNode(g, "Relu", {"c"}, {"r"}, "relu");
  mb::AddNode(g, "Neg", {"r"}, {"n"}, "neg");
  mb::AddNode(g, "Add", {"n", "x"}, {"a"}, "add");
  mb::SetIntsAttr(mb::AddNode(g, "Conv", {"a", "w2"}, {"y"}, "conv2"), "pads", {1, 1, 1, 1});
  mb::AddOutput(g, "y", kF16, {1, 16, 32, 32});
  mb::AddOutput(g, "r", kF16, {1, 16, 32, 32});
  const std::string bytes = mb::Serialize(model);
  Result<std::unique_ptr<Session>> split = Load(bytes, {"sim-npu", "cpu"});
  ASSERT_TRUE(split.ok()) << split.status().message();
  const Plan& plan = (*split)->plan();
  ASSERT_GE(plan.segments.size(), 3u) << plan.ToText();
  EXPECT_EQ(Placement(plan, "conv1").device, "sim-npu:0") << plan.ToText();
  EXPECT_EQ(Placement(plan, "conv2").device, "sim-npu:0") << plan.ToText();
  Result<std::unique_ptr<Session>> cpu = Load(bytes, {});
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  const std::map<std::string, Tensor> inputs = {
      {"x", RandomTensor(DType::kF16, {1, 16, 32, 32}, 7)}};
  Result<std::vector<Tensor>> expected = (*cpu)->Run(inputs);
  Result<std::vector<Tensor>> actual = (*split)->Run(inputs);
  ASSERT_TRUE(expected.ok()) << expected.status().message();
  ASSERT_TRUE(actual.ok()) << actual.status().message();
  ASSERT_EQ(actual->size(), 2u);
  ExpectBitIdentical((*actual)[0], (*expected)[0]);
  ExpectBitIdentical((*actual)[1], (*expected)[1]);
}

TEST(PartitionerTest, CheapIslandBetweenFallbacksStaysOnCpu) {
  Result<std::unique_ptr<Session>> session = Load(IslandModel(), {"sim-npu", "cpu"});
  ASSERT_TRUE(session.ok()) << session.status().message();
  const Plan& plan = (*session)->plan();
  ASSERT_EQ(plan.segments.size(), 1u) << plan.ToText();
  EXPECT_EQ(plan.segments[0].device->info().id, "cpu:0");
  EXPECT_TRUE(plan.copies.empty());
  const NodePlacement& relu = Placement(plan, "relu");
  EXPECT_EQ(relu.device, "cpu:0");
  EXPECT_TRUE(relu.fallback);
  EXPECT_NE(relu.reason.find("sim-npu:0: supported, but as a 1-node island"), std::string::npos)
      << relu.reason;
  EXPECT_EQ((*session)->device_id(), "cpu:0");
}

TEST(PartitionerTest, IslandIsKeptWhenLaunchesAndCopiesCostNothing) {
  // The control for the test above: the same graph, with no launch or copy overhead and a slow
  // assumed cpu rate, keeps Relu on the NPU, so it was the cost that moved it, not a rule.
  Result<std::unique_ptr<Session>> session = Load(IslandModel(), {"sim-npu", "cpu"});
  ASSERT_TRUE(session.ok()) << session.status().message();
  PartitionOptions options;
  options.devices = {*RuntimeWithSimNpu()->FindDevice("sim-npu"), RuntimeWithSimNpu()->cpu()};
  options.cost.assumed_launch_s = 0;
  options.cost.assumed_copy_overhead_s = 0;
  options.cost.assumed_ops_per_s = 1e6;
  Result<Plan> plan = Partition((*session)->model().graph, options);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->segments.size(), 3u) << plan->ToText();
  EXPECT_EQ(Placement(*plan, "relu").device, "sim-npu:0");
  EXPECT_FALSE(Placement(*plan, "relu").fallback);
  EXPECT_EQ(plan->copies.size(), 2u);
}

TEST(PartitionerTest, ForbidWithAnUnsupportedNodeIsAnErrorNamingIt) {
  Result<std::unique_ptr<Session>> session =
      Load(SplitModel(), {"sim-npu", "cpu"}, FallbackPolicy::kForbid);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kUnimplemented);
  const std::string message = session.status().message();
  EXPECT_NE(message.find("fallback policy 'forbid'"), std::string::npos) << message;
  EXPECT_NE(message.find("node 'neg' (Neg)"), std::string::npos) << message;
  EXPECT_NE(message.find("op Neg not in the edge-34 op set"), std::string::npos) << message;
  EXPECT_EQ(message.find("conv"), std::string::npos) << message;  // only the offending node
}

TEST(PartitionerTest, ForbidIsFineWhenTheFirstDeviceRunsEverything) {
  Result<std::unique_ptr<Session>> session =
      Load(SplitModel(), {"cpu", "sim-npu"}, FallbackPolicy::kForbid);
  ASSERT_TRUE(session.ok()) << session.status().message();
  EXPECT_EQ((*session)->plan().segments.size(), 1u);
  EXPECT_EQ((*session)->plan().fallback_count(), 0u);
}

TEST(PartitionerTest, PinnedDeviceThatCannotRunTheModelIsAnError) {
  Result<std::unique_ptr<Session>> session =
      Load(SplitModel(), {}, FallbackPolicy::kAllow, "sim-npu");
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(session.status().message().find("sim-npu:0 cannot run 1 node(s)"), std::string::npos)
      << session.status().message();
  EXPECT_NE(session.status().message().find("node 'neg' (Neg)"), std::string::npos);
}

TEST(PartitionerTest, NoDeviceOfTheListCanRunANode) {
  Result<std::unique_ptr<Session>> session = Load(SplitModel(), {"sim-npu"});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(session.status().message().find("no device of [sim-npu:0] can run 1 node(s)"),
            std::string::npos)
      << session.status().message();
}

TEST(PartitionerTest, UnknownDeviceInTheListIsNotFound) {
  Result<std::unique_ptr<Session>> session = Load(SplitModel(), {"sim-npu", "tpu"});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kNotFound);
  EXPECT_NE(session.status().message().find("'tpu'"), std::string::npos);
}

TEST(PartitionerTest, WarnPrintsOneLinePerFallback) {
  ::testing::internal::CaptureStderr();
  Result<std::unique_ptr<Session>> session =
      Load(SplitModel(), {"sim-npu", "cpu"}, FallbackPolicy::kWarn);
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(session.ok()) << session.status().message();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("node 'neg' (Neg) falls back to cpu:0"), std::string::npos) << err;
}

TEST(PartitionerTest, ReportListsEveryNodeAndMarksAssumedCosts) {
  Result<std::unique_ptr<Session>> session = Load(SplitModel(), {"sim-npu", "cpu"});
  ASSERT_TRUE(session.ok()) << session.status().message();
  const Plan& plan = (*session)->plan();
  const ir::Graph& graph = (*session)->model().graph;
  const nlohmann::ordered_json json = plan.ToJson();
  const std::string text = plan.ToText();
  ASSERT_EQ(json["nodes"].size(), graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    EXPECT_EQ(json["nodes"][i]["node"], graph.nodes[i].name);
    EXPECT_FALSE(json["nodes"][i]["device"].get<std::string>().empty());
    EXPECT_FALSE(json["nodes"][i]["reason"].get<std::string>().empty());
    EXPECT_NE(text.find(graph.nodes[i].name), std::string::npos) << text;
  }
  EXPECT_EQ(json["segments"].size(), 3u);
  EXPECT_EQ(json["copies"].size(), 2u);
  // The cpu declares no rates: every cpu estimate rests on assumed defaults and says so.
  EXPECT_TRUE(json["estimate"]["assumed"].get<bool>());
  const NodePlacement& neg = Placement(plan, "neg");
  EXPECT_TRUE(neg.cost.assumptions.count("cpu:0 float16 rate")) << text;
  // The NPU declares its fp16 rate and bandwidth (profile figures): no assumption for conv.
  EXPECT_FALSE(Placement(plan, "conv").cost.assumed()) << text;
  EXPECT_NE(text.find("assumed defaults, not measurements"), std::string::npos) << text;
}

TEST(PartitionerTest, Float32ModelFallsBackWhollyToCpuWithTheReason) {
  onnx::ModelProto model = mb::NewModel(17);
  onnx::GraphProto* g = model.mutable_graph();
  mb::AddInput(g, "x", onnx::TensorProto::FLOAT, {2, 3});
  mb::AddNode(g, "Relu", {"x"}, {"y"}, "relu");
  mb::AddOutput(g, "y", onnx::TensorProto::FLOAT, {2, 3});
  Result<std::unique_ptr<Session>> session = Load(mb::Serialize(model), {"sim-npu", "cpu"});
  ASSERT_TRUE(session.ok()) << session.status().message();
  EXPECT_EQ((*session)->device_id(), "cpu:0");
  EXPECT_EQ(Placement((*session)->plan(), "relu").reason, "sim-npu: float32 not supported → cpu:0");
}

TEST(CostModelTest, ConvWorkIsTwoOpsPerMultiplyAdd) {
  Result<std::unique_ptr<Session>> session = Load(SplitModel(), {});
  ASSERT_TRUE(session.ok()) << session.status().message();
  const ir::Graph& graph = (*session)->model().graph;
  const ir::Node* conv = nullptr;
  for (const ir::Node& n : graph.nodes) conv = n.name == "conv" ? &n : conv;
  ASSERT_NE(conv, nullptr);
  NodeWork work = EstimateNodeWork(*conv, graph);
  // 32x16x16 outputs, each 16x3x3 multiply-adds.
  EXPECT_DOUBLE_EQ(work.ops, 2.0 * 32 * 16 * 16 * 16 * 3 * 3);
  EXPECT_DOUBLE_EQ(work.bytes, 2.0 * (16 * 16 * 16 + 32 * 16 * 9 + 32 * 16 * 16));
  EXPECT_EQ(work.dtype, DType::kF16);
  EXPECT_TRUE(work.shapes_known);
  hal::DeviceInfo npu = (*RuntimeWithSimNpu()->FindDevice("sim-npu"))->info();
  Estimate e = CostModel().NodeSeconds(npu, *conv, work);
  EXPECT_DOUBLE_EQ(e.seconds, std::max(work.ops / 17e12, work.bytes / 34e9));
  EXPECT_FALSE(e.assumed());
}

TEST(CostModelTest, MeasuredFigureReplacesTheRoofline) {
  CostModelOptions options;
  options.measured_node_seconds["cpu:0"]["conv"] = 0.5;
  hal::DeviceInfo cpu;
  cpu.id = "cpu:0";
  ir::Node node;
  node.name = "conv";
  Estimate e = CostModel(options).NodeSeconds(cpu, node, NodeWork{1e9, 1e9, DType::kF32, true});
  EXPECT_DOUBLE_EQ(e.seconds, 0.5);
  EXPECT_FALSE(e.assumed());
  Estimate assumed = CostModel().NodeSeconds(cpu, node, NodeWork{1e9, 1e9, DType::kF32, true});
  EXPECT_DOUBLE_EQ(assumed.seconds, 1e9 / 10e9);  // bandwidth-bound at the assumed 10 GB/s
  EXPECT_TRUE(assumed.assumptions.count("cpu:0 float32 rate"));
  EXPECT_TRUE(assumed.assumptions.count("cpu:0 memory bandwidth"));
}

}  // namespace
}  // namespace unihal::planner
