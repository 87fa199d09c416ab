// The sim-npu Executable (runs the reference kernels, then charges the modelled latency, power
// and heat; optionally sleeps for the modelled latency) and the sim-npu Stream.
#pragma once

#include <memory>

#include "drivers/sim_npu/sim_npu_device.h"
#include "unihal/hal/executable.h"
#include "unihal/hal/stream.h"

namespace unihal::sim_npu {

// Checks the profile's limits, reserves the weights in device memory and compiles with the
// state's kernels.
Result<std::shared_ptr<hal::Executable>> CompileSimNpu(std::shared_ptr<SimNpuState> state,
                                                       const ir::Graph& subgraph);

// Synchronous, in-order stream; every call fails once the device is lost.
std::unique_ptr<hal::Stream> CreateSimNpuStream(std::shared_ptr<SimNpuState> state);

}  // namespace unihal::sim_npu
