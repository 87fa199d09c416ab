#include "drivers/cpu/kernels/conv_winograd.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>

#define UH_AVX2 __attribute__((target("avx2,fma")))
#define UH_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

namespace unihal::cpu {
namespace {

constexpr int kLanes = 8;
constexpr int kTile = 6;                   // input tile side
constexpr int kOut = 4;                    // output tile side
constexpr int kPositions = kTile * kTile;  // matrix products in the Winograd domain
constexpr int kStepTiles = 6;              // tiles per register step of the products
constexpr int kGroupBlocks = 2;            // output channel blocks per step
// Transformed weights beyond this come from memory on every run: at 7x7 with 512 channels
// (37.7 MB) that took longer than the direct convolution.
constexpr int64_t kMaxPackedBytes = int64_t{16} << 20;
// A chunk of tiles' transformed inputs and products stay in the cores' L2 (1 MB each here)
// between the three passes over them, or when the transformed weights are larger (every chunk
// reads all of them), take as much room as those: at 256 channels and 14x14, 1 MB chunks took
// 0.85-1.3x oneDNN's time, one chunk 0.65-0.75x.
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
int GroupBlocks(int64_t out_blocks, int64_t group) {
  return static_cast<int>(std::min<int64_t>(kGroupBlocks, out_blocks - group * kGroupBlocks));
}

int64_t PackedBytes(int64_t in_channels, int64_t out_channels) {
  return kPositions * in_channels * out_channels * static_cast<int64_t>(sizeof(float));
}

// Tiles per chunk: a multiple of the step, at most the image's tiles rounded up to it.
int64_t ChunkTiles(const BlockedConvGeometry& g) {
  const int64_t in_c = g.in_blocks * kLanes, out_c = g.out_blocks * kLanes;
  const int64_t per_tile = kPositions * (in_c + out_c) * static_cast<int64_t>(sizeof(float));
  const int64_t bytes = std::max(kChunkBytes, PackedBytes(in_c, out_c));
  const int64_t steps_wanted = std::max<int64_t>(1, bytes / per_tile / kStepTiles);
  const int64_t steps_needed = (TilesHigh(g) * TilesWide(g) + kStepTiles - 1) / kStepTiles;
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

// B^T x for one column (or row) of a tile.
UH_AVX2_INLINE void InputTransform(const __m256* x, int stride, __m256* y, int y_stride) {
  const __m256 four = _mm256_set1_ps(4.f), five = _mm256_set1_ps(5.f), two = _mm256_set1_ps(2.f);
  const __m256 x0 = x[0], x1 = x[stride], x2 = x[2 * stride], x3 = x[3 * stride],
               x4 = x[4 * stride], x5 = x[5 * stride];
  const __m256 a = _mm256_fnmadd_ps(four, x2, x4);  // x4 - 4 x2
  const __m256 b = _mm256_fmsub_ps(four, x1, x3);   // 4 x1 - x3
  const __m256 c = _mm256_sub_ps(x4, x2);
  const __m256 d = _mm256_mul_ps(two, _mm256_sub_ps(x1, x3));
  y[0] = _mm256_fmadd_ps(four, x0, _mm256_fnmadd_ps(five, x2, x4));
  y[y_stride] = _mm256_sub_ps(a, b);
  y[2 * y_stride] = _mm256_add_ps(a, b);
  y[3 * y_stride] = _mm256_sub_ps(c, d);
  y[4 * y_stride] = _mm256_add_ps(c, d);
  y[5 * y_stride] = _mm256_fmadd_ps(four, x1, _mm256_fnmadd_ps(five, x3, x5));
}

// A^T m for one column (or row) of a tile's products: 6 values to 4.
UH_AVX2_INLINE void OutputTransform(const __m256* m, int stride, __m256* y, int y_stride) {
  const __m256 s12 = _mm256_add_ps(m[stride], m[2 * stride]);
  const __m256 d12 = _mm256_sub_ps(m[stride], m[2 * stride]);
  const __m256 s34 = _mm256_add_ps(m[3 * stride], m[4 * stride]);
  const __m256 d34 = _mm256_sub_ps(m[3 * stride], m[4 * stride]);
  y[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
  y[y_stride] = _mm256_fmadd_ps(_mm256_set1_ps(2.f), d34, d12);
  y[2 * y_stride] = _mm256_fmadd_ps(_mm256_set1_ps(4.f), s34, s12);
  y[3 * y_stride] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.f), d34, d12), m[5 * stride]);
}

struct Chunk {
  int64_t n;           // image
  int64_t first_tile;  // of the image's tiles, row-major
  int64_t tiles;       // real tiles in the chunk (the rest of `capacity` are zero rows)
  int64_t capacity;    // rows of V and M per position
};

// V[p][t][c] for the chunk's tiles t and every input channel c; rows past the real tiles zero.
UH_AVX2 void TransformInputTile(const BlockedConvGeometry& g, const float* src, const Chunk& chunk,
                                int64_t t, float* v) {
  const int64_t channels = g.in_blocks * kLanes;
  const int64_t row_stride = chunk.capacity * channels;  // floats between positions
  float* out = v + t * channels;
  if (t >= chunk.tiles) {
    for (int p = 0; p < kPositions; ++p) std::fill_n(out + p * row_stride, channels, 0.f);
    return;
  }
  const int64_t tile = chunk.first_tile + t;
  const int64_t top = tile / TilesWide(g) * kOut - g.pad_top;
  const int64_t left = tile % TilesWide(g) * kOut - g.pad_left;
  const bool inside = top >= 0 && left >= 0 && top + kTile <= g.in_h && left + kTile <= g.in_w;
  const int64_t plane = g.in_h * g.in_w * kLanes;
  const float* image = src + chunk.n * g.in_blocks * plane;
  for (int64_t cb = 0; cb < g.in_blocks; ++cb) {
    const float* x = image + cb * plane;
    __m256 d[kPositions], t1[kPositions];
    for (int i = 0; i < kTile; ++i) {
      const int64_t h = top + i;
      for (int j = 0; j < kTile; ++j) {
        const int64_t w = left + j;
        d[i * kTile + j] = inside || (h >= 0 && h < g.in_h && w >= 0 && w < g.in_w)
                               ? _mm256_loadu_ps(x + (h * g.in_w + w) * kLanes)
                               : _mm256_setzero_ps();
      }
    }
    for (int j = 0; j < kTile; ++j) InputTransform(d + j, kTile, t1 + j, kTile);          // columns
    for (int i = 0; i < kTile; ++i) InputTransform(t1 + i * kTile, 1, d + i * kTile, 1);  // rows
    for (int p = 0; p < kPositions; ++p) _mm256_storeu_ps(out + p * row_stride + cb * kLanes, d[p]);
  }
}

// m[t][0..16) = sum over c of v[t][c] * u[c][0..16) for kStepTiles tiles.
template <int kBlocks>
UH_AVX2 void ProductStep(const float* v, int64_t channels, const float* u, float* m,
                         int64_t m_stride) {
  __m256 acc[kBlocks][kStepTiles];
#pragma GCC unroll 8
  for (int b = 0; b < kBlocks; ++b) {
#pragma GCC unroll 8
    for (int t = 0; t < kStepTiles; ++t) acc[b][t] = _mm256_setzero_ps();
  }
#pragma GCC unroll 2
  for (int64_t c = 0; c < channels; ++c, u += kBlocks * kLanes) {
    __m256 w[kBlocks];
#pragma GCC unroll 8
    for (int b = 0; b < kBlocks; ++b) w[b] = _mm256_loadu_ps(u + b * kLanes);
#pragma GCC unroll 8
    for (int t = 0; t < kStepTiles; ++t) {
      const __m256 x = _mm256_broadcast_ss(v + t * channels + c);
#pragma GCC unroll 8
      for (int b = 0; b < kBlocks; ++b) acc[b][t] = _mm256_fmadd_ps(x, w[b], acc[b][t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < kStepTiles; ++t) {
#pragma GCC unroll 8
    for (int b = 0; b < kBlocks; ++b) _mm256_storeu_ps(m + t * m_stride + b * kLanes, acc[b][t]);
  }
}

// Position p's products for one group of output channels over the chunk's tiles.
void Products(const BlockedConvGeometry& g, const Chunk& chunk, const float* v, const float* u,
              int64_t p, int64_t group, float* m) {
  const int64_t in_c = g.in_blocks * kLanes, out_c = g.out_blocks * kLanes;
  const int blocks = GroupBlocks(g.out_blocks, group);
  const float* v_p = v + p * chunk.capacity * in_c;
  const float* u_group = u + p * in_c * out_c + group * kGroupBlocks * kLanes * in_c;
  float* m_p = m + p * chunk.capacity * out_c + group * kGroupBlocks * kLanes;
  for (int64_t t = 0; t < chunk.tiles; t += kStepTiles) {
    if (blocks == kGroupBlocks) {
      ProductStep<kGroupBlocks>(v_p + t * in_c, in_c, u_group, m_p + t * out_c, out_c);
    } else {
      ProductStep<1>(v_p + t * in_c, in_c, u_group, m_p + t * out_c, out_c);
    }
  }
}

// Y's 4x4 tile t from its products, with bias, sum and Relu, clipped at the plane's edges.
UH_AVX2 void TransformOutputTile(const BlockedConvGeometry& g, const Chunk& chunk, const float* m,
                                 int64_t t, const BlockedConvEpilogue& epilogue, float* dst) {
  const int64_t out_c = g.out_blocks * kLanes;
  const int64_t tile = chunk.first_tile + t;
  const int64_t top = tile / TilesWide(g) * kOut, left = tile % TilesWide(g) * kOut;
  const int rows = static_cast<int>(std::min<int64_t>(kOut, g.out_h - top));
  const int cols = static_cast<int>(std::min<int64_t>(kOut, g.out_w - left));
  const int64_t plane = g.out_h * g.out_w * kLanes;
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t ob = 0; ob < g.out_blocks; ++ob) {
    __m256 s[kPositions], z[kOut * kTile], y[kOut * kOut];
    for (int p = 0; p < kPositions; ++p) {
      s[p] = _mm256_loadu_ps(m + (p * chunk.capacity + t) * out_c + ob * kLanes);
    }
    for (int j = 0; j < kTile; ++j) OutputTransform(s + j, kTile, z + j, kTile);        // columns
    for (int i = 0; i < kOut; ++i) OutputTransform(z + i * kTile, 1, y + i * kOut, 1);  // rows
    const __m256 bias =
        epilogue.bias ? _mm256_loadu_ps(epilogue.bias + ob * kLanes) : _mm256_setzero_ps();
    const int64_t block_offset = (chunk.n * g.out_blocks + ob) * plane;
    for (int i = 0; i < rows; ++i) {
      for (int j = 0; j < cols; ++j) {
        const int64_t at = block_offset + ((top + i) * g.out_w + left + j) * kLanes;
        __m256 v = _mm256_add_ps(y[i * kOut + j], bias);
        if (epilogue.sum) v = _mm256_add_ps(v, _mm256_loadu_ps(epilogue.sum + at));
        if (epilogue.relu) v = _mm256_max_ps(v, zero);
        _mm256_storeu_ps(dst + at, v);
      }
    }
  }
}

}  // namespace

bool WinogradConvTakes(int64_t group, int64_t in_channels, int64_t out_channels,
                       const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                       const std::vector<int64_t>& dilations, const std::vector<int64_t>& pad_begin,
                       const std::vector<int64_t>& pad_end, const std::vector<int64_t>& output) {
  if (group != 1 || in_channels % kLanes != 0 || out_channels % kLanes != 0) return false;
  if (kernel.size() != 2 || kernel[0] != 3 || kernel[1] != 3) return false;
  if (output[0] * output[1] <= 8 * 8) return false;
  if (PackedBytes(in_channels, out_channels) > kMaxPackedBytes) return false;
  for (size_t d = 0; d < 2; ++d) {
    if (dilations[d] != 1 || strides[d] != 1 || pad_begin[d] > 2 || pad_end[d] > 2) return false;
  }
  return BlockedConvSupported();
}

std::vector<float> PackWinogradWeights(const BlockedConvGeometry& g, const float* weights) {
  const int64_t in_c = g.in_blocks * kLanes, out_c = g.out_blocks * kLanes;
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
      const int64_t first = group * kGroupBlocks * kLanes;
      const int64_t last = first + GroupBlocks(g.out_blocks, group) * kLanes;
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
  return kPositions * ChunkTiles(g) * (g.in_blocks + g.out_blocks) * kLanes;
}

bool ConvWinograd(hal::ThreadPool& pool, const BlockedConvGeometry& g, const float* src,
                  const float* packed_weights, const BlockedConvEpilogue& epilogue,
                  ThreadBufferFn workspace, float* dst) {
  const int64_t capacity = ChunkTiles(g);
  float* v = workspace(WinogradWorkspaceFloats(g));
  if (!v) return false;
  float* m = v + kPositions * capacity * g.in_blocks * kLanes;
  const int64_t tiles = TilesHigh(g) * TilesWide(g);
  const int64_t groups = GroupCount(g.out_blocks);
  // Three passes per chunk, each split among the threads: inputs into the Winograd domain, the
  // 36 products (a position's weights for a group stay in L1 over the chunk's tiles), outputs.
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t first = 0; first < tiles; first += capacity) {
      const Chunk chunk{n, first, std::min(capacity, tiles - first), capacity};
      const int64_t rows = (chunk.tiles + kStepTiles - 1) / kStepTiles * kStepTiles;
      ForEachItem(pool, rows, [&](int64_t t) { TransformInputTile(g, src, chunk, t, v); });
      ForEachItem(pool, kPositions * groups, [&](int64_t item) {
        Products(g, chunk, v, packed_weights, item / groups, item % groups, m);
      });
      ForEachItem(pool, chunk.tiles,
                  [&](int64_t t) { TransformOutputTile(g, chunk, m, t, epilogue, dst); });
    }
  }
  return true;
}

}  // namespace unihal::cpu
