// The sim-npu driver (R1.6): a software NPU for developing and testing NPU deployments without
// the chip. Off unless profiles are named (SimNpuOptions::profiles, `--sim-npu PROFILE`).
#pragma once

#include <functional>
#include <memory>

#include "unihal/hal/driver.h"
#include "unihal/hal/kernel_registry.h"

namespace unihal::sim_npu {

// `register_reference_kernels` fills a device's kernel registry with the kernels its results
// are computed with; src/drivers/registry.cc passes the cpu reference kernels.
std::unique_ptr<hal::Driver> CreateSimNpuDriver(
    std::function<void(hal::KernelRegistry&)> register_reference_kernels);

}  // namespace unihal::sim_npu
