#include "drivers/cpu/kernels/window_plain.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>

namespace unihal::cpu {
namespace {

// 16 floats: GCC lowers the operations to one AVX-512 register in the avx512f functions below,
// to two AVX ones in the avx2 functions and to four SSE ones otherwise. The tap loop, whose
// accumulators must stay in registers, uses the target's own width instead (RunTapsBy).
typedef float Lanes __attribute__((vector_size(16 * sizeof(float))));
typedef float Lanes8 __attribute__((vector_size(8 * sizeof(float))));
typedef float Lanes4 __attribute__((vector_size(4 * sizeof(float))));
constexpr int64_t kLanes = 16;
template <typename V>
constexpr int64_t kWidthOf = sizeof(V) / sizeof(float);
constexpr int64_t kMaxStep = 8 * kLanes;  // the most outputs computed at once

enum class Reduce { kWeighted, kMax, kSum };

int64_t RoundUp(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// Vectors go by reference: passing or returning them by value would change with the target.
template <typename V>
__attribute__((always_inline)) inline void Combine(Reduce reduce, V& acc, const V& v, const V& w) {
  if (reduce == Reduce::kWeighted) {
    acc += w * v;
  } else if (reduce == Reduce::kMax) {
    acc = acc > v ? acc : v;
  } else {
    acc += v;
  }
}

// out[pos] for pos < plan.positions (rounded up to the step): every tap of the window combined,
// each read at tap_offsets[t] + pos of the copy. kVectors chains of dependent FMAs (or maxima)
// run side by side: 8 cover the latency of the two FMA units, 4 waste less on small planes.
// V is the target's register: GCC kept 16-lane accumulators on the stack in the avx2 functions
// (an FMA with a stack operand and a store per vector), which ran ShuffleNet's depthwise
// convolutions about 4x slower than the AVX-512 ones.
template <typename V, Reduce kReduce, int kVectors>
__attribute__((always_inline)) inline void RunTapsBy(const PlainWindowPlan& plan, const float* copy,
                                                     const float* weights, float* out) {
  constexpr int64_t kWidth = kWidthOf<V>;
  static_assert(kMaxStep % (kVectors * kWidth) == 0);
  const int64_t taps = static_cast<int64_t>(plan.tap_offsets.size());
  const int64_t* offsets = plan.tap_offsets.data();
  V init = V{};
  if (kReduce == Reduce::kMax) init -= std::numeric_limits<float>::infinity();
  for (int64_t pos = 0; pos < plan.positions; pos += kVectors * kWidth) {
    V acc[kVectors];
#pragma GCC unroll 8
    for (int v = 0; v < kVectors; ++v) acc[v] = init;
    for (int64_t t = 0; t < taps; ++t) {
      const float* s = copy + offsets[t] + pos;
      const V w = kReduce == Reduce::kWeighted ? V{} + weights[t] : V{};
#pragma GCC unroll 8
      for (int v = 0; v < kVectors; ++v) {
        V x;
        __builtin_memcpy(&x, s + v * kWidth, sizeof(x));
        Combine(kReduce, acc[v], x, w);
      }
    }
#pragma GCC unroll 8
    for (int v = 0; v < kVectors; ++v) {
      __builtin_memcpy(out + pos + v * kWidth, &acc[v], sizeof(acc[v]));
    }
  }
}

template <typename V, Reduce kReduce>
__attribute__((always_inline)) inline void RunTaps(const PlainWindowPlan& plan, const float* copy,
                                                   const float* weights, float* out) {
  if (plan.positions >= 8 * kWidthOf<V>) {
    RunTapsBy<V, kReduce, 8>(plan, copy, weights, out);
  } else {
    RunTapsBy<V, kReduce, 4>(plan, copy, weights, out);
  }
}

// The maximum or the sum of n contiguous floats.
template <Reduce kReduce>
__attribute__((always_inline)) inline float ReducePlane(const float* x, int64_t n) {
  const bool is_max = kReduce == Reduce::kMax;
  const float init = is_max ? -std::numeric_limits<float>::infinity() : 0.f;
  Lanes a0 = Lanes{} + init, a1 = a0, a2 = a0, a3 = a0;
  const Lanes unused{};
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    Lanes v0, v1, v2, v3;
    __builtin_memcpy(&v0, x + i, sizeof(v0));
    __builtin_memcpy(&v1, x + i + kLanes, sizeof(v1));
    __builtin_memcpy(&v2, x + i + 2 * kLanes, sizeof(v2));
    __builtin_memcpy(&v3, x + i + 3 * kLanes, sizeof(v3));
    Combine(kReduce, a0, v0, unused);
    Combine(kReduce, a1, v1, unused);
    Combine(kReduce, a2, v2, unused);
    Combine(kReduce, a3, v3, unused);
  }
  Combine(kReduce, a0, a1, unused);
  Combine(kReduce, a2, a3, unused);
  Combine(kReduce, a0, a2, unused);
  float result = init;
  for (int64_t lane = 0; lane < kLanes; ++lane) {
    result = is_max ? std::max(result, a0[lane]) : result + a0[lane];
  }
  for (; i < n; ++i) result = is_max ? std::max(result, x[i]) : result + x[i];
  return result;
}

// Fills the copy with `pad` (the slack after the phases, which the last vectors read for outputs
// nobody keeps, with 0): once per run of planes, since CopyInput only rewrites the cells that
// hold input.
void FillPadding(const PlainWindowPlan& plan, float pad, float* copy) {
  const int64_t phases_end = plan.g.stride_h * plan.g.stride_w * plan.rows * plan.cols;
  std::fill(copy, copy + phases_end, pad);
  std::fill(copy + phases_end, copy + plan.copy_floats, 0.f);
}

// dst[i] = src[i] for i < n >= the width of V: whole vectors, the last one overlapping the one
// before.
template <typename V>
__attribute__((always_inline)) inline void CopyByVectors(float* dst, const float* src, int64_t n) {
  constexpr int64_t kWidth = kWidthOf<V>;
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) __builtin_memcpy(dst + i, src + i, sizeof(V));
  if (i < n) __builtin_memcpy(dst + n - kWidth, src + n - kWidth, sizeof(V));
}

// dst[i] = src[i] for i < n, with vectors of 16, 8 or 4 floats and no call: the rows copied are
// short.
__attribute__((always_inline)) inline void CopyFloats(float* dst, const float* src, int64_t n) {
  if (n >= kLanes) {
    CopyByVectors<Lanes>(dst, src, n);
  } else if (n >= 8) {
    CopyByVectors<Lanes8>(dst, src, n);
  } else if (n >= 4) {
    CopyByVectors<Lanes4>(dst, src, n);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

// row[c] = src[2 * c] for c in [first, end): 16 at a time from 31 consecutive floats (the last
// 16 overlapping the ones before), the rest one by one.
__attribute__((always_inline)) inline void CopyEvenFloats(float* row, const float* src,
                                                          int64_t first, int64_t end) {
  auto evens = [&](int64_t c) {
    Lanes low, high;  // src[2c, 2c + 16) and src[2c + 15, 2c + 31): no read past src[2c + 30]
    __builtin_memcpy(&low, src + 2 * c, sizeof(low));
    __builtin_memcpy(&high, src + 2 * c + 15, sizeof(high));
    const Lanes even = __builtin_shufflevector(low, high, 0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23,
                                               25, 27, 29, 31);
    __builtin_memcpy(row + c, &even, sizeof(even));
  };
  if (end - first < kLanes) {
    for (int64_t c = first; c < end; ++c) row[c] = src[2 * c];
    return;
  }
  int64_t c = first;
  for (; c + kLanes <= end; c += kLanes) evens(c);
  if (c < end) evens(end - kLanes);
}

// The input cells of the padded, phase-split copy of one input plane: phase (ph, pw) row r
// column c holds input (r * stride_h + ph - pad_top, c * stride_w + pw - pad_left).
__attribute__((always_inline)) inline void CopyInput(const PlainWindowPlan& plan,
                                                     const float* plane, float* copy) {
  const PlainWindowGeometry& g = plan.g;
  for (const PlainWindowPlan::PhaseSpan& span : plan.phase_spans) {
    float* dst = copy + span.phase * plan.rows * plan.cols;
    for (int64_t r = span.row_first; r < span.row_end; ++r) {
      const float* src = plane + (r * g.stride_h + span.row_shift) * g.in_w + span.col_shift;
      float* row = dst + r * plan.cols;
      if (g.stride_w == 1) {
        CopyFloats(row + span.col_first, src + span.col_first, span.col_end - span.col_first);
      } else if (g.stride_w == 2) {
        CopyEvenFloats(row, src, span.col_first, span.col_end);
      } else {
        for (int64_t c = span.col_first; c < span.col_end; ++c) row[c] = src[c * g.stride_w];
      }
    }
  }
}

// Output plane `dst` (out_h x out_w) from the computed rows `out` (out_h x cols): plus `bias`
// (weighted), as they are (max) or times each pixel's 1 / divisor (sum). Rows go in whole
// vectors that may run into the next row, which is written after; the last ones lane by lane so
// that nothing past the plane is touched.
template <Reduce kReduce>
__attribute__((always_inline)) inline void WritePlane(const PlainWindowPlan& plan, const float* out,
                                                      float bias, float* dst) {
  const int64_t out_w = plan.g.out_w, out_plane = plan.g.out_h * out_w;
  const int64_t vectors = (out_w + kLanes - 1) / kLanes;
  const float* inverse = plan.inverse_counts.data();
  for (int64_t oh = 0; oh < plan.g.out_h; ++oh) {
    const float* row = out + oh * plan.cols;
    float* dst_row = dst + oh * out_w;
    if (oh * out_w + vectors * kLanes <= out_plane) {
      for (int64_t v = 0; v < vectors; ++v) {
        Lanes values;
        __builtin_memcpy(&values, row + v * kLanes, sizeof(values));
        if (kReduce == Reduce::kWeighted) values += bias;
        if (kReduce == Reduce::kSum) {
          Lanes scale;
          __builtin_memcpy(&scale, inverse + oh * out_w + v * kLanes, sizeof(scale));
          values *= scale;
        }
        __builtin_memcpy(dst_row + v * kLanes, &values, sizeof(values));
      }
      continue;
    }
    for (int64_t ow = 0; ow < out_w; ++ow) {
      float value = row[ow];
      if (kReduce == Reduce::kWeighted) value += bias;
      if (kReduce == Reduce::kSum) value *= inverse[oh * out_w + ow];
      dst_row[ow] = value;
    }
  }
}

// Planes [begin, end) of x: each copied once, then its multiplier output planes computed (pools:
// one), written to y and passed to the epilogue. `weights`, `bias` and `epilogue` are for the
// convolution only.
template <typename V, Reduce kReduce>
__attribute__((always_inline)) inline void RunPlanes(const PlainWindowPlan& plan, const float* x,
                                                     const float* weights, const float* bias,
                                                     const PlaneEpilogue& epilogue, float* copy,
                                                     float* y, int64_t begin, int64_t end) {
  const PlainWindowGeometry& g = plan.g;
  const int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
  const int64_t taps = g.kernel_h * g.kernel_w, out_channels = g.channels * g.multiplier;
  float* out = copy + plan.copy_floats;
  FillPadding(plan, kReduce == Reduce::kMax ? -std::numeric_limits<float>::infinity() : 0.f, copy);
  for (int64_t p = begin; p < end; ++p) {
    CopyInput(plan, x + p * in_plane, copy);
    for (int64_t m = 0; m < g.multiplier; ++m) {
      const int64_t y_plane = p * g.multiplier + m, channel = y_plane % out_channels;
      RunTaps<V, kReduce>(plan, copy, weights ? weights + channel * taps : nullptr, out);
      float* dst = y + y_plane * out_plane;
      WritePlane<kReduce>(plan, out, bias ? bias[channel] : 0.f, dst);
      if (epilogue) epilogue(y_plane, dst);
    }
  }
}

using RunPlanesFn = void (*)(const PlainWindowPlan&, const float*, const float*, const float*,
                             const PlaneEpilogue&, float*, float*, int64_t, int64_t);
using ReducePlaneFn = float (*)(const float*, int64_t);

struct IsaKernels {
  RunPlanesFn weighted, max, sum;
  ReducePlaneFn reduce_max, reduce_sum;
};

#define UH_WINDOW_KERNELS(suffix, target, V)                                                       \
  template <Reduce kReduce>                                                                        \
  target void RunPlanes##suffix(const PlainWindowPlan& plan, const float* x, const float* weights, \
                                const float* bias, const PlaneEpilogue& epilogue, float* copy,     \
                                float* y, int64_t begin, int64_t end) {                            \
    RunPlanes<V, kReduce>(plan, x, weights, bias, epilogue, copy, y, begin, end);                  \
  }                                                                                                \
  template <Reduce kReduce>                                                                        \
  target float ReducePlane##suffix(const float* x, int64_t n) {                                    \
    return ReducePlane<kReduce>(x, n);                                                             \
  }                                                                                                \
  constexpr IsaKernels kKernels##suffix{                                                           \
      RunPlanes##suffix<Reduce::kWeighted>, RunPlanes##suffix<Reduce::kMax>,                       \
      RunPlanes##suffix<Reduce::kSum>, ReducePlane##suffix<Reduce::kMax>,                          \
      ReducePlane##suffix<Reduce::kSum>};

UH_WINDOW_KERNELS(Avx512, __attribute__((target("avx512f,avx2,fma"))), Lanes)
UH_WINDOW_KERNELS(Avx2, __attribute__((target("avx2,fma"))), Lanes8)
UH_WINDOW_KERNELS(Baseline, , Lanes4)
#undef UH_WINDOW_KERNELS

const IsaKernels& Kernels() {
  if (__builtin_cpu_supports("avx512f")) return kKernelsAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kKernelsAvx2;
  return kKernelsBaseline;
}

// The copy indices i in [0, count) whose input index i * stride + shift lies in [0, size).
void InsideSpan(int64_t shift, int64_t stride, int64_t size, int64_t count, int64_t& first,
                int64_t& end) {
  first = shift >= 0 ? 0 : std::min(count, (-shift + stride - 1) / stride);
  end = size - 1 - shift < 0 ? first
                             : std::max(first, std::min(count, (size - 1 - shift) / stride + 1));
}

PlainWindowPlan PlanWindow(const PlainWindowGeometry& g) {
  PlainWindowPlan plan;
  plan.g = g;
  const int64_t row_reach = (g.kernel_h - 1) * g.dilation_h / g.stride_h;
  const int64_t col_reach = (g.kernel_w - 1) * g.dilation_w / g.stride_w;
  plan.rows = g.out_h + row_reach;
  plan.cols = g.out_w + col_reach;
  plan.positions = g.out_h * plan.cols;
  const int64_t phase_floats = plan.rows * plan.cols;
  plan.copy_floats = g.stride_h * g.stride_w * phase_floats + col_reach + kMaxStep;
  plan.buffer_floats = plan.copy_floats + RoundUp(plan.positions, kMaxStep);
  std::vector<bool> phase_used(g.stride_h * g.stride_w, false);
  for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
    const int64_t dy = kh * g.dilation_h;
    for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
      const int64_t dx = kw * g.dilation_w;
      const int64_t phase = dy % g.stride_h * g.stride_w + dx % g.stride_w;
      phase_used[phase] = true;
      plan.tap_offsets.push_back(phase * phase_floats + dy / g.stride_h * plan.cols +
                                 dx / g.stride_w);
    }
  }
  for (int64_t ph = 0; ph < g.stride_h; ++ph) {
    for (int64_t pw = 0; pw < g.stride_w; ++pw) {
      if (!phase_used[ph * g.stride_w + pw]) continue;
      PlainWindowPlan::PhaseSpan span;
      span.phase = ph * g.stride_w + pw;
      span.row_shift = ph - g.pad_top;
      span.col_shift = pw - g.pad_left;
      InsideSpan(span.row_shift, g.stride_h, g.in_h, plan.rows, span.row_first, span.row_end);
      InsideSpan(span.col_shift, g.stride_w, g.in_w, plan.cols, span.col_first, span.col_end);
      plan.phase_spans.push_back(span);
    }
  }
  return plan;
}

