#include "drivers/sim_npu/sim_npu_model.h"

#include <gtest/gtest.h>

#include "drivers/sim_npu/sim_npu_test_util.h"
#include "testing/op_test_util.h"

namespace unihal::sim_npu {
namespace {

using testing::ManualClock;
using testing::Profile;

// One node of 34e12 int8 ops: 1 s at edge-34's peak.
std::vector<NodeCost> OneSecondOfWork() { return {NodeCost{34e12, 1e6, DType::kI8}}; }

TEST(SimNpuModelTest, RooflinePicksTheSlowerOfComputeAndBandwidth) {
  SimNpuProfile p = Profile("edge-34");
  ManualClock clock;
  SimModel model(p, clock.fn());
  double overhead = p.launch_overhead_s + p.node_overhead_s;
  EXPECT_NEAR(model.Latency({NodeCost{34e9, 0, DType::kI8}}), 1e-3 + overhead, 1e-12);
  EXPECT_NEAR(model.Latency({NodeCost{17e9, 0, DType::kF16}}), 1e-3 + overhead, 1e-12);
  EXPECT_NEAR(model.Latency({NodeCost{1, 34e6, DType::kI8}}), 1e-3 + overhead, 1e-12);
}

TEST(SimNpuModelTest, HeatsUnderLoadThrottlesAndCoolsWhenIdle) {
  SimNpuProfile p = Profile("edge-34");
  ManualClock clock;
  SimModel model(p, clock.fn());
  const double idle_c = p.ambient_c + p.idle_w * p.resistance_c_per_w;  // 32 C for edge-34
  ModelSample idle = model.Sample();
  EXPECT_DOUBLE_EQ(idle.temperature_c, idle_c);
  EXPECT_NEAR(idle.power_w, p.idle_w, 1e-9);
  EXPECT_FALSE(idle.throttling);
  double first = model.RecordRun(OneSecondOfWork());
  ModelSample warm = model.Sample();
  EXPECT_GT(warm.temperature_c, idle_c);
  EXPECT_NEAR(warm.power_w, p.tdp_w, 1e-9);
  EXPECT_DOUBLE_EQ(warm.utilization, 1.0);  // the clock did not move: back-to-back work
  // Sustained load: the RC model reaches the throttle limit (steady state 25 + 5 W x 14 = 95 C).
  int runs = 0;
  while (!model.Sample().throttling && runs < 1000) {
    model.RecordRun(OneSecondOfWork());
    ++runs;
  }
  ASSERT_LT(runs, 1000);
  ModelSample hot = model.Sample();
  EXPECT_GE(hot.temperature_c, p.throttle_c);
  EXPECT_NEAR(hot.clock_mhz, p.clock_mhz * p.throttle_clock_fraction, 1e-9);
  EXPECT_NEAR(model.RecordRun(OneSecondOfWork()), 2 * first, 1e-6);  // half clock, twice as slow
  EXPECT_LT(model.Sample().power_w, p.tdp_w);
  // Idle for ten minutes of model time: back to the idle temperature, clock restored.
  clock.Advance(hot.model_time_s + 600);
  ModelSample cool = model.Sample();
  EXPECT_NEAR(cool.temperature_c, idle_c, 0.1);
  EXPECT_FALSE(cool.throttling);
  EXPECT_NEAR(cool.power_w, p.idle_w, 1e-9);
  EXPECT_LT(cool.utilization, 0.1);
  EXPECT_NEAR(model.RecordRun(OneSecondOfWork()), first, 1e-9);
  EXPECT_GT(model.Sample().energy_j, 0);
}

TEST(SimNpuModelTest, DeterministicForTheSameWork) {
  SimNpuProfile p = Profile("tiny-4");
  ManualClock c1, c2;
  SimModel a(p, c1.fn()), b(p, c2.fn());
  for (int i = 0; i < 50; ++i) {
    EXPECT_DOUBLE_EQ(a.RecordRun(OneSecondOfWork()), b.RecordRun(OneSecondOfWork()));
  }
  EXPECT_DOUBLE_EQ(a.Sample().temperature_c, b.Sample().temperature_c);
}

TEST(SimNpuModelTest, LowPowerRunsCoolerAndSlower) {
  SimNpuProfile p = Profile("edge-34");
  ManualClock clock;
  SimModel model(p, clock.fn());
  model.SetPowerState(hal::PowerState::kLowPower);
  double low = model.RecordRun(OneSecondOfWork());
  EXPECT_NEAR(low, 2 * (1 + p.launch_overhead_s + p.node_overhead_s), 1e-6);
  EXPECT_LT(model.Sample().power_w, 0.5 * p.tdp_w);
  for (int i = 0; i < 500; ++i) model.RecordRun(OneSecondOfWork());
  EXPECT_FALSE(model.Sample().throttling);  // steady state below the limit
}

TEST(SimNpuModelTest, GraphCostCountsMacs) {
  ir::Graph g;
  g.inputs.push_back(testing::Value("a", DType::kI8, {4, 8}));
  g.initializers["b"] = *Tensor::Allocate(DType::kI8, {8, 16});
  g.outputs.push_back(testing::Value("y", DType::kI32, {4, 16}));
  g.nodes.push_back(unihal::testing::MakeNode("MatMulInteger", {"a", "b"}, {"y"}));
  int64_t ws = 0;
  std::vector<NodeCost> costs = EstimateGraphCost(g, &ws);
  ASSERT_EQ(costs.size(), 1u);
  EXPECT_DOUBLE_EQ(costs[0].ops, 2.0 * 4 * 16 * 8);
  EXPECT_DOUBLE_EQ(costs[0].bytes, 32 + 128 + 64 * 4);
  EXPECT_EQ(ws, 32 + 128 + 64 * 4);
}

}  // namespace
}  // namespace unihal::sim_npu
