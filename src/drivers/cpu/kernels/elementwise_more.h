// Pieces shared by the files of the "more elementwise" kernel family (elementwise_more*.cc):
// elementwise loops over host tensors and the family's per-file registration functions.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "drivers/cpu/kernels/broadcast.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "unihal/hal/kernel.h"
#include "unihal/hal/kernel_registry.h"

namespace unihal::cpu {

// elementwise_more_binary.cc: Mod BitShift BitwiseAnd/Or/Xor/Not BitCast PRelu (called by
// RegisterMoreElementwiseKernels in elementwise_more.cc, which has the unary activations).
void RegisterMoreBinaryKernels(hal::KernelRegistry& registry);

// dst[i] = fn(src[i]) over n elements, split across `pool` when large.
template <typename TI, typename TO, typename Fn>
void MapElements(hal::ThreadPool& pool, const TI* src, TO* dst, int64_t n, Fn fn) {
  pool.ParallelFor(n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dst[i] = fn(src[i]);
  });
}

// The NumPy broadcast of a and b's shapes; the error names the node.
inline Result<Shape> BroadcastPair(const ir::Node& node, const Tensor& a, const Tensor& b) {
  const Shape shapes[] = {a.shape(), b.shape()};
  Result<Shape> out = BroadcastShapes(shapes);
  if (!out.ok()) return InvalidArgumentError(node.Describe() + ": " + out.status().message());
  return out;
}

// out = fn(a, b) elementwise, with a and b broadcast to out's shape (TA, TB, TO: storage types).
template <typename TA, typename TB, typename TO, typename Fn>
void BroadcastMap(hal::ThreadPool& pool, const Tensor& a, const Tensor& b, Tensor& out, Fn fn) {
  const Shape& out_shape = out.shape();
  const IterationPlan<2> plan = MakeIterationPlan<2>(
      out_shape, {BroadcastStrides(a.shape(), out_shape), BroadcastStrides(b.shape(), out_shape)});
  const TA* pa = a.data_as<TA>();
  const TB* pb = b.data_as<TB>();
  TO* po = out.data_as<TO>();
  ParallelForEachRun(pool, plan,
                     [&](int64_t o, const std::array<int64_t, 2>& at, int64_t n,
                         const std::array<int64_t, 2>& step) {
                       const TA* ra = pa + at[0];
                       const TB* rb = pb + at[1];
                       TO* ro = po + o;
                       for (int64_t i = 0; i < n; ++i) ro[i] = fn(ra[i * step[0]], rb[i * step[1]]);
                     });
}

}  // namespace unihal::cpu
