// The cpu device's MatMul epilogue fusion (issue 4, SPEC R3.3): MatMul with a constant 2-D B,
// alone or followed by a bias Add (a constant of N values), then a residual Add or the erf GELU
// (x * 0.5 * (1 + erf(x / sqrt 2)), as exported by PyTorch and Keras), becomes one FusedMatMul
// node (domain kCpuFusionDomain) that oneDNN runs with B packed once, the bias and post-ops.
// Applied in the device's Compile, after placement, like FuseConvPostOps.
#pragma once

#include "drivers/cpu/cpu_fusion.h"

namespace unihal::cpu {

// FusedMatMul: inputs A, B (constant, rank 2), Bias (optional: N values, added to each row),
// Sum (optional: added after the bias; Y's shape, else broadcast in a second pass); attribute
// "activation" = "Gelu" (erf form, applied last) or absent.
inline constexpr const char* kFusedMatMulOp = "FusedMatMul";

// Rewrites every MatMul [-> Add(bias) -> [Add(residual) | GELU]] chain whose intermediate values
// have a single reader (the GELU's input: its own nodes only) and that `can_run` accepts.
Status FuseMatMulEpilogues(ir::Graph& graph, const FusionCheck& can_run);

}  // namespace unihal::cpu
