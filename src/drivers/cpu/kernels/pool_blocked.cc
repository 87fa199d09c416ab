#include "drivers/cpu/kernels/pool_blocked.h"

#include <algorithm>
#include <limits>

namespace unihal::cpu {
namespace {

// 8 channels: GCC lowers this to one AVX register where PoolRow8 targets AVX2, else to two SSE
// ones; 16 channels (nChw16c) to one AVX-512 register in PoolRow16.
typedef float Lanes8 __attribute__((vector_size(8 * sizeof(float))));
typedef float Lanes16 __attribute__((vector_size(16 * sizeof(float))));

template <typename Lanes>
__attribute__((always_inline)) inline void Accumulate(bool is_max, Lanes& acc, const float* p) {
  Lanes v;
  __builtin_memcpy(&v, p, sizeof(v));
  if (is_max) {
    acc = acc > v ? acc : v;
  } else {
    acc += v;
  }
}

// One output row of the channels in a Lanes vector (all out_w pixels of one image, those
// channels of a block, one output row); pixels lie g.block floats apart. Pixels whose window lies
// inside the row go four at a time with their sums or maxima in registers, so the four chains of
// dependent adds or maxima overlap; the pixels at the borders go one by one.
template <typename Lanes>
__attribute__((always_inline)) inline void PoolRow(const BlockedPoolGeometry& g, PoolOp op,
                                                   const float* plane, int64_t oh, float* out) {
  const bool is_max = op == PoolOp::kMax;
  Lanes init = Lanes{};
  if (is_max) init -= std::numeric_limits<float>::infinity();
  const int64_t h_start = oh * g.stride_h - g.pad_top;
  int64_t kh_first, kh_last;
  ValidWindowTaps(h_start, g.kernel_h, g.dilation_h, g.in_h, kh_first, kh_last);
  const int64_t count_h =
      AverageWindowTaps(op, h_start, g.kernel_h, g.dilation_h, g.in_h, g.pad_bottom);
  const int64_t step = g.stride_w * g.block;
  auto finish = [&](Lanes& acc, int64_t ow, int64_t count_w) {
    if (!is_max && count_h * count_w > 0) acc /= static_cast<float>(count_h * count_w);
    __builtin_memcpy(out + ow * g.block, &acc, sizeof(acc));
  };

  // Interior pixels: the whole window inside [0, in_w).
  const int64_t span = (g.kernel_w - 1) * g.dilation_w;
  const int64_t interior_first = std::min(g.out_w, (g.pad_left + g.stride_w - 1) / g.stride_w);
  const int64_t interior_last = std::max(
      interior_first, g.in_w - 1 - span + g.pad_left < 0
                          ? interior_first
                          : std::min(g.out_w, (g.in_w - 1 - span + g.pad_left) / g.stride_w + 1));
  int64_t ow = interior_first;
  for (; ow + 4 <= interior_last; ow += 4) {
    Lanes a0 = init, a1 = init, a2 = init, a3 = init;
    for (int64_t kh = kh_first; kh < kh_last; ++kh) {
      const float* p =
          plane + ((h_start + kh * g.dilation_h) * g.in_w + ow * g.stride_w - g.pad_left) * g.block;
      for (int64_t kw = 0; kw < g.kernel_w; ++kw, p += g.dilation_w * g.block) {
        Accumulate(is_max, a0, p);
        Accumulate(is_max, a1, p + step);
        Accumulate(is_max, a2, p + 2 * step);
        Accumulate(is_max, a3, p + 3 * step);
      }
    }
    const int64_t count_w = g.kernel_w;  // no padding inside the row
    finish(a0, ow, count_w);
    finish(a1, ow + 1, count_w);
    finish(a2, ow + 2, count_w);
    finish(a3, ow + 3, count_w);
  }
  // The rest: borders and the interior's last few pixels.
  for (int64_t col = 0; col < g.out_w; ++col) {
    if (col >= interior_first && col < ow) continue;
    const int64_t w_start = col * g.stride_w - g.pad_left;
    int64_t kw_first, kw_last;
    ValidWindowTaps(w_start, g.kernel_w, g.dilation_w, g.in_w, kw_first, kw_last);
    Lanes acc = init;
    for (int64_t kh = kh_first; kh < kh_last; ++kh) {
      const float* p = plane + ((h_start + kh * g.dilation_h) * g.in_w + w_start) * g.block;
      for (int64_t kw = kw_first; kw < kw_last; ++kw) {
        Accumulate(is_max, acc, p + kw * g.dilation_w * g.block);
      }
    }
    finish(acc, col,
           AverageWindowTaps(op, w_start, g.kernel_w, g.dilation_w, g.in_w, g.pad_right));
  }
}

__attribute__((target_clones("avx2", "default"))) void PoolRow8(const BlockedPoolGeometry& g,
                                                                PoolOp op,
                                                                const float* plane, int64_t oh,
                                                                float* out) {
  PoolRow<Lanes8>(g, op, plane, oh, out);
}

__attribute__((target("avx512f"))) void PoolRow16(const BlockedPoolGeometry& g, PoolOp op,
                                                  const float* plane, int64_t oh, float* out) {
  PoolRow<Lanes16>(g, op, plane, oh, out);
}

}  // namespace

void PoolBlocked(hal::ThreadPool& pool, const BlockedPoolGeometry& g, PoolOp op,
                 const float* src, float* dst) {
  const int64_t rows = g.batch * g.channel_blocks * g.out_h;
  const int64_t in_plane = g.in_h * g.in_w * g.block, out_row = g.out_w * g.block;
  // About 16k taps per chunk, so a small pool is not split across threads for nothing.
  const int64_t taps_per_row = std::max<int64_t>(1, g.out_w * g.kernel_h * g.kernel_w);
  const int64_t grain = std::max<int64_t>(1, (1 << 14) / taps_per_row);
  const bool wide = g.block == 16 && __builtin_cpu_supports("avx512f");
  pool.ParallelFor(rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* plane = src + r / g.out_h * in_plane;
      const int64_t oh = r % g.out_h;
      if (wide) {
        PoolRow16(g, op, plane, oh, dst + r * out_row);
        continue;
      }
      for (int64_t lane = 0; lane < g.block; lane += 8) {
        PoolRow8(g, op, plane + lane, oh, dst + r * out_row + lane);
      }
    }
  });
}

}  // namespace unihal::cpu
