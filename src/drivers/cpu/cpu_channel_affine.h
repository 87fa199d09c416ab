// Per-channel affine chains on the cpu device (applied in its Compile, before FuseConvPostOps).
// Models exported from Caffe2 (DenseNet-121, Inception-v2 of the ONNX zoo) write each batch
// norm as BatchNormalization followed by a per-channel Mul and Add; run as broadcasting
// elementwise ops they cost three memory passes each.
// - Conv followed by per-channel Mul / Add / Sub by constants and inference BatchNormalization
//   (each the sole reader of the value before it) becomes one Conv with new constant weights
//   and bias.
// - A chain starting at an inference BatchNormalization elsewhere (DenseNet's pre-activation
//   after a Concat), with the Mul / Add / Sub that follow and an optional Relu, becomes one
//   cpu-private BatchNormalization (domain kCpuFusionDomain) computing a * x + b per channel
//   (mean 0, variance 1, epsilon 0, scale a, shift b) with "activation" = "Relu" when fused.
#pragma once

#include "drivers/cpu/cpu_fusion.h"

namespace unihal::cpu {

// The cpu-private BatchNormalization's fused activation attribute (absent or "Relu").
inline constexpr const char* kBatchNormActivationAttr = "activation";

Status FuseChannelAffine(ir::Graph& graph, const FusionCheck& can_run);

}  // namespace unihal::cpu
