#include "drivers/sim_npu/sim_npu_driver.h"

#include <cstdlib>

#include "drivers/sim_npu/sim_npu_device.h"

namespace unihal::sim_npu {
namespace {

class SimNpuDriver final : public hal::Driver {
 public:
  explicit SimNpuDriver(std::function<void(hal::KernelRegistry&)> register_kernels)
      : register_kernels_(std::move(register_kernels)) {}

  std::string_view name() const override { return "sim-npu"; }

  Result<std::vector<std::shared_ptr<hal::Device>>> OpenDevices(
      const hal::DriverOptions& driver_options) override {
    hal::SimNpuOptions options = driver_options.sim_npu;
    if (options.profiles.empty()) {
      return UnavailableError(
          "not enabled (simulated NPU; pass --sim-npu PROFILE, e.g. edge-34 or tiny-4)");
    }
    // $UNIHAL_SIM_NPU_FAULTS adds to (and overrides) the faults given in the options.
    if (const char* env = std::getenv("UNIHAL_SIM_NPU_FAULTS"); env && *env) {
      Status s = hal::ParseSimNpuFaults(env, options.faults);
      if (!s.ok()) return UnavailableError("UNIHAL_SIM_NPU_FAULTS: " + s.message());
    }
    std::vector<std::shared_ptr<hal::Device>> devices;
    for (size_t i = 0; i < options.profiles.size(); ++i) {
      Result<SimNpuProfile> profile = LoadSimNpuProfile(options.profiles[i], options);
      if (!profile.ok()) return UnavailableError(profile.status().message());
      devices.push_back(std::make_shared<SimNpuDevice>(std::move(*profile), options,
                                                       static_cast<int>(i), register_kernels_));
    }
    return devices;
  }

 private:
  std::function<void(hal::KernelRegistry&)> register_kernels_;
};

}  // namespace

std::unique_ptr<hal::Driver> CreateSimNpuDriver(
    std::function<void(hal::KernelRegistry&)> register_reference_kernels) {
  return std::make_unique<SimNpuDriver>(std::move(register_reference_kernels));
}

}  // namespace unihal::sim_npu
