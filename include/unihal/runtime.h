// Runtime: opens every available device once; sessions run models on them.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "unihal/hal/device.h"
#include "unihal/hal/sim_npu_options.h"
#include "unihal/monitor.h"
#include "unihal/status.h"
#include "unihal/tenant.h"

namespace unihal {

namespace sched {
class Scheduler;
}
class ModelCache;

struct RuntimeOptions {
  int cpu_threads = 0;  // 0 = one per core
  // The simulated NPU (R1.6): name profiles (e.g. {"edge-34"}) to enable it; fault injection.
  // Never picked by FindDevice("auto"); ask for "sim-npu" or "sim-npu:0".
  hal::SimNpuOptions sim_npu;
  // R2.3: start the health monitor's sampling thread in Create (otherwise on the first
  // health_monitor() call; a Runtime that never asks starts no thread).
  bool start_health_monitor = false;
  HealthMonitorOptions health_monitor;
  // R5.7: the tenants and their budgets (the default tenant "" needs no entry).
  std::vector<TenantConfig> tenants;
  // R5.1: a task at priority level L is never overtaken by work submitted L * aging_step after.
  std::chrono::milliseconds aging_step{20};
  // Scheduler workers for the CPU device. Each runs one task at a time, with the whole thread
  // pool unless the task's tenant has a CPU share (TenantConfig::cpu_cores).
  int cpu_workers = 1;
};

// A driver that could not open any device here, and why.
struct UnavailableDriver {
  std::string driver;
  std::string reason;
};

class Runtime {
 public:
  // Never fails because a driver is missing: that driver is listed in unavailable().
  static Result<std::shared_ptr<Runtime>> Create(const RuntimeOptions& options = {});

  const std::vector<std::shared_ptr<hal::Device>>& devices() const { return devices_; }
  const std::vector<UnavailableDriver>& unavailable() const { return unavailable_; }
  // "cpu:0", a driver name ("cpu": its first device) or "auto" (best real device).
  Result<std::shared_ptr<hal::Device>> FindDevice(std::string_view id) const;
  // The CPU device (always present).
  std::shared_ptr<hal::Device> cpu() const;
  // The runtime's scheduler (R5), started on first use: one lane per device, in devices()
  // order. Sessions submit their asynchronous runs to it.
  sched::Scheduler& scheduler() const;
  // R3.4: models loaded by this runtime's sessions, shared while any session holds them.
  ModelCache& model_cache() const { return *model_cache_; }
  ~Runtime();

  // R5.8: every Session::Run of this runtime is recorded here.
  PerfMonitor& perf_monitor() const { return *perf_monitor_; }
  // R2.3: samples every device; its thread starts on the first call.
  HealthMonitor& health_monitor() const;

 private:
  Runtime() = default;
  RuntimeOptions options_;
  // Before the scheduler: its workers record into the monitor until they are joined.
  std::unique_ptr<PerfMonitor> perf_monitor_ = std::make_unique<PerfMonitor>();
  mutable std::once_flag scheduler_once_;
  mutable std::unique_ptr<sched::Scheduler> scheduler_;
  std::unique_ptr<ModelCache> model_cache_;
  std::vector<std::shared_ptr<hal::Device>> devices_;
  std::vector<UnavailableDriver> unavailable_;
  HealthMonitorOptions health_options_;
  // Declared last: destroyed (its thread joined) before the devices it samples.
  mutable std::once_flag health_once_;
  mutable std::unique_ptr<HealthMonitor> health_monitor_;
};

}  // namespace unihal
