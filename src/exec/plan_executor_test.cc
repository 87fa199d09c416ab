// PlanExecutor with a device whose memory is its own: boundary values are copied into it, once
// per value and device, and the split run still matches the cpu alone.
#include "exec/plan_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>

#include "onnx/test_model_builder.h"
#include "planner/partitioner.h"
#include "testing/op_test_util.h"
#include "unihal/hal/host_stream.h"
#include "unihal/session.h"

namespace unihal::exec {
namespace {

namespace mb = onnx_import::testing;
using unihal::testing::RandomTensor;

// A pretend accelerator with memory of its own (so the executor must copy into it), fast fp16
// figures (so the planner wants it) and no Neg; it computes with the cpu device's kernels.
class FakeAccelerator final : public hal::Device {
 public:
  explicit FakeAccelerator(std::shared_ptr<hal::Device> cpu) : cpu_(std::move(cpu)) {
    info_.id = "fake-gpu:0";
    info_.driver = "fake-gpu";
    info_.kind = hal::DeviceKind::kGpu;
    info_.peak_ops_per_s[DType::kF16] = 1e15;
    info_.memory_bandwidth_bytes_per_s = 1e12;
  }
  const hal::DeviceInfo& info() const override { return info_; }
  hal::DeviceHealth Health() override { return {}; }
  Result<std::shared_ptr<hal::Buffer>> Allocate(size_t bytes) override {
    allocations.fetch_add(1);
    return hal::AllocateHostBuffer(bytes);
  }
  Result<std::unique_ptr<hal::Stream>> CreateStream() override { return hal::CreateHostStream(); }
  hal::SupportResult Supports(const ir::Node& node, const ir::Graph& graph) const override {
    if (node.op_type == "Neg") return hal::SupportResult::No("fake-gpu: no Neg");
    return cpu_->Supports(node, graph);
  }
  Result<std::shared_ptr<hal::Executable>> Compile(const ir::Graph& subgraph,
                                                   const hal::CompileOptions& options) override {
    return cpu_->Compile(subgraph, options);
  }
  std::atomic<int> allocations{0};

 private:
  std::shared_ptr<hal::Device> cpu_;
  hal::DeviceInfo info_;
};

// fp16: x -> Conv -> Relu -> Neg -> Conv -> y, and x read again by the last Add.
std::string Model() {
  onnx::ModelProto model = mb::NewModel(17);
  onnx::GraphProto* g = model.mutable_graph();
  constexpr int32_t kF16 = onnx::TensorProto::FLOAT16;
  mb::AddInput(g, "x", kF16, {1, 16, 32, 32});
  mb::AddInitializer(g, "w1", RandomTensor(DType::kF16, {16, 16, 3, 3}, 1, -0.2, 0.2));
  mb::AddInitializer(g, "w2", RandomTensor(DType::kF16, {16, 16, 3, 3}, 2, -0.2, 0.2));
  mb::SetIntsAttr(mb::AddNode(g, "Conv", {"x", "w1"}, {"c"}, "conv1"), "pads", {1, 1, 1, 1});
  mb::AddNode(g, "Relu", {"c"}, {"r"}, "relu");
  mb::AddNode(g, "Neg", {"r"}, {"n"}, "neg");
  mb::SetIntsAttr(mb::AddNode(g, "Conv", {"n", "w2"}, {"c2"}, "conv2"), "pads", {1, 1, 1, 1});
  mb::AddNode(g, "Add", {"c2", "x"}, {"y"}, "add");
  mb::AddOutput(g, "y", kF16, {1, 16, 32, 32});
  return mb::Serialize(model);
}

TEST(PlanExecutorTest, CopiesIntoDeviceMemoryOncePerValueAndDevice) {
  std::shared_ptr<Runtime> runtime = *Runtime::Create();
  Result<std::unique_ptr<Session>> cpu = Session::LoadFromBytes(runtime, Model(), {});
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  const ir::Graph& graph = (*cpu)->model().graph;

  auto fake = std::make_shared<FakeAccelerator>(runtime->cpu());
  planner::PartitionOptions options;
  options.devices = {fake, runtime->cpu()};
  Result<planner::Plan> plan = planner::Partition(graph, options);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->segments.size(), 3u) << plan->ToText();
  EXPECT_EQ(plan->segments[0].device->info().id, "fake-gpu:0");
  EXPECT_EQ(plan->segments[1].device->info().id, "cpu:0");
  EXPECT_EQ(plan->segments[2].device->info().id, "fake-gpu:0");

  Result<std::unique_ptr<PlanExecutor>> executor = PlanExecutor::Create(*plan, graph);
  ASSERT_TRUE(executor.ok()) << executor.status().message();
  EXPECT_EQ((*executor)->ModeledLatencySeconds(), std::nullopt);  // nothing here is simulated
  const std::map<std::string, Tensor> inputs = {
      {"x", RandomTensor(DType::kF16, {1, 16, 32, 32}, 3)}};
  fake->allocations = 0;
  Result<std::vector<Tensor>> actual = (*executor)->Run(inputs);
  ASSERT_TRUE(actual.ok()) << actual.status().message();
  // Into the accelerator: x (read by conv1 and, in another segment on the same device, by the
  // Add: one copy) and n. Nothing else.
  EXPECT_EQ(fake->allocations.load(), 2);

  Result<std::vector<Tensor>> expected = (*cpu)->Run(inputs);
  ASSERT_TRUE(expected.ok()) << expected.status().message();
  ASSERT_EQ(actual->size(), 1u);
  ASSERT_EQ((*actual)[0].shape(), (*expected)[0].shape());
  EXPECT_EQ(std::memcmp((*actual)[0].data(), (*expected)[0].data(), (*expected)[0].nbytes()), 0);
}

}  // namespace
}  // namespace unihal::exec
