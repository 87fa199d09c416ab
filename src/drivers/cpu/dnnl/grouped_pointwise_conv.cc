#include "drivers/cpu/dnnl/grouped_pointwise_conv.h"

#include <dnnl.h>

#include <algorithm>

namespace unihal::cpu {

bool IsGroupedPointwise(int64_t group, int64_t in_per_group, const Shape& kernel,
                        const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations,
                        const std::vector<int64_t>& pad_begin,
                        const std::vector<int64_t>& pad_end) {
  auto all = [](const auto& values, int64_t v) {
    return std::all_of(values.begin(), values.end(), [v](int64_t x) { return x == v; });
  };
  return group > 1 && in_per_group > 1 && all(kernel, 1) && all(strides, 1) && all(dilations, 1) &&
         all(pad_begin, 0) && all(pad_end, 0);
}

void RunGroupedPointwise(hal::ThreadPool& pool, const GroupedPointwiseShape& s, const float* x,
                         const float* w, const float* bias, const float* sum,
                         const ConvPostOps& ops, float* y) {
  const int64_t in_block = s.in_per_group * s.pixels, out_block = s.out_per_group * s.pixels;
  auto one = [&](int64_t item) {
    const int64_t g = item % s.group;
    float* out = y + item * out_block;
    // Row-major C = A x B: A the group's weights, B the group's input channels.
    dnnl_sgemm('N', 'N', s.out_per_group, s.pixels, s.in_per_group, 1.f,
               w + g * s.out_per_group * s.in_per_group, s.in_per_group, x + item * in_block,
               s.pixels, 0.f, out, s.pixels);
    if (bias) {
      for (int64_t m = 0; m < s.out_per_group; ++m) {
        const float b = bias[g * s.out_per_group + m];
        float* row = out + m * s.pixels;
        for (int64_t p = 0; p < s.pixels; ++p) row[p] += b;
      }
    }
    ApplyPostOps(ops, out, sum ? sum + item * out_block : nullptr, out_block);
  };
  const int64_t items = s.batch * s.group;
  if (items < pool.num_threads()) {
    for (int64_t item = 0; item < items; ++item) one(item);  // each SGEMM uses the threads
    return;
  }
  // One SGEMM per thread at a time (oneDNN runs a GEMM called inside a parallel region on the
  // calling thread alone).
  pool.ParallelFor(items, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) one(item);
  });
}

}  // namespace unihal::cpu
