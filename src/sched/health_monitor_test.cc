#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "drivers/sim_npu/sim_npu_test_util.h"
#include "unihal/monitor.h"
#include "unihal/runtime.h"

namespace unihal {
namespace {

using std::chrono::milliseconds;

// A device whose health the test scripts; it can do nothing else.
class ScriptedDevice final : public hal::Device {
 public:
  explicit ScriptedDevice(std::string id) { info_.id = std::move(id); }
  const hal::DeviceInfo& info() const override { return info_; }
  hal::DeviceHealth Health() override {
    std::lock_guard<std::mutex> lock(mu_);
    return health_;
  }
  void Set(const hal::DeviceHealth& health) {
    std::lock_guard<std::mutex> lock(mu_);
    health_ = health;
  }
  Result<std::shared_ptr<hal::Buffer>> Allocate(size_t) override { return UnimplementedError("-"); }
  Result<std::unique_ptr<hal::Stream>> CreateStream() override { return UnimplementedError("-"); }
  hal::SupportResult Supports(const ir::Node&, const ir::Graph&) const override {
    return hal::SupportResult::No("scripted");
  }
  Result<std::shared_ptr<hal::Executable>> Compile(const ir::Graph&,
                                                   const hal::CompileOptions&) override {
    return UnimplementedError("scripted device");
  }

