// What a FusedConv adds after the convolution (a residual sum, then an activation), as oneDNN
// post-ops and as a plain reference for the fallback path.
#pragma once

#include <dnnl.hpp>
#include <optional>
#include <string>

#include "unihal/hal/kernel.h"
#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cpu {

struct ConvPostOps {
  bool sum = false;                        // Y += input 3 before the activation
  std::optional<dnnl::algorithm> eltwise;  // the activation, when there is one
  std::string activation;                  // its ONNX name (for the reference path)
  float alpha = 0.f;
  float beta = 0.f;
  // Layouts (cpu_layout.h): true = channel-blocked by `block` (8 or 16), false = plain.
  bool x_blocked = false;
  bool sum_blocked = false;
  bool y_blocked = false;
  int64_t block = 0;  // shared by the blocked ones; 0 when none is
  bool empty() const { return !sum && !eltwise; }
  bool any_blocked() const { return x_blocked || sum_blocked || y_blocked; }
};

// The post-ops and layouts of a FusedConv node (none for a plain Conv).
Result<ConvPostOps> ParseConvPostOps(const ir::Node& node);

// `attr` with the post-ops appended.
void AppendPostOps(const ConvPostOps& ops, dnnl::primitive_attr& attr);

// data[i] = activation(data[i] + sum[i]) for i < n: the post-ops on plain values (`sum` may be
// null; it is only added when ops.sum is set).
void ApplyPostOps(const ConvPostOps& ops, float* data, const float* sum, int64_t n);

// Runs `conv` (a kernel computing the plain convolution into output 0) and applies `ops` to
// its result: the reference of what oneDNN fuses.
Status ComputeWithReferencePostOps(const hal::Kernel& conv, const ConvPostOps& ops,
                                   hal::KernelContext& context);

}  // namespace unihal::cpu
