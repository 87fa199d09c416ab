// Blocked activations between oneDNN ops. After fusion (cpu_fusion.h), 4-D float32 values with
// a static channel count that is a multiple of the channel block (8 or 16, the one oneDNN's
// convolutions take on this CPU, PreferredChannelBlock in dnnl_layout.h) are kept in oneDNN's
// channel-blocked layout nChw8c (aBcd8b) or nChw16c instead of plain NCHW wherever every node
// that produces or reads them accepts it, so the reorders to and from the kernels' own layout
// disappear. The Tensor keeps its
// logical NCHW shape and byte size; only the bytes are arranged differently. A blocked value is
// never a graph input or output, never an initializer, and never read by a node that does not
// accept it; the reorder to plain then happens once, inside the last blocked-aware kernel.
//
// Nodes that accept blocked values:
// - Conv / FusedConv: X, the fused sum and Y each in either layout (becomes a FusedConv with
//   the x_layout / sum_layout / y_layout attributes below).
// - MaxPool, AveragePool, GlobalAveragePool (4-D, no Indices output): X and Y each in either
//   layout; such nodes move to domain kCpuFusionDomain with x_layout / y_layout, a form only
//   the cpu's oneDNN pooling kernel runs.
// - BatchNormalization (also cpu_channel_affine.h's form), LRN: X and Y share one layout; blocked
//   ones move to domain kCpuFusionDomain with x_layout = y_layout = the block.
// - Layout-transparent ops whose result does not depend on where each element lies, as long as
//   all their tensor operands share one layout: elementwise unary ops (Relu, Clip, ...,
//   Dropout, Identity), same-shape elementwise binary ops (Add, Sum, Mul, ...; no broadcast),
//   and Concat along the channel axis (every input's channels a multiple of the block, so each
//   input is one contiguous run of channel blocks per image, exactly as in NCHW). They stay
//   unchanged.
#pragma once

#include "drivers/cpu/cpu_fusion.h"

namespace unihal::cpu {

// Attributes naming the layout of X, of the sum input and of Y: 0 (or absent) plain, 8 nChw8c,
// 16 nChw16c. The blocked values of one node share one block.
inline constexpr const char* kXLayoutAttr = "x_layout";
inline constexpr const char* kSumLayoutAttr = "sum_layout";
inline constexpr const char* kYLayoutAttr = "y_layout";

// Marks the values that can stay blocked by `block` channels (8 or 16); a node is only changed
// when `can_run` accepts its blocked-aware form. Graphs with subgraphs (If/Loop bodies may
// capture any value) are left as they are.
Status KeepConvActivationsBlocked(ir::Graph& graph, const FusionCheck& can_run, int64_t block);

}  // namespace unihal::cpu
