#include "drivers/cpu/kernels/conv_blocked.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <utility>

#include "drivers/cpu/kernels/simd_vec.h"

namespace unihal::cpu {
namespace {

// Output planes up to 8x8: at 7x7 the kernel took 0.8-0.9x oneDNN's time for ResNet-50's
// 3x3 convolutions; at 14x14 0.9-1.1x, at 28x28 and 56x56 1.0-1.15x (docs/benchmarks.md).
constexpr int64_t kMaxOutputPixels = 8 * 8;
// On nChw16c oneDNN's AVX-512 kernels are better fed, and the kernel pays where the weights
// stream from memory (it prefetches them): 0.71-0.78x oneDNN's time for ResNet-50's 512-channel
// 7x7 layers (9.4 MB) but 1.16x for Inception's 160 -> 320 (1.8 MB) in a loop over one layer.
// In whole models, alternating two sessions in one process, taking planes up to 14x14 with 2 MB
// of weights or more (ResNet-50's 256-channel layers too) gave 0.95-0.99x on ResNet-50 and
// Inception-v2 (one pass of six 1.01x).
constexpr int64_t kMaxOutputPixels16 = 14 * 14;
constexpr int64_t kMinWeightBytes16 = int64_t{2} << 20;

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

using StepFn = void (*)(const StepArgs&, const float*, const int64_t*, const float*, float*);

constexpr int kMaxBlocksPerStep = 2;

namespace avx2 {
using namespace simd_avx2;
#define SIMD_TARGET UH_TARGET_AVX2
// The widest step whose accumulators, weights and broadcast fit the 16 registers.
constexpr int kMaxPixels = 6;
#include "drivers/cpu/kernels/conv_blocked_simd.inc"
#undef SIMD_TARGET
}  // namespace avx2

namespace avx512 {
using namespace simd_avx512;
#define SIMD_TARGET UH_TARGET_AVX512
// The widest step whose accumulators, weights and broadcast fit the 32 registers.
constexpr int kMaxPixels = 12;
#include "drivers/cpu/kernels/conv_blocked_simd.inc"
#undef SIMD_TARGET
}  // namespace avx512

// One instruction set's steps: the widest, and the one for a block count and pixel count.
struct StepKernels {
  int max_pixels;
  StepFn (*find)(int blocks, int pixels);
};

StepKernels StepsFor(const BlockedConvGeometry& g) {
  return g.block == 16 ? StepKernels{avx512::kMaxPixels, &avx512::FindStep}
                       : StepKernels{avx2::kMaxPixels, &avx2::FindStep};
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
      kMaxBlocksPerStep * g.kernel_h * g.kernel_w * g.block * g.block * sizeof(float);
  return std::clamp<int64_t>(kBytes / per_block, 1, g.in_blocks);
}

}  // namespace

bool BlockedConvSupported(int64_t block) {
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return block == 8 ? avx2 : block == 16 && avx2 && __builtin_cpu_supports("avx512f");
}

bool BlockedConvTakes(int64_t block, int64_t group, int64_t in_channels, int64_t out_channels,
                      const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                      const std::vector<int64_t>& dilations, const std::vector<int64_t>& pad_begin,
                      const std::vector<int64_t>& pad_end, const std::vector<int64_t>& output) {
  if (group != 1 || in_channels % block != 0 || out_channels % block != 0) return false;
  if (kernel.size() != 2 || kernel[0] * kernel[1] <= 1) return false;
  const int64_t weight_bytes =
      in_channels * out_channels * kernel[0] * kernel[1] * static_cast<int64_t>(sizeof(float));
  if (block == 16) {
    if (output[0] * output[1] > kMaxOutputPixels16 || weight_bytes < kMinWeightBytes16) {
      return false;
    }
  } else if (output[0] * output[1] > kMaxOutputPixels) {
    return false;
  }
  for (size_t d = 0; d < 2; ++d) {
    if (dilations[d] != 1 || strides[d] < 1 || strides[d] > 2) return false;
    if (pad_begin[d] >= kernel[d] || pad_end[d] >= kernel[d]) return false;
  }
  return BlockedConvSupported(block);
}

std::vector<float> PackBlockedConvWeights(const BlockedConvGeometry& g, const float* weights) {
  const int64_t taps = g.kernel_h * g.kernel_w, in_c = g.in_blocks * g.block;
  std::vector<float> packed(g.out_blocks * g.in_blocks * taps * g.block * g.block);
  float* out = packed.data();
  for (int64_t group = 0; group < BlockGroups(g.out_blocks); ++group) {
    const int64_t first_block = group * kMaxBlocksPerStep;
    const int blocks = GroupBlocks(g.out_blocks, group);
    for (int64_t ib = 0; ib < g.in_blocks; ++ib) {
      for (int64_t t = 0; t < taps; ++t) {
        for (int64_t i = 0; i < g.block; ++i) {
          for (int64_t o = first_block * g.block; o < (first_block + blocks) * g.block; ++o) {
            *out++ = weights[(o * in_c + ib * g.block + i) * taps + t];
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
  const int64_t row_bytes = width * g.in_blocks * g.block * static_cast<int64_t>(sizeof(float));
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
  const int64_t row_floats = width * g.block;
  const int64_t right = width - g.pad_left - g.in_w;
  for (int64_t ib = 0; ib < g.in_blocks; ++ib) {
    const float* plane = src + (n * g.in_blocks + ib) * g.in_h * g.in_w * g.block;
    for (int64_t r = 0; r < in_rows; ++r, out += row_floats) {
      const int64_t row = first_row + r;
      if (row < 0 || row >= g.in_h) {
        std::memset(out, 0, row_floats * sizeof(float));
        continue;
      }
      std::memset(out, 0, g.pad_left * g.block * sizeof(float));
      std::memcpy(out + g.pad_left * g.block, plane + row * g.in_w * g.block,
                  g.in_w * g.block * sizeof(float));
      std::memset(out + (g.pad_left + g.in_w) * g.block, 0, right * g.block * sizeof(float));
    }
  }
}

}  // namespace

bool ConvBlockedDirect(hal::ThreadPool& pool, const BlockedConvGeometry& g, const float* src,
                       const float* packed_weights, const BlockedConvEpilogue& epilogue,
                       ThreadBufferFn thread_buffer, float* dst) {
  const StepKernels step_kernels = StepsFor(g);
  const bool copy = NeedsPadding(g);
  const ChunkPlan plan = PlanChunks(g, pool.num_threads());
  const int64_t groups = BlockGroups(g.out_blocks);
  const int64_t taps = g.kernel_h * g.kernel_w;
  const int64_t y_plane = g.out_h * g.out_w * g.block;
  const int64_t w_block = g.in_blocks * taps * g.block * g.block;  // per output block
  const int64_t pass_blocks = PassBlocks(g);
  const int64_t x_row = plan.in_width * g.block;
  const int64_t x_plane = copy ? plan.in_rows * x_row : g.in_h * g.in_w * g.block;
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
    std::array<int64_t, avx512::kMaxPixels> offsets;
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
      const int64_t steps = (pixels + step_kernels.max_pixels - 1) / step_kernels.max_pixels;
      const int64_t y_offset = (n * g.out_blocks + first_block) * y_plane + q_first * g.block;
      StepArgs args{0,       g.kernel_h, g.kernel_w, x_plane, x_row,        y_plane,
                    nullptr, nullptr,    false,      false,   epilogue.relu};
      for (int64_t ib = 0; ib < g.in_blocks; ib += pass_blocks) {
        args.in_blocks = std::min(pass_blocks, g.in_blocks - ib);
        args.first = ib == 0;
        args.last = ib + args.in_blocks == g.in_blocks;
        args.bias = args.first && epilogue.bias ? epilogue.bias + first_block * g.block : nullptr;
        const float* w =
            packed_weights + first_block * w_block + ib * blocks * taps * g.block * g.block;
        // The weights that follow (the next pass, or the next group's first) come from
        // memory at batch 1 (ResNet's last stage has 9.4 MB per convolution): fetch them
        // into L2 while this pass computes, a share of their lines per step.
        const float* next_w = w + args.in_blocks * blocks * taps * g.block * g.block;
        const int64_t next_lines = pass_blocks * kMaxBlocksPerStep * taps * g.block * g.block *
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
            offsets[p] = oh * g.stride_h * x_row + ow * g.stride_w * g.block;
          }
          args.sum = epilogue.sum ? epilogue.sum + y_offset + q_begin * g.block : nullptr;
          step_kernels.find(blocks, count)(args, x + ib * x_plane, offsets.data(), w,
                                           dst + y_offset + q_begin * g.block);
        }
      }
    }
  });
  return !out_of_memory;
}

}  // namespace unihal::cpu
