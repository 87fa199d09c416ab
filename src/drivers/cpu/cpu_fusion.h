// The cpu device's own graph rewrite, applied in its Compile (after placement, so placement and
// Supports still see the original ONNX ops): Conv followed by a residual Add (or two-input Sum)
// and/or an activation becomes one FusedConv node (domain kCpuFusionDomain) that oneDNN runs
// with post-ops. No other device ever sees these nodes.
#pragma once

#include <functional>

#include "unihal/ir/graph.h"
#include "unihal/status.h"

namespace unihal::cpu {

inline constexpr const char* kCpuFusionDomain = "com.unihal.cpu";

// FusedConv: inputs X, W, B (optional), Sum (optional: added to the convolution's result before
// the activation; same shape as Y); Conv's attributes plus "activation" (Relu, LeakyRelu,
// Sigmoid, Tanh or Clip; absent for none) with "activation_alpha" / "activation_beta" (LeakyRelu
// alpha; Clip min and max).
inline constexpr const char* kFusedConvOp = "FusedConv";

// Whether a candidate fused node can run (the device's kernels support it).
using FusionCheck = std::function<bool(const ir::Node& fused, const ir::Graph& graph)>;

// Rewrites every Conv -> [Add] -> [activation] chain whose intermediate values have a single
// reader and that `can_run` accepts. The fused node takes the place of the chain's last node.
Status FuseConvPostOps(ir::Graph& graph, const FusionCheck& can_run);

}  // namespace unihal::cpu
