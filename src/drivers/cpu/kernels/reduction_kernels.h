// The reduction family of reference kernels is split by job across a few files; each registers
// its ops here, and RegisterReductionKernels (reductions.cc) calls them all.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "unihal/hal/kernel_registry.h"

namespace unihal::cpu {

// NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss (losses.cc).
void RegisterLossKernels(hal::KernelRegistry& registry);
// CumSum, CumProd, TopK (scan_sort.cc).
void RegisterScanAndSortKernels(hal::KernelRegistry& registry);
// Einsum, Det (linalg.cc).
void RegisterLinalgKernels(hal::KernelRegistry& registry);

// Whether `value` is a NaN; false for every integer type.
template <typename C>
bool IsNan(C value) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::isnan(value);
  } else {
    return false;
  }
}

// A tensor viewed as [outer, n, inner] around the dims a kernel works along.
struct AxisSplit {
  int64_t outer = 1;
  int64_t n = 1;
  int64_t inner = 1;
};

}  // namespace unihal::cpu
