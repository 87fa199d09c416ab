// Blocked activations between oneDNN convolutions. After fusion (cpu_fusion.h), a 4-D float32
// value produced by a Conv/FusedConv and read only by Conv/FusedConv nodes (as X or as the fused
// sum) is kept in oneDNN's channel-blocked layout nChw8c (aBcd8b) instead of plain NCHW, so the
// reorders to and from the convolution's own layout disappear. The Tensor keeps its logical NCHW
// shape; only the bytes are arranged differently. Such a value is never a graph output and never
// read by any other kernel: every node touching it is turned into a FusedConv (which only the
// cpu's oneDNN kernel runs) with the attributes below.
#pragma once

#include "drivers/cpu/cpu_fusion.h"

namespace unihal::cpu {

// FusedConv attributes naming the layout of X, of the sum input and of Y: 0 (or absent) plain,
// kBlockedChannels = nChw8c.
inline constexpr const char* kXLayoutAttr = "x_layout";
inline constexpr const char* kSumLayoutAttr = "sum_layout";
inline constexpr const char* kYLayoutAttr = "y_layout";
inline constexpr int64_t kBlockedChannels = 8;

// Marks the values that can stay blocked (channel count a multiple of kBlockedChannels, static
// channel dim); a node is only changed when `can_run` accepts its FusedConv form.
Status KeepConvActivationsBlocked(ir::Graph& graph, const FusionCheck& can_run);

}  // namespace unihal::cpu
