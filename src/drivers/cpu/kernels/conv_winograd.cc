#include "drivers/cpu/kernels/conv_winograd.h"

#include <algorithm>
#include <atomic>
#include <functional>

#include "drivers/cpu/kernels/simd_vec.h"

namespace unihal::cpu {
namespace {

constexpr int kTile = 6;                   // input tile side
constexpr int kOut = 4;                    // output tile side
constexpr int kPositions = kTile * kTile;  // matrix products in the Winograd domain
constexpr int kStepTiles = 6;              // tiles per register step of the products
constexpr int kGroupBlocks = 2;            // output channel blocks (vectors) per step
// Output pixels per image from which the kernel runs a convolution. Its transformed weights are
// 4x the direct convolution's and, in a whole model at batch 1, come from memory on every run:
// saving 3/4 of the multiply-adds pays for streaming 27 more floats per weight pair from about
// 150 pixels at 350 GFLOP/s and 20 GB/s, and in practice from about 400. In ResNet-50 and
// SqueezeNet at 13x13 and 14x14 the kernel took 1.1-1.7x the direct convolutions' time (while
// beating them 1.5-2.5x in a loop over one layer, its weights in cache), at 28x28 and 56x56
// 0.6-0.9x ONNX Runtime's.
constexpr int64_t kMinOutputPixels = 20 * 20;
// A chunk of tiles' transformed inputs and products stay in the cores' L2 (1 MB each here)
// between the three passes over them, or when the transformed weights are larger (every chunk
// reads all of them), take as much room as those: at 256 channels and 14x14 (AVX2, one layer in
// a loop), 1 MB chunks took 0.85-1.3x oneDNN's time, one chunk 0.65-0.75x.
constexpr int64_t kChunkBytes = int64_t{1} << 20;

// F(4x4, 3x3) with the interpolation points 0, 1, -1, 2, -2 and infinity (Lavin & Gray 2015):
// Y = A^T [(G g G^T) . (B^T d B)] A.
constexpr double kG[kTile][3] = {{1.0 / 4, 0, 0},
                                 {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                 {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                 {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                 {0, 0, 1}};

int64_t TilesHigh(const BlockedConvGeometry& g) { return (g.out_h + kOut - 1) / kOut; }
int64_t TilesWide(const BlockedConvGeometry& g) { return (g.out_w + kOut - 1) / kOut; }
int64_t GroupCount(int64_t out_blocks) { return (out_blocks + kGroupBlocks - 1) / kGroupBlocks; }
int64_t PackedBytes(int64_t in_channels, int64_t out_channels) {
  return kPositions * in_channels * out_channels * static_cast<int64_t>(sizeof(float));
}

// Tiles per chunk: a multiple of the step, at most the batch's tiles rounded up to it.
int64_t ChunkTiles(const BlockedConvGeometry& g) {
  const int64_t in_c = g.in_blocks * g.block, out_c = g.out_blocks * g.block;
  const int64_t per_tile = kPositions * (in_c + out_c) * static_cast<int64_t>(sizeof(float));
  const int64_t bytes = std::max(kChunkBytes, PackedBytes(in_c, out_c));
  const int64_t steps_wanted = std::max<int64_t>(1, bytes / per_tile / kStepTiles);
  const int64_t steps_needed =
      (g.batch * TilesHigh(g) * TilesWide(g) + kStepTiles - 1) / kStepTiles;
  return std::min(steps_wanted, steps_needed) * kStepTiles;
}

// Runs fn(item) for every item in [0, items); threads claim the next item as they finish one, so
// a core slowed by a neighbour does less of the work.
void ForEachItem(hal::ThreadPool& pool, int64_t items, const std::function<void(int64_t)>& fn) {
  std::atomic<int64_t> next{0};
  pool.ParallelFor(std::min<int64_t>(items, pool.num_threads()), 1, [&](int64_t, int64_t) {
    for (int64_t item; (item = next.fetch_add(1, std::memory_order_relaxed)) < items;) fn(item);
  });
}

struct Chunk {
  int64_t first_tile;  // of the batch's tiles: image by image, row-major in each
  int64_t tiles;       // real tiles in the chunk (the rest of `capacity` are zero rows)
  int64_t capacity;    // rows of V and M per position
};

// One instruction set's tile kernels (conv_winograd_simd.inc), for activations blocked by its
// vector's channels.
struct TileKernels {
  void (*input)(const BlockedConvGeometry& g, const float* src, const Chunk& chunk, int64_t t,
                float* v);
  void (*products)(const BlockedConvGeometry& g, const Chunk& chunk, const float* v, const float* u,
                   int64_t p, int64_t group, float* m);
  void (*output)(const BlockedConvGeometry& g, const Chunk& chunk, const float* m, int64_t t,
                 const BlockedConvEpilogue& epilogue, float* dst);
};

namespace avx2 {
using namespace simd_avx2;
#define SIMD_TARGET UH_TARGET_AVX2
#include "drivers/cpu/kernels/conv_winograd_simd.inc"
#undef SIMD_TARGET
}  // namespace avx2

namespace avx512 {
using namespace simd_avx512;
#define SIMD_TARGET UH_TARGET_AVX512
#include "drivers/cpu/kernels/conv_winograd_simd.inc"
#undef SIMD_TARGET
}  // namespace avx512

const TileKernels& KernelsFor(const BlockedConvGeometry& g) {
  return g.block == 16 ? avx512::kTileKernels : avx2::kTileKernels;
}

}  // namespace

bool WinogradConvSupported(int64_t block) { return BlockedConvSupported(block); }

bool WinogradConvTakes(int64_t block, int64_t group, int64_t in_channels, int64_t out_channels,
                       const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                       const std::vector<int64_t>& dilations, const std::vector<int64_t>& pad_begin,
                       const std::vector<int64_t>& pad_end, const std::vector<int64_t>& output) {
  if (group != 1 || in_channels % block != 0 || out_channels % block != 0) return false;
  // With one input block the products are too short to pay for the transforms: SqueezeNet's
  // 16 -> 64 at 54x54 took 1.4x oneDNN's time on nChw16c.
  if (in_channels < 2 * block) return false;
  if (kernel.size() != 2 || kernel[0] != 3 || kernel[1] != 3) return false;
  if (output[0] * output[1] < kMinOutputPixels) return false;
  for (size_t d = 0; d < 2; ++d) {
    if (dilations[d] != 1 || strides[d] != 1 || pad_begin[d] > 2 || pad_end[d] > 2) return false;
  }
  return WinogradConvSupported(block);
}

std::vector<float> PackWinogradWeights(const BlockedConvGeometry& g, const float* weights) {
  const int64_t in_c = g.in_blocks * g.block, out_c = g.out_blocks * g.block;
  // u[(o * in_c + c) * 36 + p] = (G g G^T)[p] for output channel o and input channel c.
  std::vector<double> u(out_c * in_c * kPositions);
  for (int64_t oc = 0; oc < out_c * in_c; ++oc) {
    const float* k = weights + oc * 9;
    double gk[kTile][3];  // G g
    for (int r = 0; r < kTile; ++r) {
      for (int b = 0; b < 3; ++b) {
        gk[r][b] = kG[r][0] * k[b] + kG[r][1] * k[3 + b] + kG[r][2] * k[6 + b];
      }
    }
    for (int r = 0; r < kTile; ++r) {
      for (int s = 0; s < kTile; ++s) {
        u[oc * kPositions + r * kTile + s] =
            gk[r][0] * kG[s][0] + gk[r][1] * kG[s][1] + gk[r][2] * kG[s][2];
      }
    }
  }
  std::vector<float> packed(u.size());
  float* out = packed.data();
  for (int p = 0; p < kPositions; ++p) {
    for (int64_t group = 0; group < GroupCount(g.out_blocks); ++group) {
      const int64_t first = group * kGroupBlocks * g.block;
      const int64_t last = std::min(first + kGroupBlocks * g.block, out_c);
      for (int64_t c = 0; c < in_c; ++c) {
        for (int64_t o = first; o < last; ++o) {
          *out++ = static_cast<float>(u[(o * in_c + c) * kPositions + p]);
        }
      }
    }
  }
  return packed;
}

int64_t WinogradWorkspaceFloats(const BlockedConvGeometry& g) {
  return kPositions * ChunkTiles(g) * (g.in_blocks + g.out_blocks) * g.block;
}

bool ConvWinograd(hal::ThreadPool& pool, const BlockedConvGeometry& g, const float* src,
                  const float* packed_weights, const BlockedConvEpilogue& epilogue,
                  ThreadBufferFn workspace, float* dst) {
  const TileKernels& kernels = KernelsFor(g);
  const int64_t capacity = ChunkTiles(g);
  float* v = workspace(WinogradWorkspaceFloats(g));
  if (!v) return false;
  float* m = v + kPositions * capacity * g.in_blocks * g.block;
  const int64_t tiles = g.batch * TilesHigh(g) * TilesWide(g);
  const int64_t groups = GroupCount(g.out_blocks);
  // Three passes per chunk, each split among the threads: inputs into the Winograd domain, the
  // 36 products (a position's weights for a group stay in L1 over the chunk's tiles), outputs.
  // Chunks run on across images, so a batch reads the weights once per chunk, not per image.
  for (int64_t first = 0; first < tiles; first += capacity) {
    const Chunk chunk{first, std::min(capacity, tiles - first), capacity};
    const int64_t rows = (chunk.tiles + kStepTiles - 1) / kStepTiles * kStepTiles;
    ForEachItem(pool, rows, [&](int64_t t) { kernels.input(g, src, chunk, t, v); });
    ForEachItem(pool, kPositions * groups, [&](int64_t item) {
      kernels.products(g, chunk, v, packed_weights, item / groups, item % groups, m);
    });
    ForEachItem(pool, chunk.tiles,
                [&](int64_t t) { kernels.output(g, chunk, m, t, epilogue, dst); });
  }
  return true;
}

}  // namespace unihal::cpu
