// The generic Executable for drivers that implement per-op kernels: creates one kernel per
// node at compile time and runs the subgraph in order on host memory, reusing intermediate
// buffers by a liveness-based memory plan.
#pragma once

#include <memory>
#include <string>

#include "unihal/hal/executable.h"
#include "unihal/hal/kernel_registry.h"
#include "unihal/hal/thread_pool.h"

namespace unihal::hal {

Result<std::shared_ptr<Executable>> CompileWithKernels(const ir::Graph& subgraph,
                                                       const KernelRegistry& registry,
                                                       ThreadPool& thread_pool);

}  // namespace unihal::hal
