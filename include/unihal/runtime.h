// Runtime: opens every available device once; sessions run models on them.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "unihal/hal/device.h"
#include "unihal/hal/sim_npu_options.h"
#include "unihal/monitor.h"
#include "unihal/status.h"

namespace unihal {

struct RuntimeOptions {
  int cpu_threads = 0;  // 0 = one per core
  // The simulated NPU (R1.6): name profiles (e.g. {"edge-34"}) to enable it; fault injection.
  // Never picked by FindDevice("auto"); ask for "sim-npu" or "sim-npu:0".
  hal::SimNpuOptions sim_npu;
  // R2.3: start the health monitor's sampling thread in Create (otherwise on the first
  // health_monitor() call; a Runtime that never asks starts no thread).
  bool start_health_monitor = false;
  HealthMonitorOptions health_monitor;
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

  // R5.8: every Session::Run of this runtime is recorded here.
  PerfMonitor& perf_monitor() const { return *perf_monitor_; }
  // R2.3: samples every device; its thread starts on the first call.
  HealthMonitor& health_monitor() const;

 private:
  Runtime() = default;
  std::vector<std::shared_ptr<hal::Device>> devices_;
  std::vector<UnavailableDriver> unavailable_;
  HealthMonitorOptions health_options_;
  std::unique_ptr<PerfMonitor> perf_monitor_ = std::make_unique<PerfMonitor>();
  // Declared last: destroyed (its thread joined) before the devices it samples.
  mutable std::once_flag health_once_;
  mutable std::unique_ptr<HealthMonitor> health_monitor_;
};

}  // namespace unihal
