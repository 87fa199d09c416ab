// Grouped (not depthwise) 1x1 convolutions with stride 1 and no padding, on plain NCHW: one
// oneDNN SGEMM per image and group, Y[n, g] = W[g] (M/g x C/g) x X[n, g] (C/g x pixels), then
// bias, residual sum and activation while the group's output is still in cache. ShuffleNet is
// made of them: oneDNN 2.6's convolution runs them as GEMMs too, but at 25-60 GFLOP/s against
// 70-130 here, and its sum post-op for them is a scalar loop (cpu_fusion.cc).
#pragma once

#include <cstdint>

#include "drivers/cpu/dnnl/dnnl_post_ops.h"
#include "unihal/hal/thread_pool.h"
#include "unihal/tensor.h"

namespace unihal::cpu {

struct GroupedPointwiseShape {
  int64_t batch = 1;
  int64_t group = 1;
  int64_t in_per_group = 1;   // C / group
  int64_t out_per_group = 1;  // M / group
  int64_t pixels = 1;         // product of the spatial dims
};

// Whether this path takes a convolution: group > 1, more than one input channel per group,
// every kernel dim, stride and dilation 1, no padding.
bool IsGroupedPointwise(int64_t group, int64_t in_per_group, const Shape& kernel,
                        const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations,
                        const std::vector<int64_t>& pad_begin, const std::vector<int64_t>& pad_end);

// y = activation(conv(x, w) + bias + sum) per `ops` (plain layouts only; bias and sum may be
// null). `w` is ONNX's (M, C/group, 1, ...) weight tensor.
void RunGroupedPointwise(hal::ThreadPool& pool, const GroupedPointwiseShape& s, const float* x,
                         const float* w, const float* bias, const float* sum,
                         const ConvPostOps& ops, float* y);

}  // namespace unihal::cpu
