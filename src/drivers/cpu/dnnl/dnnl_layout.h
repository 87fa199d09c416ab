// Activation layouts for the oneDNN kernels of the cpu-private node forms that the layout pass
// (cpu_layout.h) makes: which of a node's values are in oneDNN's channel-blocked layout, their
// memory descriptors, and a fallback that runs a plain-layout kernel on plain copies.
#pragma once

#include <dnnl.hpp>
#include <functional>
#include <vector>

#include "unihal/hal/kernel.h"
#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cpu {

// Whether the node's attribute `attr` (x_layout / y_layout, cpu_layout.h) says blocked.
Result<bool> ParseBlockedLayout(const ir::Node& node, const char* attr);

// The channel-blocked (nCw8c, nChw8c, nCdhw8c) float32 descriptor of a rank 3..5 `shape`.
dnnl::memory::desc ChannelBlockedDesc(const Shape& shape);

// `shape` in the blocked layout when `blocked`, else plain.
dnnl::memory::desc LayoutDesc(const Shape& shape, bool blocked);

// Whether the blocked and plain layouts of `shape` hold the same bytes (channels a multiple of
// 8 and every spatial dim 1, e.g. a global pool's output), so either descriptor may be used.
bool BlockedIsPlain(const Shape& shape);

// Runs `plain_kernel` (which reads and writes plain layouts) for a node whose inputs marked in
// `blocked_inputs` and whose output 0 (when `blocked_output`) are blocked: converts those inputs
// to plain copies, computes, and converts output 0 back. The slow but always-correct path when
// oneDNN declines a blocked case. `finish`, when given, then updates the plain output 0 (e.g.
// applies a fused activation).
Status ComputeOnPlainCopies(const dnnl::engine& engine, const hal::Kernel& plain_kernel,
                            const std::vector<bool>& blocked_inputs, bool blocked_output,
                            hal::KernelContext& context,
                            const std::function<void(Tensor&)>& finish = nullptr);

}  // namespace unihal::cpu
