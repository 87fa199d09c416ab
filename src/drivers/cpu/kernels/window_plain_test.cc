// DepthwiseConvPlain and PoolPlain against float64 loops written out here from the definitions,
// on random plain NCHW inputs: windows at the borders, strides 1 to 3 (and unequal; rows long
// enough for the vector copies of strides 1 and 2, and shorter), dilations,
// asymmetric padding, a window wider than the input, depth multipliers, both average divisors, a
// ceil_mode window past the padding, and whole-plane (global) pools.
#include "drivers/cpu/kernels/window_plain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "drivers/cpu/kernels/window_test_util.h"

namespace unihal::cpu {
namespace {

struct Case {
  const char* name;
  PlainWindowGeometry g;
};

PlainWindowGeometry Geometry(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                             int64_t dilation, int64_t extra = 0) {
  PlainWindowGeometry g;
  static_cast<Window2d&>(g) = TestWindow(in, kernel, stride, pad, dilation, extra);
  g.batch = 2;
  g.channels = 3;
  return g;
}

PlainWindowGeometry Asymmetric() {
  PlainWindowGeometry g;
  g.batch = 1;
  g.channels = 5;
  g.in_h = 9;
  g.in_w = 20;
  g.kernel_h = 3;
  g.kernel_w = 5;
  g.stride_h = 1;
  g.stride_w = 2;
  g.pad_top = 0;
  g.pad_bottom = 2;
  g.pad_left = 2;
  g.pad_right = 1;
  g.out_h = (9 + 0 + 2 - 3) / 1 + 1;
  g.out_w = (20 + 2 + 1 - 5) / 2 + 1;
  return g;
}

PlainWindowGeometry WithMultiplier(PlainWindowGeometry g, int64_t multiplier) {
  g.multiplier = multiplier;
  return g;
}

PlainWindowGeometry Global(int64_t h, int64_t w) {
  PlainWindowGeometry g;
  g.batch = 2;
  g.channels = 7;
  g.in_h = g.kernel_h = h;
  g.in_w = g.kernel_w = w;
  return g;  // out 1x1, no padding
}

std::vector<float> Random(size_t n, unsigned seed) {
  std::vector<float> v(n);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-4.f, 4.f);
  for (float& x : v) x = value(rng);
  return v;
}

// Input (ih, iw) of tap (kh, kw) for output (oh, ow); false when it lies in the padding.
bool TapInput(const PlainWindowGeometry& g, int64_t oh, int64_t ow, int64_t kh, int64_t kw,
              int64_t& ih, int64_t& iw) {
  ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
  iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
  return ih >= 0 && iw >= 0 && ih < g.in_h && iw < g.in_w;
}

double ExpectedPool(const PlainWindowGeometry& g, PoolOp op, const float* plane, int64_t oh,
                    int64_t ow) {
  double max = -std::numeric_limits<double>::infinity(), sum = 0;
  int64_t valid = 0, padded = 0;
  for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
      int64_t ih, iw;
      const bool inside = TapInput(g, oh, ow, kh, kw, ih, iw);
      if (ih < g.in_h + g.pad_bottom && iw < g.in_w + g.pad_right) ++padded;
      if (!inside) continue;
      max = std::max<double>(max, plane[ih * g.in_w + iw]);
      sum += plane[ih * g.in_w + iw];
      ++valid;
    }
  }
  if (op == PoolOp::kMax) return max;
  const int64_t count = op == PoolOp::kAverageIncludePad ? padded : valid;
  return count > 0 ? sum / count : 0;
}

void ExpectNear(float got, double want, const std::string& where) {
  if (std::isinf(want)) {
    ASSERT_EQ(got, static_cast<float>(want)) << where;
    return;
  }
  ASSERT_NEAR(got, want, 1e-5 * std::max(1.0, std::abs(want))) << where;
}

// A grow-only buffer for the calling thread, as dnnl_common.h's ThreadScratch gives.
float* TestBuffer(int64_t floats) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < floats) buffer.resize(floats);
  return buffer.data();
}

class PoolPlainTest : public ::testing::TestWithParam<Case> {};

TEST_P(PoolPlainTest, MatchesTheDefinition) {
  const PlainWindowGeometry& g = GetParam().g;
  const int64_t planes = g.batch * g.channels;
  const std::vector<float> x = Random(planes * g.in_h * g.in_w, 7);
  for (const PoolOp op : {PoolOp::kMax, PoolOp::kAverageExcludePad, PoolOp::kAverageIncludePad}) {
    const PlainWindowPlan plan = PlanPool(g, op);
    std::vector<float> y(planes * g.out_h * g.out_w, std::nanf(""));
    ASSERT_TRUE(PoolPlain(hal::ThreadPool::Process(), plan, x.data(), TestBuffer, y.data()));
    for (int64_t p = 0; p < planes; ++p) {
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          ExpectNear(y[(p * g.out_h + oh) * g.out_w + ow],
                     ExpectedPool(g, op, x.data() + p * g.in_h * g.in_w, oh, ow),
                     "op " + std::to_string(static_cast<int>(op)) + " plane " + std::to_string(p) +
                         " oh " + std::to_string(oh) + " ow " + std::to_string(ow));
        }
      }
    }
  }
}

