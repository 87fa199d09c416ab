// Winograd F(4x4, 3x3) convolution of float32 tensors in the channel-blocked layouts nChw8c
// (with AVX2) and nChw16c (with AVX-512) (cpu_layout.h): 3x3 kernels, stride 1, groups 1, with
// bias, residual sum and Relu applied as each 4x4 output tile is written. Each 6x6 input tile goes
// into the Winograd domain, where the convolution becomes 36 matrix products (tiles x C) * (C x M)
// with 4x fewer multiply-adds than the direct convolution, and back. oneDNN 2.6 has Winograd on
// AVX-512 only and ONNX Runtime's MLAS has none on x86, so the 3x3 convolutions of VGG- and
// ResNet-style networks otherwise run at the direct convolution's peak (docs/benchmarks.md).
//
// The arithmetic differs from the direct sum: with float32 transforms the results agree with a
// float64 convolution to about 2e-6 of the summed terms' magnitude (conv_blocked_test.cc),
// against about 2e-7 for direct summation. UNIHAL_CPU_WINOGRAD=0 turns the kernel off
// (dnnl_conv.cc).
#pragma once

#include <cstdint>
#include <vector>

#include "drivers/cpu/kernels/conv_blocked.h"
#include "unihal/hal/thread_pool.h"

namespace unihal::cpu {

// Whether this process's CPU runs the kernel on activations blocked by `block` (8: AVX2 and FMA,
// 16: AVX-512F as well).
bool WinogradConvSupported(int64_t block);

// Whether the kernel takes this convolution between activations blocked by `block` channels:
// channels in whole blocks (at least two of input channels), groups 1, a 3x3 kernel at stride 1
// without dilation, padding of at most 2, and at least 20x20 output pixels per image (below,
// streaming its 4x larger weights from memory costs more than the multiply-adds saved).
bool WinogradConvTakes(int64_t block, int64_t group, int64_t in_channels, int64_t out_channels,
                       const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                       const std::vector<int64_t>& dilations, const std::vector<int64_t>& pad_begin,
                       const std::vector<int64_t>& pad_end, const std::vector<int64_t>& output);

// ONNX's (M, C, 3, 3) weights transformed (in float64) and packed in the kernel's order, for
// block b: [36 positions][groups of 2b output channels, a last one of b][C][2b or b].
std::vector<float> PackWinogradWeights(const BlockedConvGeometry& g, const float* weights);

// Floats of workspace ConvWinograd asks of `workspace` (once, on the calling thread).
int64_t WinogradWorkspaceFloats(const BlockedConvGeometry& g);

// dst = relu?(conv(src, packed weights) + bias + sum) for a geometry WinogradConvTakes accepts
// (kernel 3x3, stride 1). `sum` may be `dst` itself. Returns false when `workspace` gave no
// memory (dst is then untouched).
bool ConvWinograd(hal::ThreadPool& pool, const BlockedConvGeometry& g, const float* src,
                  const float* packed_weights, const BlockedConvEpilogue& epilogue,
                  ThreadBufferFn workspace, float* dst);

}  // namespace unihal::cpu
