#include "drivers/cpu/kernels/conv_blocked.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <utility>

namespace unihal::cpu {
namespace {

constexpr int kLanes = 8;
// Output planes up to 8x8: at 7x7 the kernel took 0.8-0.9x oneDNN's time for ResNet-50's
// 3x3 convolutions; at 14x14 0.9-1.1x, at 28x28 and 56x56 1.0-1.15x (docs/benchmarks.md).
constexpr int64_t kMaxOutputPixels = 8 * 8;

int64_t PaddedExtent(int64_t in, int64_t pad_begin, int64_t out, int64_t stride, int64_t kernel) {
  return std::max(in + pad_begin, (out - 1) * stride + kernel);
}
int64_t PaddedHeight(const BlockedConvGeometry& g) {
  return PaddedExtent(g.in_h, g.pad_top, g.out_h, g.stride_h, g.kernel_h);
}
int64_t PaddedWidth(const BlockedConvGeometry& g) {
  return PaddedExtent(g.in_w, g.pad_left, g.out_w, g.stride_w, g.kernel_w);
}

bool NeedsPadding(const BlockedConvGeometry& g) {
  return PaddedHeight(g) > g.in_h || PaddedWidth(g) > g.in_w;
}

struct StepArgs {
  int64_t in_blocks, kernel_h, kernel_w;  // in_blocks: those of this pass
  int64_t x_plane, x_row;                 // floats between input channel blocks and rows
  int64_t y_plane;                        // floats between output channel blocks
  const float* bias;                      // at the step's first output channel, or null
  const float* sum;                       // at the step's first output, or null
  // The first pass starts from bias + sum (so `sum` may be the output itself), the last
  // applies Relu.
  bool first, last;
  bool relu;
};

// One step: kPixels consecutive output pixels (possibly across rows) of kBlocks blocks of 8
// output channels, accumulated in registers over a pass's input channel blocks and every
// kernel tap. Pixel p reads the input from x + x_offsets[p] on (its first tap's pixel).
template <int kBlocks, int kPixels>
__attribute__((target("avx2,fma"))) void ConvStep(const StepArgs& a, const float* x,
                                                  const int64_t* x_offsets, const float* w,
                                                  float* y) {
  int64_t offsets[kPixels];
#pragma GCC unroll 8
  for (int p = 0; p < kPixels; ++p) offsets[p] = x_offsets[p];
  __m256 acc[kBlocks][kPixels];
#pragma GCC unroll 8
  for (int b = 0; b < kBlocks; ++b) {
    const __m256 init = a.bias ? _mm256_loadu_ps(a.bias + b * kLanes) : _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int p = 0; p < kPixels; ++p) {
      if (!a.first) {
        acc[b][p] = _mm256_loadu_ps(y + b * a.y_plane + p * kLanes);
      } else if (a.sum) {
        acc[b][p] = _mm256_add_ps(init, _mm256_loadu_ps(a.sum + b * a.y_plane + p * kLanes));
      } else {
        acc[b][p] = init;
      }
    }
  }
  // The weights of a step's blocks lie interleaved in the order they are read.
  const float* wp = w;
  const int64_t kernel_w = a.kernel_w;
  for (int64_t ib = 0; ib < a.in_blocks; ++ib) {
    for (int64_t r = 0; r < a.kernel_h; ++r) {
      const float* xp[kPixels];  // each pixel's input at the current tap
#pragma GCC unroll 8
      for (int p = 0; p < kPixels; ++p) xp[p] = x + ib * a.x_plane + r * a.x_row + offsets[p];
      for (int64_t c = 0; c < kernel_w; ++c, wp += kBlocks * kLanes * kLanes) {
#pragma GCC unroll 8
        for (int i = 0; i < kLanes; ++i) {
          __m256 wv[kBlocks];
#pragma GCC unroll 8
          for (int b = 0; b < kBlocks; ++b)
            wv[b] = _mm256_loadu_ps(wp + (i * kBlocks + b) * kLanes);
#pragma GCC unroll 8
          for (int p = 0; p < kPixels; ++p) {
            const __m256 xv = _mm256_broadcast_ss(xp[p] + i);
#pragma GCC unroll 8
            for (int b = 0; b < kBlocks; ++b) acc[b][p] = _mm256_fmadd_ps(xv, wv[b], acc[b][p]);
          }
        }
#pragma GCC unroll 8
        for (int p = 0; p < kPixels; ++p) xp[p] += kLanes;
      }
    }
  }
  const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 8
  for (int b = 0; b < kBlocks; ++b) {
#pragma GCC unroll 8
    for (int p = 0; p < kPixels; ++p) {
      __m256 v = acc[b][p];
      if (a.last && a.relu) v = _mm256_max_ps(v, zero);
      _mm256_storeu_ps(y + b * a.y_plane + p * kLanes, v);
    }
  }
}

using StepFn = void (*)(const StepArgs&, const float*, const int64_t*, const float*, float*);

constexpr int kMaxBlocksPerStep = 2;
// The widest step per block count that keeps its accumulators, weights and the broadcast
// within the 16 AVX2 registers.
constexpr int MaxPixels(int blocks) { return blocks == 1 ? 8 : 6; }

template <int kBlocks, int... kPixels>
constexpr std::array<StepFn, sizeof...(kPixels)> StepTable(std::integer_sequence<int, kPixels...>) {
  return {&ConvStep<kBlocks, kPixels + 1>...};
}

StepFn FindStep(int blocks, int pixels) {
  static constexpr auto one = StepTable<1>(std::make_integer_sequence<int, MaxPixels(1)>{});
  static constexpr auto two = StepTable<2>(std::make_integer_sequence<int, MaxPixels(2)>{});
  return blocks == 1 ? one[pixels - 1] : two[pixels - 1];
}

// Output channel blocks in pairs, a last one alone.
int64_t BlockGroups(int64_t out_blocks) {
  return (out_blocks + kMaxBlocksPerStep - 1) / kMaxBlocksPerStep;
}
int GroupBlocks(int64_t out_blocks, int64_t group) {
  return static_cast<int>(
      std::min<int64_t>(kMaxBlocksPerStep, out_blocks - group * kMaxBlocksPerStep));
}

// Input channel blocks per pass: a pass's weights for one group fill about 16 KB of L1.
int64_t PassBlocks(const BlockedConvGeometry& g) {
  constexpr int64_t kBytes = 16 * 1024;
  const int64_t per_block =
      kMaxBlocksPerStep * g.kernel_h * g.kernel_w * kLanes * kLanes * sizeof(float);
  return std::clamp<int64_t>(kBytes / per_block, 1, g.in_blocks);
}

}  // namespace

