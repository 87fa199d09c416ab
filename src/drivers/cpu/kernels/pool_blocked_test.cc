// PoolBlocked against a float64 pooling written out here, on random nChw8c inputs: windows
// at the borders, strides, dilations, both average divisors and a ceil_mode window that
// reaches past the padding.
#include "drivers/cpu/kernels/pool_blocked.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "drivers/cpu/kernels/window_test_util.h"

namespace unihal::cpu {
namespace {

struct Case {
  const char* name;
  BlockedPoolGeometry g;
  PoolOp op;
};

BlockedPoolGeometry Geometry(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                             int64_t dilation, int64_t extra = 0) {
  BlockedPoolGeometry g;
  static_cast<Window2d&>(g) = TestWindow(in, kernel, stride, pad, dilation, extra);
  g.batch = 2;
  g.channel_blocks = 2;
  return g;
}

// The expected value of output (n, block, lane, oh, ow), straight from the definition.
double Expected(const BlockedPoolGeometry& g, PoolOp op, const std::vector<float>& src,
                int64_t plane, int64_t lane, int64_t oh, int64_t ow) {
  double max = -std::numeric_limits<double>::infinity(), sum = 0;
  int64_t valid = 0, padded = 0;
  for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
      const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
      const int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
      if (ih < g.in_h + g.pad_bottom && iw < g.in_w + g.pad_right) ++padded;
      if (ih < 0 || iw < 0 || ih >= g.in_h || iw >= g.in_w) continue;
      const double v = src[((plane * g.in_h + ih) * g.in_w + iw) * g.block + lane];
      max = std::max(max, v);
      sum += v;
      ++valid;
    }
  }
  if (op == PoolOp::kMax) return max;
  const int64_t count = op == PoolOp::kAverageIncludePad ? padded : valid;
  return count > 0 ? sum / count : 0;
}

class PoolBlockedTest : public ::testing::TestWithParam<Case> {};

// Each geometry in blocks of 8 channels (nChw8c) and of 16 (nChw16c, AVX-512 vectors where the
// CPU has them).
TEST_P(PoolBlockedTest, MatchesTheDefinition) {
  const PoolOp op = GetParam().op;
  for (const int64_t block : {8, 16}) {
    BlockedPoolGeometry g = GetParam().g;
    g.block = block;
    const int64_t planes = g.batch * g.channel_blocks;
    std::vector<float> src(planes * g.in_h * g.in_w * block);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> value(-4.f, 4.f);
    for (float& v : src) v = value(rng);
    std::vector<float> dst(planes * g.out_h * g.out_w * block, std::nanf(""));
    PoolBlocked(hal::ThreadPool::Process(), g, op, src.data(), dst.data());
    for (int64_t plane = 0; plane < planes; ++plane) {
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          for (int64_t lane = 0; lane < block; ++lane) {
            const double want = Expected(g, op, src, plane, lane, oh, ow);
            const float got = dst[((plane * g.out_h + oh) * g.out_w + ow) * block + lane];
            ASSERT_NEAR(got, want, 1e-5 * std::max(1.0, std::abs(want)))
                << "block " << block << " plane " << plane << " oh " << oh << " ow " << ow
                << " lane " << lane;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, PoolBlockedTest,
    ::testing::Values(
        Case{"max_3x3_s1_p1", Geometry(14, 3, 1, 1, 1), PoolOp::kMax},
        Case{"max_3x3_s2_p0", Geometry(11, 3, 2, 0, 1), PoolOp::kMax},
        Case{"max_2x2_s2_dilated", Geometry(9, 2, 2, 0, 2), PoolOp::kMax},
        Case{"max_ceil_window", Geometry(8, 3, 2, 0, 1, 1), PoolOp::kMax},
        Case{"max_window_wider_than_input", Geometry(2, 5, 1, 2, 1), PoolOp::kMax},
        Case{"avg_exclude_3x3_s1_p1", Geometry(14, 3, 1, 1, 1), PoolOp::kAverageExcludePad},
        Case{"avg_include_3x3_s1_p1", Geometry(14, 3, 1, 1, 1), PoolOp::kAverageIncludePad},
        Case{"avg_include_5x5_s3_p2", Geometry(13, 5, 3, 2, 1), PoolOp::kAverageIncludePad},
        Case{"avg_exclude_dilated_p1", Geometry(10, 3, 1, 1, 2), PoolOp::kAverageExcludePad},
        Case{"avg_exclude_ceil_window", Geometry(8, 3, 2, 0, 1, 1),
             PoolOp::kAverageExcludePad},
        Case{"avg_whole_height_7x8", Geometry(7, 7, 1, 0, 1), PoolOp::kAverageExcludePad}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace unihal::cpu