// Enough planes per chunk that a small tensor is not split across threads for nothing.
int64_t PlaneGrain(const PlainWindowPlan& plan) {
  const int64_t work = plan.g.multiplier * RoundUp(plan.positions, kMaxStep) *
                           static_cast<int64_t>(std::max<size_t>(1, plan.tap_offsets.size())) +
                       plan.g.in_h * plan.g.in_w;
  return std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, work));
}

}  // namespace

PlainWindowGeometry PlainWindow(int64_t batch, int64_t channels, int64_t multiplier,
                                const WindowGeometry& g) {
  PlainWindowGeometry p;
  static_cast<Window2d&>(p) = g.As2d();
  p.batch = batch;
  p.channels = channels;
  p.multiplier = multiplier;
  return p;
}

bool IsDepthwise2d(int64_t group, int64_t in_channels, int64_t out_channels, size_t spatial_rank) {
  return spatial_rank == 2 && group > 1 && group == in_channels && out_channels % group == 0;
}

PlainWindowPlan PlanDepthwiseConv(const PlainWindowGeometry& g) { return PlanWindow(g); }

PlainWindowPlan PlanPool(const PlainWindowGeometry& g, PoolOp op) {
  const bool whole_plane = g.out_h == 1 && g.out_w == 1 && g.kernel_h == g.in_h &&
                           g.kernel_w == g.in_w && g.pad_top == 0 && g.pad_left == 0;
  PlainWindowPlan plan;
  if (whole_plane) {
    plan.g = g;
    plan.whole_plane = true;
  } else {
    plan = PlanWindow(g);
  }
  plan.op = op;
  if (op == PoolOp::kMax) return plan;
  plan.inverse_counts.resize(g.out_h * g.out_w);
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const int64_t count_h = AverageWindowTaps(op, oh * g.stride_h - g.pad_top, g.kernel_h,
                                              g.dilation_h, g.in_h, g.pad_bottom);
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const int64_t count =
          count_h * AverageWindowTaps(op, ow * g.stride_w - g.pad_left, g.kernel_w, g.dilation_w,
                                      g.in_w, g.pad_right);
      plan.inverse_counts[oh * g.out_w + ow] = count > 0 ? 1.f / static_cast<float>(count) : 0.f;
    }
  }
  return plan;
}