bool BlockedConvSupported() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool BlockedConvTakes(int64_t group, int64_t in_channels, int64_t out_channels,
                      const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                      const std::vector<int64_t>& dilations, const std::vector<int64_t>& pad_begin,
                      const std::vector<int64_t>& pad_end, const std::vector<int64_t>& output) {
  if (group != 1 || in_channels % kLanes != 0 || out_channels % kLanes != 0) return false;
  if (kernel.size() != 2 || kernel[0] * kernel[1] <= 1) return false;
  if (output[0] * output[1] > kMaxOutputPixels) return false;
  for (size_t d = 0; d < 2; ++d) {
    if (dilations[d] != 1 || strides[d] < 1 || strides[d] > 2) return false;
    if (pad_begin[d] >= kernel[d] || pad_end[d] >= kernel[d]) return false;
  }
  return BlockedConvSupported();
}

std::vector<float> PackBlockedConvWeights(const BlockedConvGeometry& g, const float* weights) {
  const int64_t taps = g.kernel_h * g.kernel_w, in_c = g.in_blocks * kLanes;
  std::vector<float> packed(g.out_blocks * g.in_blocks * taps * kLanes * kLanes);
  float* out = packed.data();
  for (int64_t group = 0; group < BlockGroups(g.out_blocks); ++group) {
    const int64_t first_block = group * kMaxBlocksPerStep;
    const int blocks = GroupBlocks(g.out_blocks, group);
    for (int64_t ib = 0; ib < g.in_blocks; ++ib) {
      for (int64_t t = 0; t < taps; ++t) {
        for (int64_t i = 0; i < kLanes; ++i) {
          for (int64_t o = first_block * kLanes; o < (first_block + blocks) * kLanes; ++o) {
            *out++ = weights[(o * in_c + ib * kLanes + i) * taps + t];
          }
        }
      }
    }
  }
  return packed;
}

