#include "drivers/sim_npu/sim_npu_faults.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "drivers/sim_npu/sim_npu_test_util.h"
#include "unihal/runtime.h"

namespace unihal::sim_npu {
namespace {

using testing::MakeDevice;
using testing::ManualClock;

std::vector<StatusCode> RunSequence(const hal::SimNpuFaultOptions& options, int n) {
  FaultInjector faults("sim-npu:0", options, nullptr);
  std::vector<StatusCode> codes;
  for (int i = 0; i < n; ++i) codes.push_back(faults.BeforeRun().code());
  return codes;
}

TEST(SimNpuFaultsTest, ErrorRateIsSeededAndDeterministic) {
  hal::SimNpuFaultOptions options;
  options.error_rate = 0.1;
  options.seed = 42;
  std::vector<StatusCode> a = RunSequence(options, 5000);
  EXPECT_EQ(a, RunSequence(options, 5000));
  int failed = 0;
  for (StatusCode c : a) {
    if (c != StatusCode::kOk) {
      ++failed;
      EXPECT_TRUE(c == StatusCode::kUnavailable || c == StatusCode::kInternal);
    }
  }
  EXPECT_GT(failed, 400);  // 500 expected; a few sigma either side
  EXPECT_LT(failed, 600);
  options.seed = 43;
  EXPECT_NE(a, RunSequence(options, 5000));
  EXPECT_EQ(RunSequence(hal::SimNpuFaultOptions{}, 100), std::vector<StatusCode>(100));
}

TEST(SimNpuFaultsTest, DeviceLostAfterRuns) {
  hal::SimNpuOptions options;
  options.faults.lost_after_runs = 3;
  auto device = MakeDevice("edge-34", options);
  auto exe = device->Compile(testing::Int8ReluGraph(), {});
  ASSERT_TRUE(exe.ok()) << exe.status().message();
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(testing::RunOnce(**exe).ok());
  EXPECT_EQ(device->Health().state, hal::HealthState::kHealthy);
  EXPECT_TRUE(testing::RunOnce(**exe).ok());  // the third run completes; then the device is gone
  EXPECT_EQ(device->Health().state, hal::HealthState::kFailed);
  Status lost = testing::RunOnce(**exe);
  EXPECT_EQ(lost.code(), StatusCode::kUnavailable);
  EXPECT_NE(lost.message().find("device lost"), std::string::npos);
  EXPECT_EQ(testing::RunOnce(**exe).code(), StatusCode::kUnavailable);
  EXPECT_EQ(device->Allocate(16).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(device->CreateStream().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(device->Compile(testing::Int8ReluGraph(), {}).status().code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(device->SetPowerState(hal::PowerState::kBalanced).code(), StatusCode::kUnavailable);
  hal::DeviceHealth h = device->Health();
  EXPECT_EQ(h.state, hal::HealthState::kFailed);
  EXPECT_GE(h.error_count.value_or(0), 1);
}

TEST(SimNpuFaultsTest, DeviceLostAfterSeconds) {
  ManualClock clock;
  hal::SimNpuOptions options;
  options.faults.lost_after_s = 10;
  auto device = MakeDevice("tiny-4", options, clock.fn());
  auto exe = device->Compile(testing::Int8ReluGraph(), {});
  ASSERT_TRUE(exe.ok());
  EXPECT_TRUE(testing::RunOnce(**exe).ok());
  clock.Advance(9.5);
  EXPECT_TRUE(testing::RunOnce(**exe).ok());
  clock.Advance(1);
  EXPECT_EQ(testing::RunOnce(**exe).code(), StatusCode::kUnavailable);
  EXPECT_EQ(device->Health().state, hal::HealthState::kFailed);
}

TEST(SimNpuFaultsTest, OutOfMemoryInjection) {
  hal::SimNpuOptions options;
  options.faults.oom_rate = 1.0;
  auto device = MakeDevice("edge-34", options);
  EXPECT_EQ(device->Allocate(16).status().code(), StatusCode::kResourceExhausted);
  options.faults.oom_rate = 0.5;
  options.faults.seed = 3;
  auto half = MakeDevice("edge-34", options);
  int failed = 0;
  for (int i = 0; i < 1000; ++i) failed += half->Allocate(16).ok() ? 0 : 1;
  EXPECT_GT(failed, 400);
  EXPECT_LT(failed, 600);
}

TEST(SimNpuFaultsTest, HangEndsAtTimeoutOrWhenReleased) {
  hal::SimNpuOptions options;
  options.faults.hang_rate = 1.0;
  options.faults.hang_timeout_s = 0.05;
  auto device = MakeDevice("edge-34", options);
  auto exe = device->Compile(testing::Int8ReluGraph(), {});
  ASSERT_TRUE(exe.ok());
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(testing::RunOnce(**exe).code(), StatusCode::kDeadlineExceeded);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(45));
  // A long hang ends as soon as it is released.
  options.faults.hang_timeout_s = 60;
  auto long_hang = MakeDevice("edge-34", options);
  auto exe2 = long_hang->Compile(testing::Int8ReluGraph(), {});
  ASSERT_TRUE(exe2.ok());
  Status hung;
  std::thread runner([&] { hung = testing::RunOnce(**exe2); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  long_hang->ReleaseHangs();
  runner.join();
  EXPECT_EQ(hung.code(), StatusCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(SimNpuFaultsTest, ParsesFaultSpecs) {
  hal::SimNpuFaultOptions f;
  ASSERT_TRUE(hal::ParseSimNpuFaults("error_rate=0.25,seed=9,lost_after_runs=100,lost_after_s=2.5,"
                                     "oom_rate=0.1,hang_rate=0.01,hang_timeout_s=3",
                                     f)
                  .ok());
  EXPECT_DOUBLE_EQ(f.error_rate, 0.25);
  EXPECT_EQ(f.seed, 9u);
  EXPECT_EQ(f.lost_after_runs, 100);
  EXPECT_DOUBLE_EQ(*f.lost_after_s, 2.5);
  EXPECT_DOUBLE_EQ(f.oom_rate, 0.1);
  EXPECT_DOUBLE_EQ(f.hang_rate, 0.01);
  EXPECT_DOUBLE_EQ(f.hang_timeout_s, 3);
  EXPECT_EQ(hal::ParseSimNpuFaults("error_rate=2", f).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(hal::ParseSimNpuFaults("bogus=1", f).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(hal::ParseSimNpuFaults("error_rate", f).code(), StatusCode::kInvalidArgument);
}

TEST(SimNpuRuntimeTest, OffByDefaultAndNeverAuto) {
  auto plain = Runtime::Create();
  ASSERT_TRUE(plain.ok());
  bool listed = false;
  for (const UnavailableDriver& u : (*plain)->unavailable()) {
    if (u.driver == "sim-npu") {
      listed = true;
      EXPECT_NE(u.reason.find("not enabled"), std::string::npos);
    }
  }
  EXPECT_TRUE(listed);
  Result<std::shared_ptr<hal::Device>> missing = (*plain)->FindDevice("sim-npu");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--sim-npu"), std::string::npos);

  RuntimeOptions options;
  options.sim_npu.profiles = {"edge-34", "tiny-4"};
  auto runtime = Runtime::Create(options);
  ASSERT_TRUE(runtime.ok());
  auto auto_device = (*runtime)->FindDevice("auto");
  ASSERT_TRUE(auto_device.ok());
  EXPECT_EQ((*auto_device)->info().driver, "cpu");
  auto npu = (*runtime)->FindDevice("sim-npu");
  ASSERT_TRUE(npu.ok());
  EXPECT_TRUE((*npu)->info().is_simulated);
  auto tiny = (*runtime)->FindDevice("sim-npu:1");
  ASSERT_TRUE(tiny.ok());
  EXPECT_NE((*tiny)->info().name.find("tiny-4"), std::string::npos);

  RuntimeOptions bad;
  bad.sim_npu.profiles = {"no-such-profile"};
  auto with_bad = Runtime::Create(bad);
  ASSERT_TRUE(with_bad.ok());  // never fatal
  bool reported = false;
  for (const UnavailableDriver& u : (*with_bad)->unavailable()) {
    reported |= u.driver == "sim-npu" && u.reason.find("no-such-profile") != std::string::npos;
  }
  EXPECT_TRUE(reported);
}

}  // namespace
}  // namespace unihal::sim_npu