namespace {

bool RunAllPlanes(hal::ThreadPool& pool, const PlainWindowPlan& plan, RunPlanesFn run,
                  const float* x, const float* w, const float* bias, const PlaneEpilogue& epilogue,
                  ThreadBufferFn thread_buffer, float* y) {
  std::atomic<bool> failed{false};
  pool.ParallelFor(plan.g.batch * plan.g.channels, PlaneGrain(plan),
                   [&](int64_t begin, int64_t end) {
                     float* copy = thread_buffer(plan.buffer_floats);
                     if (copy == nullptr) {
                       failed = true;
                       return;
                     }
                     run(plan, x, w, bias, epilogue, copy, y, begin, end);
                   });
  return !failed;
}

}  // namespace

bool DepthwiseConvPlain(hal::ThreadPool& pool, const PlainWindowPlan& plan, const float* x,
                        const float* w, const float* bias, const PlaneEpilogue& epilogue,
                        ThreadBufferFn thread_buffer, float* y) {
  return RunAllPlanes(pool, plan, Kernels().weighted, x, w, bias, epilogue, thread_buffer, y);
}

bool PoolPlain(hal::ThreadPool& pool, const PlainWindowPlan& plan, const float* x,
               ThreadBufferFn thread_buffer, float* y) {
  const PlainWindowGeometry& g = plan.g;
  const bool is_max = plan.op == PoolOp::kMax;
  const IsaKernels& kernels = Kernels();
  if (plan.whole_plane) {
    const int64_t in_plane = g.in_h * g.in_w;
    const ReducePlaneFn reduce = is_max ? kernels.reduce_max : kernels.reduce_sum;
    const float scale = is_max ? 1.f : plan.inverse_counts[0];
    const int64_t grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, in_plane));
    pool.ParallelFor(g.batch * g.channels, grain, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) y[p] = reduce(x + p * in_plane, in_plane) * scale;
    });
    return true;
  }
  return RunAllPlanes(pool, plan, is_max ? kernels.max : kernels.sum, x, nullptr, nullptr, {},
                      thread_buffer, y);
}

}  // namespace unihal::cpu