namespace {

// How the output rows are cut into chunks: each chunk's input rows (all channels, padded)
// fit in about 384 KB of a core's 512 KB L2, every output channel group of a chunk runs on them
// there, and there are enough chunk-group items for 4 per thread.
struct ChunkPlan {
  int64_t rows;      // output rows per chunk (the last may have fewer)
  int64_t chunks;    // per image
  int64_t in_rows;   // input rows a full chunk reads
  int64_t in_width;  // floats per input row / 8: the padded width, or in_w when not copied
};

ChunkPlan PlanChunks(const BlockedConvGeometry& g, int threads) {
  constexpr int64_t kChunkBytes = 384 * 1024;
  const int64_t width = NeedsPadding(g) ? PaddedWidth(g) : g.in_w;
  const int64_t row_bytes = width * g.in_blocks * kLanes * static_cast<int64_t>(sizeof(float));
  const int64_t fit_in_rows = std::max<int64_t>(g.kernel_h, kChunkBytes / row_bytes);
  const int64_t fit_rows = std::max<int64_t>(1, (fit_in_rows - g.kernel_h) / g.stride_h + 1);
  const int64_t wanted = 4 * std::max(1, threads);
  const int64_t others = g.batch * BlockGroups(g.out_blocks);
  int64_t chunks = std::max((g.out_h + fit_rows - 1) / fit_rows, (wanted + others - 1) / others);
  chunks = std::min(chunks, g.out_h);
  const int64_t rows = (g.out_h + chunks - 1) / chunks;
  return {rows, (g.out_h + rows - 1) / rows, (rows - 1) * g.stride_h + g.kernel_h, width};
}

// Copies the `in_rows` input rows of image n from `first_row` on (negative or past the end:
// zeros) into `out` as [in_blocks][in_rows][width][8] with pad_left zero columns before each row
// and zeros after it.
void CopyPaddedRows(const BlockedConvGeometry& g, const float* src, int64_t n, int64_t first_row,
                    int64_t in_rows, int64_t width, float* out) {
  const int64_t row_floats = width * kLanes;
  const int64_t right = width - g.pad_left - g.in_w;
  for (int64_t ib = 0; ib < g.in_blocks; ++ib) {
    const float* plane = src + (n * g.in_blocks + ib) * g.in_h * g.in_w * kLanes;
    for (int64_t r = 0; r < in_rows; ++r, out += row_floats) {
      const int64_t row = first_row + r;
      if (row < 0 || row >= g.in_h) {
        std::memset(out, 0, row_floats * sizeof(float));
        continue;
      }
      std::memset(out, 0, g.pad_left * kLanes * sizeof(float));
      std::memcpy(out + g.pad_left * kLanes, plane + row * g.in_w * kLanes,
                  g.in_w * kLanes * sizeof(float));
      std::memset(out + (g.pad_left + g.in_w) * kLanes, 0, right * kLanes * sizeof(float));
    }
  }
}

}  // namespace