class DepthwiseConvPlainTest : public ::testing::TestWithParam<Case> {};

// With bias, and an epilogue that must see each output plane exactly once, complete.
TEST_P(DepthwiseConvPlainTest, MatchesTheDefinition) {
  const PlainWindowGeometry& g = GetParam().g;
  const int64_t out_channels = g.channels * g.multiplier;
  const int64_t out_plane = g.out_h * g.out_w, taps = g.kernel_h * g.kernel_w;
  const std::vector<float> x = Random(g.batch * g.channels * g.in_h * g.in_w, 7);
  const std::vector<float> w = Random(out_channels * taps, 8);
  const std::vector<float> bias = Random(out_channels, 9);
  std::vector<float> y(g.batch * out_channels * out_plane, std::nanf(""));
  std::vector<int> epilogue_calls(g.batch * out_channels, 0);
  const PlaneEpilogue epilogue = [&](int64_t plane, float* data) {
    ++epilogue_calls[plane];  // planes are disjoint across workers
    EXPECT_EQ(data, y.data() + plane * out_plane);
    for (int64_t i = 0; i < out_plane; ++i) data[i] *= 2.f;
  };
  const PlainWindowPlan plan = PlanDepthwiseConv(g);
  ASSERT_TRUE(DepthwiseConvPlain(hal::ThreadPool::Process(), plan, x.data(), w.data(), bias.data(),
                                 epilogue, TestBuffer, y.data()));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t oc = 0; oc < out_channels; ++oc) {
      ASSERT_EQ(epilogue_calls[n * out_channels + oc], 1);
      const float* plane = x.data() + (n * g.channels + oc / g.multiplier) * g.in_h * g.in_w;
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          double want = bias[oc];
          for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
            for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
              int64_t ih, iw;
              if (TapInput(g, oh, ow, kh, kw, ih, iw)) {
                want += static_cast<double>(w[oc * taps + kh * g.kernel_w + kw]) *
                        plane[ih * g.in_w + iw];
              }
            }
          }
          ExpectNear(y[((n * out_channels + oc) * g.out_h + oh) * g.out_w + ow], 2 * want,
                     "image " + std::to_string(n) + " channel " + std::to_string(oc) + " oh " +
                         std::to_string(oh) + " ow " + std::to_string(ow));
        }
      }
    }
  }
}

const auto kWindows = ::testing::Values(
    Case{"k3_s1_p1", Geometry(14, 3, 1, 1, 1)}, Case{"k3_s1_narrow", Geometry(5, 3, 1, 1, 1)},
    Case{"k3_s2_p1", Geometry(28, 3, 2, 1, 1)}, Case{"k3_s2_p0", Geometry(11, 3, 2, 0, 1)},
    Case{"k5_s3_p2", Geometry(13, 5, 3, 2, 1)}, Case{"k3_s1_dilated", Geometry(10, 3, 1, 1, 2)},
    Case{"k2_s2_dilated", Geometry(9, 2, 2, 0, 2)},
    Case{"k1_s2_unused_phases", Geometry(9, 1, 2, 0, 1)},
    Case{"window_wider_than_input", Geometry(2, 5, 1, 2, 1)},
    Case{"ceil_window", Geometry(8, 3, 2, 0, 1, 1)}, Case{"asymmetric", Asymmetric()},
    Case{"large_plane", Geometry(57, 3, 1, 1, 1)}, Case{"large_plane_s2", Geometry(57, 3, 2, 1, 1)},
    Case{"large_plane_s2_dilated", Geometry(44, 3, 2, 2, 2)});

std::string Name(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Windows, PoolPlainTest, kWindows, Name);
INSTANTIATE_TEST_SUITE_P(Global, PoolPlainTest,
                         ::testing::Values(Case{"global_13x13", Global(13, 13)},
                                           Case{"global_7x9", Global(7, 9)},
                                           Case{"global_1x1", Global(1, 1)}),
                         Name);
INSTANTIATE_TEST_SUITE_P(Windows, DepthwiseConvPlainTest, kWindows, Name);
INSTANTIATE_TEST_SUITE_P(Multipliers, DepthwiseConvPlainTest,
                         ::testing::Values(Case{"k3_s1_m2",
                                                WithMultiplier(Geometry(7, 3, 1, 1, 1), 2)},
                                           Case{"asymmetric_m3", WithMultiplier(Asymmetric(), 3)}),
                         Name);

}  // namespace
}  // namespace unihal::cpu
