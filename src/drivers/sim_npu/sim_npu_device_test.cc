#include "drivers/sim_npu/sim_npu_device.h"

#include <gtest/gtest.h>

#include <thread>

#include "drivers/cpu/cpu_driver.h"
#include "drivers/sim_npu/sim_npu_test_util.h"
#include "testing/op_test_util.h"
#include "unihal/hal/driver.h"

namespace unihal::sim_npu {
namespace {

using testing::MakeDevice;
using testing::Value;
using unihal::testing::AllClose;
using unihal::testing::MakeNode;
using unihal::testing::RandomTensor;

std::shared_ptr<hal::Device> CpuDevice() {
  static std::shared_ptr<hal::Device> cpu = [] {
    auto driver = cpu::CreateCpuDriver();
    return (*driver->OpenDevices({}))[0];
  }();
  return cpu;
}

// y = Relu(x) in `dtype` with the given input shape.
ir::Graph UnaryGraph(const std::string& op, DType dtype, ir::SymbolicShape shape) {
  ir::Graph g;
  g.inputs.push_back(ir::ValueInfo{"x", dtype, shape});
  g.outputs.push_back(ir::ValueInfo{"y", dtype, shape});
  g.nodes.push_back(MakeNode(op, {"x"}, {"y"}));
  return g;
}

// x float32 [1,3,8,8] -> QuantizeLinear -> QLinearConv (4x3x3x3) -> DequantizeLinear -> y.
ir::Graph Int8ConvGraph() {
  ir::Graph g;
  g.inputs.push_back(Value("x", DType::kF32, {1, 3, 8, 8}));
  g.outputs.push_back(Value("y", DType::kF32, {1, 4, 6, 6}));
  g.value_info["xq"] = Value("xq", DType::kI8, {1, 3, 8, 8});
  g.value_info["yq"] = Value("yq", DType::kI8, {1, 4, 6, 6});
  g.initializers["xs"] = Tensor::Scalar(0.02f);
  g.initializers["xz"] = Tensor::Scalar(int8_t{0});
  g.initializers["w"] = RandomTensor(DType::kI8, {4, 3, 3, 3}, 7, -100, 100);
  g.initializers["ws"] = Tensor::Scalar(0.01f);
  g.initializers["wz"] = Tensor::Scalar(int8_t{0});
  g.initializers["ys"] = Tensor::Scalar(0.05f);
  g.initializers["yz"] = Tensor::Scalar(int8_t{0});
  g.nodes.push_back(MakeNode("QuantizeLinear", {"x", "xs", "xz"}, {"xq"}));
  g.nodes.push_back(
      MakeNode("QLinearConv", {"xq", "xs", "xz", "w", "ws", "wz", "ys", "yz"}, {"yq"}));
  g.nodes.push_back(MakeNode("DequantizeLinear", {"yq", "ys", "yz"}, {"y"}));
  return g;
}

// x fp16 [1,3,8,8] -> Conv (w fp16 4x3x3x3) -> Relu -> y fp16 [1,4,6,6].
ir::Graph Fp16ConvGraph() {
  ir::Graph g;
  g.inputs.push_back(Value("x", DType::kF16, {1, 3, 8, 8}));
  g.outputs.push_back(Value("y", DType::kF16, {1, 4, 6, 6}));
  g.value_info["c"] = Value("c", DType::kF16, {1, 4, 6, 6});
  g.initializers["w"] = RandomTensor(DType::kF16, {4, 3, 3, 3}, 3);
  g.nodes.push_back(MakeNode("Conv", {"x", "w"}, {"c"}));
  g.nodes.push_back(MakeNode("Relu", {"c"}, {"y"}));
  return g;
}

Result<std::vector<Tensor>> RunOn(hal::Device& device, const ir::Graph& g,
                                  const std::vector<Tensor>& inputs) {
  UH_ASSIGN_OR_RETURN(auto exe, device.Compile(g, {}));
  std::vector<Tensor> outputs;
  UH_RETURN_IF_ERROR(exe->Run(inputs, outputs));
  return outputs;
}

TEST(SimNpuDeviceTest, InfoSaysSimulated) {
  auto device = MakeDevice();
  const hal::DeviceInfo& info = device->info();
  EXPECT_TRUE(info.is_simulated);
  EXPECT_EQ(info.id, "sim-npu:0");
  EXPECT_EQ(info.kind, hal::DeviceKind::kNpu);
  EXPECT_EQ(info.name, "sim-npu edge-34");
  EXPECT_NE(info.vendor.find("simulated"), std::string::npos);
  EXPECT_EQ(info.memory_total_bytes, 256 << 20);
  EXPECT_DOUBLE_EQ(info.peak_ops_per_s.at(DType::kI8), 34e12);
  EXPECT_DOUBLE_EQ(info.peak_ops_per_s.at(DType::kF16), 17e12);
  EXPECT_TRUE(device->Health().is_simulated);
}

TEST(SimNpuDeviceTest, SupportsSaysExactlyWhyNot) {
  auto device = MakeDevice();
  ir::Graph f32 = UnaryGraph("Relu", DType::kF32, {ir::Dim::Static(4)});
  EXPECT_EQ(device->Supports(f32.nodes[0], f32).reason, "sim-npu: float32 not supported");
  ir::Graph dyn = UnaryGraph("Relu", DType::kF16, {ir::Dim::Symbolic("N"), ir::Dim::Static(4)});
  hal::SupportResult r = device->Supports(dyn.nodes[0], dyn);
  EXPECT_FALSE(r.supported);
  EXPECT_EQ(r.reason.rfind("sim-npu: dynamic shape", 0), 0u) << r.reason;
  ir::Graph lstm = UnaryGraph("LSTM", DType::kF16, {ir::Dim::Static(4)});
  EXPECT_EQ(device->Supports(lstm.nodes[0], lstm).reason,
            "sim-npu: op LSTM not in the edge-34 op set");
  ir::Graph ok = UnaryGraph("Relu", DType::kF16, {ir::Dim::Static(4)});
  EXPECT_TRUE(device->Supports(ok.nodes[0], ok).supported)
      << device->Supports(ok.nodes[0], ok).reason;
  ir::Graph q = Int8ConvGraph();
  for (const ir::Node& n : q.nodes) {
    EXPECT_TRUE(device->Supports(n, q).supported)
        << n.op_type << ": " << device->Supports(n, q).reason;
  }
  auto tiny = MakeDevice("tiny-4");
  EXPECT_EQ(tiny->Supports(lstm.nodes[0], lstm).reason,
            "sim-npu: op LSTM not in the tiny-4 op set");
  // Compile refuses with the same reason.
  Result<std::shared_ptr<hal::Executable>> exe = device->Compile(f32, {});
  ASSERT_FALSE(exe.ok());
  EXPECT_NE(exe.status().message().find("sim-npu: float32 not supported"), std::string::npos);
}

TEST(SimNpuDeviceTest, Int8ModelMatchesCpuExactly) {
  auto device = MakeDevice();
  ir::Graph g = Int8ConvGraph();
  std::vector<Tensor> in = {RandomTensor(DType::kF32, {1, 3, 8, 8}, 11, -2, 2)};
  Result<std::vector<Tensor>> npu = RunOn(*device, g, in);
  ASSERT_TRUE(npu.ok()) << npu.status().message();
  Result<std::vector<Tensor>> cpu = RunOn(*CpuDevice(), g, in);
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  EXPECT_TRUE(AllClose((*npu)[0], (*cpu)[0], 0, 0));
}

TEST(SimNpuDeviceTest, Fp16ModelMatchesCpu) {
  auto device = MakeDevice();
  ir::Graph g = Fp16ConvGraph();
  std::vector<Tensor> in = {RandomTensor(DType::kF16, {1, 3, 8, 8}, 12)};
  Result<std::vector<Tensor>> npu = RunOn(*device, g, in);
  ASSERT_TRUE(npu.ok()) << npu.status().message();
  Result<std::vector<Tensor>> cpu = RunOn(*CpuDevice(), g, in);
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  EXPECT_TRUE(AllClose((*npu)[0], (*cpu)[0], 1e-2, 1e-2));
}

TEST(SimNpuDeviceTest, ModeledLatencyIsTheRoofline) {
  auto device = MakeDevice();
  ir::Graph g = Int8ConvGraph();
  auto exe = device->Compile(g, {});
  ASSERT_TRUE(exe.ok());
  std::optional<double> latency = (*exe)->ModeledLatencySeconds();
  ASSERT_TRUE(latency.has_value());
  // 3 nodes, all bandwidth-bound at this size: overheads dominate; 20 us launch + 3 x 2 us.
  EXPECT_GT(*latency, 26e-6);
  EXPECT_LT(*latency, 40e-6);
  std::vector<Tensor> out;
  std::vector<Tensor> in = {RandomTensor(DType::kF32, {1, 3, 8, 8}, 1)};
  ASSERT_TRUE((*exe)->Run(in, out).ok());
  EXPECT_EQ(device->stats().runs, 1);
  EXPECT_NEAR(device->stats().last_run_modeled_latency_s, *latency, 1e-9);
  // The cpu gives no modelled figure.
  auto cpu_exe = CpuDevice()->Compile(g, {});
  ASSERT_TRUE(cpu_exe.ok());
  EXPECT_FALSE((*cpu_exe)->ModeledLatencySeconds().has_value());
}

TEST(SimNpuDeviceTest, MemoryCapacityIsEnforced) {
  auto device = MakeDevice("tiny-4");
  const int64_t capacity = 64 << 20;
  auto a = device->Allocate(capacity / 2);
  ASSERT_TRUE(a.ok());
  auto b = device->Allocate(capacity / 2);
  ASSERT_TRUE(b.ok());
  auto c = device->Allocate(1);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(device->stats().memory_live_bytes, capacity);
  EXPECT_EQ(device->Health().memory_free_bytes, 0);
  a->reset();
  b->reset();
  EXPECT_EQ(device->stats().memory_live_bytes, 0);
  EXPECT_EQ(device->stats().memory_peak_bytes, capacity);
  EXPECT_EQ(device->stats().allocation_count, 2);
  EXPECT_TRUE(device->Allocate(1).ok());
  EXPECT_EQ(device->Allocate(capacity + 1).status().code(), StatusCode::kResourceExhausted);
}

TEST(SimNpuDeviceTest, WeightsCountAgainstCapacity) {
  auto device = MakeDevice("tiny-4");
  ir::Graph g = UnaryGraph("Add", DType::kI8, {ir::Dim::Static(1)});
  g.nodes[0] = MakeNode("Add", {"x", "big"}, {"y"});
  g.inputs[0] = Value("x", DType::kI8, {65 << 20});
  g.outputs[0] = Value("y", DType::kI8, {65 << 20});
  g.initializers["big"] = *Tensor::Allocate(DType::kI8, {65 << 20});
  auto exe = device->Compile(g, {});
  ASSERT_FALSE(exe.ok());
  EXPECT_EQ(exe.status().code(), StatusCode::kResourceExhausted);
}

TEST(SimNpuDeviceTest, PowerStatesChangeClockAndLatency) {
  auto device = MakeDevice();
  ir::Graph g = Fp16ConvGraph();
  auto exe = device->Compile(g, {});
  ASSERT_TRUE(exe.ok());
  double perf = *(*exe)->ModeledLatencySeconds();
  double perf_clock = *device->Health().clock_mhz;
  ASSERT_TRUE(device->SetPowerState(hal::PowerState::kBalanced).ok());
  double balanced = *(*exe)->ModeledLatencySeconds();
  ASSERT_TRUE(device->SetPowerState(hal::PowerState::kLowPower).ok());
  double low = *(*exe)->ModeledLatencySeconds();
  EXPECT_LT(perf, balanced);
  EXPECT_LT(balanced, low);
  EXPECT_LT(*device->Health().clock_mhz, perf_clock);
  EXPECT_EQ(device->power_state(), hal::PowerState::kLowPower);
  // A device without power control says so.
  Status s = CpuDevice()->SetPowerState(hal::PowerState::kLowPower);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
}

TEST(SimNpuDeviceTest, ConcurrentRunsAllocationsAndHealth) {
  auto device = MakeDevice();
  ir::Graph g = Int8ConvGraph();
  auto exe = device->Compile(g, {});
  ASSERT_TRUE(exe.ok());
  std::vector<Tensor> in = {RandomTensor(DType::kF32, {1, 3, 8, 8}, 5)};
  auto expected = RunOn(*CpuDevice(), g, in);
  ASSERT_TRUE(expected.ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        std::vector<Tensor> out;
        if (!(*exe)->Run(in, out).ok() || !AllClose(out[0], (*expected)[0], 0, 0)) ++failures;
        auto buf = device->Allocate(1 << 20);
        if (!buf.ok()) ++failures;
        hal::DeviceHealth h = device->Health();
        if (!h.temperature_c || h.state == hal::HealthState::kFailed) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(device->stats().runs, 200);
  // Every buffer and working set was released; the executable still holds its weights.
  int64_t weights = 0;
  for (const auto& [name, t] : g.initializers) weights += static_cast<int64_t>(t.nbytes());
  EXPECT_EQ(device->stats().memory_live_bytes, weights);
  exe->reset();
  EXPECT_EQ(device->stats().memory_live_bytes, 0);
}

TEST(SimNpuDeviceTest, StreamCopiesAndLaunches) {
  auto device = MakeDevice();
  auto stream = device->CreateStream();
  ASSERT_TRUE(stream.ok());
  auto buf = device->Allocate(16);
  ASSERT_TRUE(buf.ok());
  EXPECT_EQ((*buf)->device_id(), "sim-npu:0");
  std::vector<uint8_t> src(16, 7), dst(16, 0);
  ASSERT_TRUE((*stream)->Write(**buf, 0, src.data(), 16).ok());
  ASSERT_TRUE((*stream)->Read(**buf, 0, dst.data(), 16).ok());
  EXPECT_EQ(dst, src);
  EXPECT_EQ((*stream)->Write(**buf, 8, src.data(), 16).code(), StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace unihal::sim_npu