bool ConvBlocked8(hal::ThreadPool& pool, const BlockedConvGeometry& g, const float* src,
                  const float* packed_weights, const BlockedConvEpilogue& epilogue,
                  ThreadBufferFn thread_buffer, float* dst) {
  const bool copy = NeedsPadding(g);
  const ChunkPlan plan = PlanChunks(g, pool.num_threads());
  const int64_t groups = BlockGroups(g.out_blocks);
  const int64_t taps = g.kernel_h * g.kernel_w;
  const int64_t y_plane = g.out_h * g.out_w * kLanes;
  const int64_t w_block = g.in_blocks * taps * kLanes * kLanes;  // per output block
  const int64_t pass_blocks = PassBlocks(g);
  const int64_t x_row = plan.in_width * kLanes;
  const int64_t x_plane = copy ? plan.in_rows * x_row : g.in_h * g.in_w * kLanes;
  // Items: (image, chunk, output channel group), the groups innermost so that consecutive
  // items share the chunk's input. Threads take the next item as they finish one, so a core
  // slowed by a neighbour (common on these shared machines) does less of the work. Within an item
  // the input channels go in passes whose weights stay in L1 while all the item's steps reuse them,
  // and the chunk's pixels in steps of near-equal width that run across rows (49 as 4 x 6 + 5 x 5).
  const int64_t items = g.batch * plan.chunks * groups;
  std::atomic<bool> out_of_memory{false};
  std::atomic<int64_t> next_item{0};
  pool.ParallelFor(std::min<int64_t>(items, pool.num_threads()), 1, [&](int64_t, int64_t) {
    float* buffer = nullptr;
    if (copy) {
      buffer = thread_buffer(g.in_blocks * x_plane);
      if (!buffer) {
        out_of_memory = true;
        return;
      }
    }
    int64_t buffered = -1;  // the (image, chunk) in `buffer`
    std::array<int64_t, 8> offsets;
    for (int64_t item; (item = next_item.fetch_add(1, std::memory_order_relaxed)) < items;) {
      const int64_t group = item % groups, chunk = item / groups % plan.chunks,
                    n = item / groups / plan.chunks;
      const int64_t row_begin = chunk * plan.rows;
      const int64_t row_end = std::min(g.out_h, row_begin + plan.rows);
      const float* x = nullptr;
      if (copy) {
        if (buffered != item / groups) {
          CopyPaddedRows(g, src, n, row_begin * g.stride_h - g.pad_top, plan.in_rows, plan.in_width,
                         buffer);
          buffered = item / groups;
        }
        x = buffer;
      } else {
        x = src + n * g.in_blocks * x_plane + row_begin * g.stride_h * x_row;
      }
      const int64_t first_block = group * kMaxBlocksPerStep;
      const int blocks = GroupBlocks(g.out_blocks, group);
      const int64_t q_first = row_begin * g.out_w, pixels = (row_end - row_begin) * g.out_w;
      const int64_t steps =
          (pixels + MaxPixels(kMaxBlocksPerStep) - 1) / MaxPixels(kMaxBlocksPerStep);
      const int64_t y_offset = (n * g.out_blocks + first_block) * y_plane + q_first * kLanes;
      StepArgs args{0,       g.kernel_h, g.kernel_w, x_plane, x_row,        y_plane,
                    nullptr, nullptr,    false,      false,   epilogue.relu};
      for (int64_t ib = 0; ib < g.in_blocks; ib += pass_blocks) {
        args.in_blocks = std::min(pass_blocks, g.in_blocks - ib);
        args.first = ib == 0;
        args.last = ib + args.in_blocks == g.in_blocks;
        args.bias = args.first && epilogue.bias ? epilogue.bias + first_block * kLanes : nullptr;
        const float* w =
            packed_weights + first_block * w_block + ib * blocks * taps * kLanes * kLanes;
        // The weights that follow (the next pass, or the next group's first) come from
        // memory at batch 1 (ResNet's last stage has 9.4 MB per convolution): fetch them
        // into L2 while this pass computes, a share of their lines per step.
        const float* next_w = w + args.in_blocks * blocks * taps * kLanes * kLanes;
        const int64_t next_lines = pass_blocks * kMaxBlocksPerStep * taps * kLanes * kLanes *
                                   static_cast<int64_t>(sizeof(float)) / 64;
        for (int64_t s = 0; s < steps; ++s) {
          for (int64_t line = s * next_lines / steps; line < (s + 1) * next_lines / steps; ++line) {
            __builtin_prefetch(reinterpret_cast<const char*>(next_w) + line * 64, 0, 2);
          }
          const int64_t q_begin = s * pixels / steps, q_end = (s + 1) * pixels / steps;
          const int count = static_cast<int>(q_end - q_begin);
          int64_t oh = q_begin / g.out_w, ow = q_begin % g.out_w;  // within the chunk
          for (int p = 0; p < count; ++p, ++ow) {
            if (ow == g.out_w) ow = 0, ++oh;
            offsets[p] = oh * g.stride_h * x_row + ow * g.stride_w * kLanes;
          }
          args.sum = epilogue.sum ? epilogue.sum + y_offset + q_begin * kLanes : nullptr;
          FindStep(blocks, count)(args, x + ib * x_plane, offsets.data(), w,
                                  dst + y_offset + q_begin * kLanes);
        }
      }
    }
  });
  return !out_of_memory;
}

}  // namespace unihal::cpu
