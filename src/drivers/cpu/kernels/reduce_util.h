// The shared part of the Reduce* kernels: which dims a node reduces (axes from the attribute or
// input, keepdims, noop_with_empty_axes) and a walk that folds every input element into its
// output. The reductions themselves (sum, max, log-sum-exp, ...) live with their kernels.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "drivers/cpu/kernels/broadcast.h"
#include "unihal/hal/kernel.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cpu {

struct ReduceGeometry {
  std::vector<bool> reduced;  // per input dim
  Shape input_shape;
  Shape kept_shape;   // the input shape with the reduced dims set to 1
  Shape out_shape;    // kept_shape, or without the reduced dims when keepdims = 0
  int64_t count = 1;  // input elements folded into each output
  // Whether the reduced dims are all trailing: each output is then one contiguous run of the
  // input, so outputs can be folded in parallel.
  bool trailing = true;
  int64_t num_outputs() const { return NumElements(kept_shape); }
};

// The geometry of the Reduce* node being computed on `x`. Axes come from input 1 from opset
// `axes_input_since` on, else from the `axes` attribute.
Result<ReduceGeometry> ReduceGeometryOf(const hal::KernelContext& context, const Tensor& x,
                                        int axes_input_since);

// Calls fold(output_index, element) for every element of `src` (laid out as
// geometry.input_shape). Calls for one output come in input order and from one thread.
template <typename T, typename Fold>
void FoldReduced(hal::ThreadPool& pool, const ReduceGeometry& geometry, const T* src, Fold&& fold) {
  const int64_t count = geometry.count;
  if (geometry.trailing) {
    const int64_t grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, count));
    pool.ParallelFor(geometry.num_outputs(), grain, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        for (int64_t i = 0; i < count; ++i) fold(o, src[o * count + i]);
      }
    });
    return;
  }
  if (NumElements(geometry.input_shape) == 0) return;
  // Walk the input in order; each element lands in its output via broadcast strides.
  const IterationPlan<1> plan = MakeIterationPlan<1>(
      geometry.input_shape, {BroadcastStrides(geometry.kept_shape, geometry.input_shape)});
  ForEachRun(plan, 0, plan.num_elements,
             [&](int64_t in, const std::array<int64_t, 1>& at, int64_t n,
                 const std::array<int64_t, 1>& step) {
               for (int64_t i = 0; i < n; ++i) fold(at[0] + i * step[0], src[in + i]);
             });
}

}  // namespace unihal::cpu
