// One backend kind: enumerates and opens its devices.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "unihal/hal/device.h"
#include "unihal/hal/sim_npu_options.h"
#include "unihal/status.h"

namespace unihal::hal {

struct DriverOptions {
  int cpu_threads = 0;    // 0 = one per core
  SimNpuOptions sim_npu;  // the simulated NPU: off unless profiles are named
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string_view name() const = 0;
  // Every device of this kind on the machine. An error (kUnavailable, ...) means the driver
  // cannot run here; its message is the reason shown to users.
  virtual Result<std::vector<std::shared_ptr<Device>>> OpenDevices(
      const DriverOptions& options) = 0;
};

}  // namespace unihal::hal
