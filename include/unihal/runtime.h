// Runtime: opens every available device once; sessions run models on them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "unihal/hal/device.h"
#include "unihal/hal/sim_npu_options.h"
#include "unihal/status.h"

namespace unihal {

struct RuntimeOptions {
  int cpu_threads = 0;  // 0 = one per core
  // The simulated NPU (R1.6): name profiles (e.g. {"edge-34"}) to enable it; fault injection.
  // Never picked by FindDevice("auto"); ask for "sim-npu" or "sim-npu:0".
  hal::SimNpuOptions sim_npu;
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

 private:
  Runtime() = default;
  std::vector<std::shared_ptr<hal::Device>> devices_;
  std::vector<UnavailableDriver> unavailable_;
};

}  // namespace unihal
