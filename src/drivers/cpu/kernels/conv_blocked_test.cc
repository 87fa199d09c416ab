// ConvBlockedDirect and ConvWinograd against a float64 convolution written out here, on random
// blocked inputs (nChw8c, and nChw16c where the CPU has AVX-512). ConvBlockedDirect: padding on
// every side, stride 2 with uneven padding, a 5x5 kernel with an in-place residual, no padding at
// all (the source read directly), several input-channel passes, an odd number of output channel
// blocks, several row chunks and images. ConvWinograd: planes that are no multiple of the 4x4 tile,
// padding 0 to 2 and uneven, several chunks of tiles and a chunk running from one image into the
// next, an odd number of output channel blocks, an in-place residual.
#include "drivers/cpu/kernels/conv_blocked.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "drivers/cpu/kernels/conv_winograd.h"

namespace unihal::cpu {
namespace {

enum class Kernel { kDirect, kWinograd };

struct Case {
  const char* name;
  Kernel kernel;
  BlockedConvGeometry g;
  bool bias, sum, relu, sum_in_place;
};

BlockedConvGeometry Geometry(int64_t batch, int64_t in_c, int64_t out_c, int64_t in_h, int64_t in_w,
                             int64_t kernel, int64_t stride, int64_t pad_top, int64_t pad_left,
                             int64_t pad_bottom, int64_t pad_right) {
  BlockedConvGeometry g;
  g.batch = batch;
  g.in_blocks = in_c / g.block;
  g.out_blocks = out_c / g.block;
  g.in_h = in_h;
  g.in_w = in_w;
  g.kernel_h = g.kernel_w = kernel;
  g.stride_h = g.stride_w = stride;
  g.pad_top = pad_top;
  g.pad_left = pad_left;
  g.out_h = (in_h + pad_top + pad_bottom - kernel) / stride + 1;
  g.out_w = (in_w + pad_left + pad_right - kernel) / stride + 1;
  return g;
}

std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// `g` with channels in blocks of 16 (nChw16c).
BlockedConvGeometry Sixteen(BlockedConvGeometry g) {
  g.in_blocks /= 2;
  g.out_blocks /= 2;
  g.block = 16;
  return g;
}

// Index of (n, channel c, h, w) in the layout blocked by `block` with `blocks` channel blocks.
int64_t At(int64_t block, int64_t blocks, int64_t h_size, int64_t w_size, int64_t n, int64_t c,
           int64_t h, int64_t w) {
  return (((n * blocks + c / block) * h_size + h) * w_size + w) * block + c % block;
}

float* ThreadBuffer(int64_t floats) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < floats) buffer.resize(floats);
  return buffer.data();
}

float* NoBuffer(int64_t) { return nullptr; }

class ConvBlockedTest : public ::testing::TestWithParam<Case> {};

