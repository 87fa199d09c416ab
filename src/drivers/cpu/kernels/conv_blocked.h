// Direct 2-D convolution (groups 1, no dilation, kernels larger than 1x1) of float32 tensors in
// the channel-blocked layouts nChw8c (with AVX2) and nChw16c (with AVX-512) (cpu_layout.h) for
// small output planes, with bias, residual sum and Relu applied to the last partial sums in
// registers. A step keeps its output vectors in registers (AVX2: 6 consecutive pixels, running on
// into the next row where a row ends, by 2 blocks of 8 output channels, 12 FMAs per 2 weight
// loads and 6 broadcasts; AVX-512: 12 pixels by 2 blocks of 16 channels); the input
// channels go in passes whose 16 KB of weights stay in L1, and the next pass's weights are
// prefetched while one computes. At batch 1 the last stages of ResNet-style networks stream
// megabytes of weights per convolution from memory, and 7x7 rows fit oneDNN 2.6's jit:avx2
// tiles badly: on these Zen 3 machines it ran ResNet-50's 512-channel 7x7 3x3 convolution at
// 80-95 GFLOP/s, this kernel at 96-118 (docs/benchmarks.md).
#pragma once

#include <cstdint>
#include <vector>

#include "drivers/cpu/kernels/thread_buffer.h"
#include "unihal/hal/thread_pool.h"

namespace unihal::cpu {

struct BlockedConvGeometry {
  int64_t batch = 1;
  int64_t block = 8;       // channels per block: 8 or 16
  int64_t in_blocks = 1;   // input channels / block
  int64_t out_blocks = 1;  // output channels / block
  int64_t in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // the end padding follows from out_h and out_w
};

// Whether this process's CPU runs the kernel on activations blocked by `block` (8: AVX2 and FMA,
// 16: AVX-512F as well).
bool BlockedConvSupported(int64_t block = 8);

// Whether the kernel takes this convolution: channels in whole blocks on both sides,
// groups 1, no dilation, a kernel of more than one tap, strides 1 or 2, padding below the
// kernel size, and at most 8x8 output pixels per image (where it beats oneDNN); on nChw16c at most
// 14x14 and 2 MB of weights or more.
bool BlockedConvTakes(int64_t block, int64_t group, int64_t in_channels, int64_t out_channels,
                      const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                      const std::vector<int64_t>& dilations, const std::vector<int64_t>& pad_begin,
                      const std::vector<int64_t>& pad_end, const std::vector<int64_t>& output);

// ONNX's (M, C, kh, kw) weights in the kernel's order, for block b: [M/b][C/b][kh][kw][b in]
// [b out], output blocks interleaved in pairs.
std::vector<float> PackBlockedConvWeights(const BlockedConvGeometry& g, const float* weights);

struct BlockedConvEpilogue {
  const float* bias = nullptr;  // out channels, or null
  const float* sum = nullptr;   // blocked like dst, added before the activation, or null
  bool relu = false;
};

// dst = relu?(conv(src, packed weights) + bias + sum). Padded input rows are copied into each
// worker's `thread_buffer`. `sum` may be `dst` itself (it is read before the first partial
// sums are written). Returns false when a worker got no buffer (dst is then incomplete).
bool ConvBlockedDirect(hal::ThreadPool& pool, const BlockedConvGeometry& g, const float* src,
                       const float* packed_weights, const BlockedConvEpilogue& epilogue,
                       ThreadBufferFn thread_buffer, float* dst);

}  // namespace unihal::cpu
