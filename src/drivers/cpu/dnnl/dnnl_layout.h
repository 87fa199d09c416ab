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

// The channel block of the blocked layout on this CPU: 16 (nChw16c) where oneDNN runs its
// AVX-512 kernels, whose convolutions take 16-channel blocks (with nChw8c they fall back to
// their AVX2 kernels, at half the speed), else 8 (nChw8c).
int64_t PreferredChannelBlock();

// The layout the node's attribute `attr` (x_layout / y_layout, cpu_layout.h) names: 0 plain,
// or the channel block, 8 or 16.
Result<int64_t> ParseBlockedLayout(const ir::Node& node, const char* attr);

// The x_layout and y_layout of a blocked-aware node (pooling, BatchNormalization, LRN): which
// are blocked and the channel block they share; PreferredChannelBlock() when neither is, for
// the kernels that run plain tensors through blocked copies.
struct XYLayouts {
  bool x_blocked = false;
  bool y_blocked = false;
  int64_t block = 8;
};
Result<XYLayouts> ParseXYLayouts(const ir::Node& node);

// Whether input 0 of the node is known to be 4-D with channels a multiple of `block`.
bool HasBlockableChannels(const hal::KernelCreateInfo& info, int64_t block);

// The channel-blocked (nCw{b}c, nChw{b}c, nCdhw{b}c for block b = 8 or 16) float32 descriptor
// of a rank 3..5 `shape`.
dnnl::memory::desc ChannelBlockedDesc(const Shape& shape, int64_t block);

// `shape` in the blocked layout of `block` when it is not 0, else plain.
dnnl::memory::desc LayoutDesc(const Shape& shape, int64_t block);

// Whether the blocked layout of `block` and the plain layout of `shape` hold the same bytes
// (channels a multiple of the block and every spatial dim 1, e.g. a global pool's output), so
// either descriptor may be used.
bool BlockedIsPlain(const Shape& shape, int64_t block);

// Runs `plain_kernel` (which reads and writes plain layouts) for a node whose inputs marked in
// `blocked_inputs` and whose output 0 (when `blocked_output`) are blocked by `block` channels:
// converts those inputs
// to plain copies, computes, and converts output 0 back. The slow but always-correct path when
// oneDNN declines a blocked case. `finish`, when given, then updates the plain output 0 (e.g.
// applies a fused activation).
Status ComputeOnPlainCopies(const dnnl::engine& engine, const hal::Kernel& plain_kernel,
                            const std::vector<bool>& blocked_inputs, bool blocked_output,
                            int64_t block, hal::KernelContext& context,
                            const std::function<void(Tensor&)>& finish = nullptr);

}  // namespace unihal::cpu