 private:
  hal::DeviceInfo info_;
  std::mutex mu_;
  hal::DeviceHealth health_;
};

hal::DeviceHealth Healthy(int64_t errors = 0) {
  hal::DeviceHealth h;
  h.state = hal::HealthState::kHealthy;
  h.error_count = errors;
  h.throttling = false;
  return h;
}

TEST(HealthMonitorTest, UnknownStaysUnknown) {
  auto device = std::make_shared<ScriptedDevice>("x:0");  // reports nothing at all
  HealthMonitor monitor({device});
  EXPECT_EQ(monitor.State("x:0"), hal::HealthState::kUnknown);
  monitor.SampleNow();
  const std::optional<DeviceHealthStatus> s = monitor.Status("x:0");
  ASSERT_TRUE(s && s->latest);
  EXPECT_EQ(s->state, hal::HealthState::kUnknown);
  EXPECT_FALSE(s->latest->health.temperature_c.has_value());
  EXPECT_FALSE(s->latest->health.power_w.has_value());
  EXPECT_FALSE(s->latest->health.throttling.has_value());
  EXPECT_FALSE(s->is_simulated);
  EXPECT_FALSE(monitor.Status("nope:0").has_value());
  EXPECT_EQ(monitor.State("nope:0"), hal::HealthState::kUnknown);
}

TEST(HealthMonitorTest, ThrottlingDegradesAndErrorsInARowFail) {
  auto device = std::make_shared<ScriptedDevice>("x:0");
  HealthMonitorOptions options;
  options.failed_after_errors = 3;
  options.history = 4;
  HealthMonitor monitor({device}, options);
  std::vector<std::pair<hal::HealthState, hal::HealthState>> changes;
  const int id =
      monitor.Subscribe([&](const std::string&, hal::HealthState before, hal::HealthState after,
                            const std::string&) { changes.emplace_back(before, after); });
  device->Set(Healthy(5));  // errors before the first sample are a baseline, not new
  monitor.SampleNow();
  EXPECT_EQ(monitor.State("x:0"), hal::HealthState::kHealthy);
  hal::DeviceHealth hot = Healthy(5);
  hot.throttling = true;
  device->Set(hot);
  monitor.SampleNow();
  EXPECT_EQ(monitor.State("x:0"), hal::HealthState::kDegraded);
  EXPECT_TRUE(monitor.IsThrottling("x:0"));
  EXPECT_EQ(monitor.Status("x:0")->reason, "throttling");
  for (int64_t errors : {6, 7}) {  // two rounds with new errors: degraded
    device->Set(Healthy(errors));
    monitor.SampleNow();
    EXPECT_EQ(monitor.State("x:0"), hal::HealthState::kDegraded) << errors;
  }
  device->Set(Healthy(8));  // the third in a row: failed
  monitor.SampleNow();
  EXPECT_TRUE(monitor.IsFailed("x:0"));
  EXPECT_EQ(monitor.Status("x:0")->reason, "new errors in 3 samples in a row");
  monitor.SampleNow();  // a clean round: recovered
  EXPECT_EQ(monitor.State("x:0"), hal::HealthState::kHealthy);
  const DeviceHealthStatus s = *monitor.Status("x:0");
  EXPECT_EQ(s.samples, 6);
  ASSERT_EQ(s.history.size(), 4u);  // only the last options.history samples
  EXPECT_EQ(*s.history.back().health.error_count, 8);
  EXPECT_LE(s.history.front().at, s.history.back().at);
  using S = hal::HealthState;
  EXPECT_EQ(changes, (std::vector<std::pair<S, S>>{{S::kUnknown, S::kHealthy},
                                                   {S::kHealthy, S::kDegraded},
                                                   {S::kDegraded, S::kFailed},
                                                   {S::kFailed, S::kHealthy}}));
  monitor.Unsubscribe(id);
}

TEST(HealthMonitorTest, RunErrorsReportedInARowFailAtOnce) {
  auto device = std::make_shared<ScriptedDevice>("x:0");
  device->Set(Healthy());
  HealthMonitor monitor({device});
  monitor.SampleNow();
  monitor.ReportRunError("x:0");
  monitor.ReportRunError("x:0");
  EXPECT_EQ(monitor.State("x:0"), hal::HealthState::kDegraded);
  monitor.ReportRunSuccess("x:0");
  monitor.ReportRunError("x:0");
  monitor.ReportRunError("x:0");
  EXPECT_EQ(monitor.State("x:0"), hal::HealthState::kDegraded);
  monitor.ReportRunError("x:0");
  EXPECT_TRUE(monitor.IsFailed("x:0"));
  EXPECT_EQ(monitor.Status("x:0")->reason, "3 run errors in a row");
  monitor.ReportRunError("unknown:0");  // ignored
}

TEST(HealthMonitorTest, SimNpuUnderLoadHeatsAndIsSimulated) {
  sim_npu::testing::ManualClock clock;  // frozen: the runs' modelled work is back to back
  std::shared_ptr<hal::Device> device = sim_npu::testing::MakeDevice("edge-34", {}, clock.fn());
  HealthMonitorOptions options;
  options.interval = milliseconds(2);
  HealthMonitor monitor({device}, options);
  monitor.SampleNow();
  const double idle_c = *monitor.Status("sim-npu:0")->latest->health.temperature_c;
  auto exe = device->Compile(sim_npu::testing::Int8ReluGraph(1 << 12), {});
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  monitor.Start();
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(sim_npu::testing::RunOnce(**exe, 1 << 12).ok());
  const int64_t seen = monitor.rounds();
  ASSERT_TRUE(monitor.WaitForRounds(seen + 2, milliseconds(10000)));
  monitor.Stop();
  EXPECT_FALSE(monitor.running());
  const DeviceHealthStatus s = *monitor.Status("sim-npu:0");
  ASSERT_TRUE(s.latest);
  EXPECT_TRUE(s.is_simulated);
  EXPECT_TRUE(s.latest->health.is_simulated);
  EXPECT_GT(*s.latest->health.temperature_c, idle_c);  // modelled heating, not a measurement
  EXPECT_GT(*s.latest->health.energy_j, 0);
  EXPECT_EQ(s.state, hal::HealthState::kHealthy);
  for (size_t i = 1; i < s.history.size(); ++i) {  // never cools: the clock never moved
    EXPECT_GE(*s.history[i].health.temperature_c, *s.history[i - 1].health.temperature_c);
  }
}

TEST(HealthMonitorTest, SimNpuLostAfterRunsBecomesFailed) {
  hal::SimNpuOptions sim_options;
  sim_options.faults.lost_after_runs = 3;
  std::shared_ptr<hal::Device> device = sim_npu::testing::MakeDevice("edge-34", sim_options);
  HealthMonitor monitor({device});
  std::atomic<int> failed_calls{0};
  monitor.Subscribe(
      [&](const std::string& id, hal::HealthState, hal::HealthState after, const std::string&) {
        if (id == "sim-npu:0" && after == hal::HealthState::kFailed) ++failed_calls;
      });
  monitor.SampleNow();
  EXPECT_EQ(monitor.State("sim-npu:0"), hal::HealthState::kHealthy);
  auto exe = device->Compile(sim_npu::testing::Int8ReluGraph(), {});
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  int failures = 0;
  for (int i = 0; i < 5; ++i) failures += sim_npu::testing::RunOnce(**exe).ok() ? 0 : 1;
  EXPECT_GE(failures, 2);
  monitor.SampleNow();
  EXPECT_TRUE(monitor.IsFailed("sim-npu:0"));
  EXPECT_EQ(monitor.Status("sim-npu:0")->reason, "the device reports itself failed");
  EXPECT_EQ(failed_calls.load(), 1);
}

int ThreadCount() {
  int n = 0;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (dirent* entry = readdir(dir)) n += entry->d_name[0] != '.';
    closedir(dir);
  }
  return n;
}

TEST(HealthMonitorTest, RuntimeStartsTheThreadOnlyWhenAsked) {
  Result<std::shared_ptr<Runtime>> runtime = Runtime::Create();
  ASSERT_TRUE(runtime.ok());
  const int before = ThreadCount();
  (void)(*runtime)->perf_monitor().Snapshot();  // the perf monitor has no thread
  Result<std::shared_ptr<Runtime>> second = Runtime::Create();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(ThreadCount(), before);
  HealthMonitor& health = (*runtime)->health_monitor();
  EXPECT_TRUE(health.running());
  EXPECT_EQ(ThreadCount(), before + 1);
  EXPECT_TRUE(health.WaitForRounds(1, milliseconds(10000)));
  EXPECT_NE(health.State("cpu:0"), hal::HealthState::kFailed);
  runtime->reset();  // joins the sampling thread
  EXPECT_EQ(ThreadCount(), before);
}

}  // namespace
}  // namespace unihal