TEST_P(ConvBlockedTest, MatchesFloat64Convolution) {
  if (!BlockedConvSupported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  const Case& c = GetParam();
  const BlockedConvGeometry& g = c.g;
  if (!BlockedConvSupported(g.block)) {
    GTEST_SKIP() << "this CPU cannot run the kernels on blocks of " << g.block;
  }
  const int64_t in_c = g.in_blocks * g.block, out_c = g.out_blocks * g.block;
  const std::vector<float> x = Random(g.batch * in_c * g.in_h * g.in_w, 1);
  const std::vector<float> w = Random(out_c * in_c * g.kernel_h * g.kernel_w, 2);
  const std::vector<float> bias = Random(out_c, 3);
  const std::vector<float> residual = Random(g.batch * out_c * g.out_h * g.out_w, 4);
  // Poisoned, so an output the kernel leaves unwritten shows.
  std::vector<float> y(residual.size(), std::nanf(""));
  if (c.sum_in_place) y = residual;

  BlockedConvEpilogue epilogue;
  epilogue.bias = c.bias ? bias.data() : nullptr;
  epilogue.sum = c.sum ? (c.sum_in_place ? y.data() : residual.data()) : nullptr;
  epilogue.relu = c.relu;
  hal::ThreadPool& pool = hal::ThreadPool::Process();
  if (c.kernel == Kernel::kDirect) {
    const std::vector<float> packed = PackBlockedConvWeights(g, w.data());
    ASSERT_TRUE(
        ConvBlockedDirect(pool, g, x.data(), packed.data(), epilogue, ThreadBuffer, y.data()));
  } else {
    const std::vector<float> packed = PackWinogradWeights(g, w.data());
    ASSERT_TRUE(ConvWinograd(pool, g, x.data(), packed.data(), epilogue, ThreadBuffer, y.data()));
  }
  // float32 accumulation over up to 576 terms; one term left out or counted twice is about
  // magnitude / 576, 100 times the direct sum's tolerance (measured: up to 2e-7 of magnitude).
  // Winograd's transforms scale values by up to 100 between the sums, for about 10 times the
  // rounding error (measured: up to 2e-6), still 100 times below a wrong term.
  const double tolerance = c.kernel == Kernel::kDirect ? 1e-5 : 2e-5;
  double worst = 0;

  int64_t checked = 0;
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t m = 0; m < out_c; ++m) {
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          double expected = c.bias ? bias[m] : 0.0, magnitude = std::abs(expected);
          for (int64_t ci = 0; ci < in_c; ++ci) {
            for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
              for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
                const int64_t ih = oh * g.stride_h - g.pad_top + kh;
                const int64_t iw = ow * g.stride_w - g.pad_left + kw;
                if (ih < 0 || iw < 0 || ih >= g.in_h || iw >= g.in_w) continue;
                const double term =
                    double{x[At(g.block, g.in_blocks, g.in_h, g.in_w, n, ci, ih, iw)]} *
                    w[((m * in_c + ci) * g.kernel_h + kh) * g.kernel_w + kw];
                expected += term;
                magnitude += std::abs(term);
              }
            }
          }
          const int64_t out = At(g.block, g.out_blocks, g.out_h, g.out_w, n, m, oh, ow);
          if (c.sum) expected += residual[out];
          if (c.relu) expected = std::max(expected, 0.0);
          worst = std::max(worst, std::abs(y[out] - expected) / (magnitude + 1.0));
          ASSERT_NEAR(y[out], expected, tolerance * (magnitude + 1.0))
              << c.name << " at n " << n << " channel " << m << " (" << oh << ", " << ow << ")";
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, static_cast<int64_t>(y.size()));
  RecordProperty("worst_relative_error", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, ConvBlockedTest,
    ::testing::Values(
        // ResNet's last stage in small: 8 input blocks go in 3 passes, 3 output blocks as a
        // pair and a single, 7-pixel rows in steps that run across rows.
        Case{"resnet_7x7", Kernel::kDirect, Geometry(1, 64, 24, 7, 7, 3, 1, 1, 1, 1, 1), true,
             false, true, false},
        // Stride 2, no padding at the top-left of the columns, one at the bottom and right.
        Case{"stride2_uneven", Kernel::kDirect, Geometry(2, 16, 16, 13, 12, 3, 2, 1, 0, 1, 1), true,
             false, false, false},
        // 5x5 (one input block per pass, so two passes), the residual read from and written to
        // the same buffer.
        Case{"5x5_residual_in_place", Kernel::kDirect, Geometry(1, 16, 16, 9, 9, 5, 1, 2, 2, 2, 2),
             true, true, true, true},
        // No padding: the source is read directly; a residual from another buffer.
        Case{"no_padding", Kernel::kDirect, Geometry(2, 24, 8, 10, 9, 3, 1, 0, 0, 0, 0), false,
             true, false, false},
        // Rows wider than one chunk's cache budget, so each image goes in several chunks.
        Case{"row_chunks", Kernel::kDirect, Geometry(2, 64, 16, 56, 40, 3, 1, 1, 1, 1, 1), true,
             true, true, false},
        // nChw16c (AVX-512): the 7x7 case, stride 2 with uneven padding, the in-place residual.
        Case{"direct16_resnet_7x7", Kernel::kDirect,
             Sixteen(Geometry(1, 64, 48, 7, 7, 3, 1, 1, 1, 1, 1)), true, false, true, false},
        Case{"direct16_stride2_uneven", Kernel::kDirect,
             Sixteen(Geometry(2, 32, 32, 13, 12, 3, 2, 1, 0, 1, 1)), true, false, false, false},
        Case{"direct16_5x5_residual_in_place", Kernel::kDirect,
             Sixteen(Geometry(1, 32, 32, 9, 9, 5, 1, 2, 2, 2, 2)), true, true, true, true},
        // 13x11 output: tiles cut at the bottom and right edges; a pair and a single output
        // block; two images.
        Case{"winograd_edges", Kernel::kWinograd, Geometry(2, 16, 24, 13, 11, 3, 1, 1, 1, 1, 1),
             true, false, true, false},
        // No padding, and padding 2 at the top and right but none at the left.
        Case{"winograd_valid", Kernel::kWinograd, Geometry(1, 8, 16, 12, 14, 3, 1, 0, 0, 0, 0),
             false, true, false, false},
        Case{"winograd_uneven_pads", Kernel::kWinograd,
             Geometry(1, 24, 16, 10, 9, 3, 1, 2, 0, 1, 2), true, false, false, false},
        // 400 tiles in several chunks, the residual read from and written to the same buffer.
        Case{"winograd_chunks_in_place", Kernel::kWinograd,
             Geometry(1, 64, 64, 80, 80, 3, 1, 1, 1, 1, 1), true, true, true, true},
        // Two images of 100 tiles in chunks of 54: a chunk runs on from one image into the next.
        Case{"winograd_chunks_across_images", Kernel::kWinograd,
             Geometry(2, 64, 64, 40, 40, 3, 1, 1, 1, 1, 1), true, true, false, false},
        // The same on nChw16c (AVX-512): edges, a pair and a single output block, two images;
        // uneven pads; several chunks in place.
        Case{"winograd16_edges", Kernel::kWinograd,
             Sixteen(Geometry(2, 32, 48, 13, 11, 3, 1, 1, 1, 1, 1)), true, false, true, false},
        Case{"winograd16_uneven_pads", Kernel::kWinograd,
             Sixteen(Geometry(1, 16, 32, 10, 9, 3, 1, 2, 0, 1, 2)), false, true, false, false},
        Case{"winograd16_chunks_in_place", Kernel::kWinograd,
             Sixteen(Geometry(1, 64, 64, 80, 80, 3, 1, 1, 1, 1, 1)), true, true, true, true}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(ConvBlockedTest, WinogradReportsNoWorkspace) {
  if (!BlockedConvSupported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  const BlockedConvGeometry g = Geometry(1, 8, 8, 12, 12, 3, 1, 1, 1, 1, 1);
  const std::vector<float> x(8 * 144, 1.f), w(8 * 8 * 9, 1.f);
  std::vector<float> y(8 * 144, -1.f);
  const std::vector<float> packed = PackWinogradWeights(g, w.data());
  EXPECT_FALSE(
      ConvWinograd(hal::ThreadPool::Process(), g, x.data(), packed.data(), {}, NoBuffer, y.data()));
  EXPECT_EQ(y, std::vector<float>(8 * 144, -1.f));  // untouched
}

TEST(ConvBlockedTest, WinogradTakesStride1_3x3OnLargerPlanes) {
  if (!BlockedConvSupported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  const std::vector<int64_t> k3{3, 3}, k5{5, 5}, one{1, 1}, two{2, 2}, pad{1, 1}, pad3{3, 3};
  const std::vector<int64_t> out7{7, 7}, out14{14, 14}, out28{28, 28}, out56{56, 56};
  EXPECT_TRUE(WinogradConvTakes(8, 1, 64, 64, k3, one, one, pad, pad, out56));
  EXPECT_TRUE(WinogradConvTakes(8, 1, 512, 512, k3, one, one, pad, pad, out28));
  EXPECT_FALSE(WinogradConvTakes(8, 1, 128, 128, k3, one, one, pad, pad, out14));  // 14x14
  EXPECT_FALSE(WinogradConvTakes(8, 1, 64, 64, k3, one, one, pad, pad, out7));
  EXPECT_FALSE(WinogradConvTakes(8, 1, 64, 64, k3, two, one, pad, pad, out56));   // stride 2
  EXPECT_FALSE(WinogradConvTakes(8, 1, 64, 64, k5, one, one, pad, pad, out56));   // 5x5
  EXPECT_FALSE(WinogradConvTakes(8, 1, 64, 64, k3, one, two, pad, pad, out56));   // dilation
  EXPECT_FALSE(WinogradConvTakes(8, 2, 64, 64, k3, one, one, pad, pad, out56));   // groups
  EXPECT_FALSE(WinogradConvTakes(8, 1, 12, 64, k3, one, one, pad, pad, out56));   // 12 channels
  EXPECT_FALSE(WinogradConvTakes(8, 1, 8, 64, k3, one, one, pad, pad, out56));    // one block in
  EXPECT_FALSE(WinogradConvTakes(8, 1, 64, 64, k3, one, one, pad3, pad, out56));  // padding 3
  EXPECT_FALSE(WinogradConvTakes(16, 1, 24, 64, k3, one, one, pad, pad, out56));  // 24 channels
  EXPECT_FALSE(WinogradConvTakes(16, 1, 16, 64, k3, one, one, pad, pad, out56));  // one block in
  EXPECT_EQ(WinogradConvTakes(16, 1, 64, 64, k3, one, one, pad, pad, out56),
            WinogradConvSupported(16));
}

TEST(ConvBlockedTest, ReportsAWorkerWithoutBuffer) {
  if (!BlockedConvSupported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  const BlockedConvGeometry g = Geometry(1, 8, 8, 7, 7, 3, 1, 1, 1, 1, 1);
  const std::vector<float> x(8 * 49, 1.f), w(8 * 8 * 9, 1.f);
  std::vector<float> y(8 * 49);
  const std::vector<float> packed = PackBlockedConvWeights(g, w.data());
  EXPECT_FALSE(ConvBlockedDirect(hal::ThreadPool::Process(), g, x.data(), packed.data(), {},
                                 NoBuffer, y.data()));
}

TEST(ConvBlockedTest, TakesSmallPlanesOnly) {
  if (!BlockedConvSupported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  const std::vector<int64_t> k3{3, 3}, one{1, 1}, two{2, 2}, pad{1, 1}, none{0, 0};
  const std::vector<int64_t> out7{7, 7}, out14{14, 14};
  EXPECT_TRUE(BlockedConvTakes(8, 1, 512, 512, k3, one, one, pad, pad, out7));
  EXPECT_TRUE(BlockedConvTakes(8, 1, 512, 512, k3, two, one, pad, pad, out7));
  EXPECT_FALSE(BlockedConvTakes(8, 1, 256, 256, k3, one, one, pad, pad, out14));    // oneDNN's
  EXPECT_FALSE(BlockedConvTakes(8, 2, 512, 512, k3, one, one, pad, pad, out7));     // groups
  EXPECT_FALSE(BlockedConvTakes(8, 1, 12, 512, k3, one, one, pad, pad, out7));      // 12 channels
  EXPECT_FALSE(BlockedConvTakes(8, 1, 512, 512, k3, one, two, pad, pad, out7));     // dilation
  EXPECT_FALSE(BlockedConvTakes(8, 1, 512, 512, one, one, one, none, none, out7));  // 1x1
  EXPECT_FALSE(BlockedConvTakes(16, 1, 24, 512, k3, one, one, pad, pad, out7));     // 24 channels
  EXPECT_FALSE(BlockedConvTakes(16, 1, 160, 320, k3, one, one, pad, pad, out7));    // 1.8 MB
  EXPECT_EQ(BlockedConvTakes(16, 1, 256, 256, k3, one, one, pad, pad, out14),       // 2.4 MB
            BlockedConvSupported(16));
  EXPECT_FALSE(BlockedConvTakes(16, 1, 512, 512, k3, one, one, pad, pad, {28, 28}));
  EXPECT_EQ(BlockedConvTakes(16, 1, 512, 512, k3, one, one, pad, pad, out7),
            BlockedConvSupported(16));
}

}  // namespace
}  // namespace unihal::cpu
