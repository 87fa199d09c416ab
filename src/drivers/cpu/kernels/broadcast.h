// Strided iteration over an output shape for N operands (inputs of a broadcasting op, or the
// source of a transpose or slice). Dims of size 1 are dropped and adjacent dims that are
// contiguous for every operand are merged, so the innermost loop is as long as possible and the
// per-element work is a pointer increment.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "unihal/hal/thread_pool.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cpu {

// NumPy multidirectional broadcast of `shapes`; the error says which shapes clash and where.
Result<Shape> BroadcastShapes(std::span<const Shape> shapes);

// Strides (in elements) of a tensor of `shape` read as if broadcast to `out_shape` (0 on the
// broadcast dims). `shape` must be broadcastable to `out_shape`.
std::vector<int64_t> BroadcastStrides(const Shape& shape, const Shape& out_shape);

template <size_t N>
struct IterationPlan {
  std::vector<int64_t> dims;                    // collapsed dims, outermost first; never empty
  std::array<std::vector<int64_t>, N> strides;  // per operand, per collapsed dim
  std::array<int64_t, N> base{};                // each operand's offset of element 0
  int64_t num_elements = 0;
  int64_t inner() const { return dims.back(); }
};

// Builds the plan for iterating `out_shape` in row-major order with operand k at element offset
// base[k] + sum(index[d] * strides[k][d]).
template <size_t N>
IterationPlan<N> MakeIterationPlan(const Shape& out_shape,
                                   const std::array<std::vector<int64_t>, N>& strides,
                                   const std::array<int64_t, N>& base = {}) {
  IterationPlan<N> plan;
  plan.num_elements = NumElements(out_shape);
  plan.base = base;
  for (size_t d = 0; d < out_shape.size(); ++d) {
    if (out_shape[d] == 1) continue;
    const bool mergeable = !plan.dims.empty() && [&] {
      for (size_t k = 0; k < N; ++k) {
        if (plan.strides[k].back() != strides[k][d] * out_shape[d]) return false;
      }
      return true;
    }();
    if (mergeable) {
      plan.dims.back() *= out_shape[d];
      for (size_t k = 0; k < N; ++k) plan.strides[k].back() = strides[k][d];
    } else {
      plan.dims.push_back(out_shape[d]);
      for (size_t k = 0; k < N; ++k) plan.strides[k].push_back(strides[k][d]);
    }
  }
  if (plan.dims.empty()) {
    plan.dims.push_back(1);
    for (size_t k = 0; k < N; ++k) plan.strides[k].push_back(0);
  }
  return plan;
}

// Calls fn(out_index, operand_offsets, count, inner_strides) for the runs of consecutive output
// elements in [begin, end): run element i is at output out_index + i and at operand k's
// offset operand_offsets[k] + i * inner_strides[k].
template <size_t N, typename Fn>
void ForEachRun(const IterationPlan<N>& plan, int64_t begin, int64_t end, Fn&& fn) {
  if (begin >= end) return;
  const size_t outer_rank = plan.dims.size() - 1;
  const int64_t inner = plan.inner();
  std::array<int64_t, N> inner_strides;
  for (size_t k = 0; k < N; ++k) inner_strides[k] = plan.strides[k][outer_rank];

  // Decompose the starting row into outer indices.
  std::vector<int64_t> index(outer_rank, 0);
  int64_t row = begin / inner;
  int64_t col = begin % inner;
  for (size_t d = outer_rank; d-- > 0;) {
    index[d] = row % plan.dims[d];
    row /= plan.dims[d];
  }
  std::array<int64_t, N> row_offset = plan.base;
  for (size_t k = 0; k < N; ++k) {
    for (size_t d = 0; d < outer_rank; ++d) row_offset[k] += index[d] * plan.strides[k][d];
  }
  int64_t pos = begin;
  while (pos < end) {
    const int64_t count = std::min(inner - col, end - pos);
    std::array<int64_t, N> offsets;
    for (size_t k = 0; k < N; ++k) offsets[k] = row_offset[k] + col * inner_strides[k];
    fn(pos, offsets, count, inner_strides);
    pos += count;
    col = 0;
    for (size_t d = outer_rank; d-- > 0;) {
      for (size_t k = 0; k < N; ++k) row_offset[k] += plan.strides[k][d];
      if (++index[d] < plan.dims[d]) break;
      for (size_t k = 0; k < N; ++k) row_offset[k] -= plan.strides[k][d] * plan.dims[d];
      index[d] = 0;
    }
  }
}

// ForEachRun over the whole plan, split across `pool` when it is large.
template <size_t N, typename Fn>
void ParallelForEachRun(hal::ThreadPool& pool, const IterationPlan<N>& plan, Fn&& fn) {
  constexpr int64_t kGrain = 1 << 15;  // elements per task: amortises the thread hand-off
  pool.ParallelFor(plan.num_elements, kGrain,
                   [&](int64_t begin, int64_t end) { ForEachRun(plan, begin, end, fn); });
}

}  // namespace unihal::cpu
