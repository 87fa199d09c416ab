#include "sched/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace unihal {
namespace {

TEST(LatencyHistogramTest, BucketsTileTheRangeWithoutGaps) {
  EXPECT_EQ(LatencyBucketLowerNs(0), 0);
  for (int i = 0; i + 1 < kLatencyBucketCount; ++i) {
    EXPECT_EQ(LatencyBucketUpperNs(i), LatencyBucketLowerNs(i + 1)) << i;
    EXPECT_LT(LatencyBucketLowerNs(i), LatencyBucketUpperNs(i)) << i;
    // Every value in the bucket maps back to it: both ends checked.
    EXPECT_EQ(LatencyBucketIndex(LatencyBucketLowerNs(i)), i) << i;
    EXPECT_EQ(LatencyBucketIndex(LatencyBucketUpperNs(i) - 1), i) << i;
    if (i > 0) {  // inside the range a bucket is at most 1/8 of its lower bound wide
      const double width = static_cast<double>(LatencyBucketUpperNs(i) - LatencyBucketLowerNs(i));
      EXPECT_LE(width / static_cast<double>(LatencyBucketLowerNs(i)), kLatencyRelativeResolution);
    }
  }
  EXPECT_EQ(LatencyBucketIndex(-5), 0);
  EXPECT_EQ(LatencyBucketIndex(127), 0);
  EXPECT_EQ(LatencyBucketIndex(128), 1);
  EXPECT_EQ(LatencyBucketIndex(int64_t{1} << 36), kLatencyBucketCount - 1);
  EXPECT_EQ(LatencyBucketIndex(INT64_MAX), kLatencyBucketCount - 1);
}

// Nearest rank: the smallest sample with at least q of the samples at or below it.
double ExactQuantile(std::vector<int64_t> samples, double q) {
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size())));
  return static_cast<double>(samples[std::clamp<size_t>(rank, 1, samples.size()) - 1]) * 1e-9;
}

LatencyHistogram Fill(const std::vector<int64_t>& samples_ns) {
  LatencyHistogram h;
  for (int64_t ns : samples_ns) {
    ++h.buckets[LatencyBucketIndex(ns)];
    ++h.count;
    h.sum_s += static_cast<double>(ns) * 1e-9;
  }
  return h;
}

TEST(LatencyHistogramTest, QuantilesAreWithinTheBucketResolution) {
  std::mt19937_64 rng(42);
  // Log-normal around 50 us with a long tail, as run latencies look; and a bimodal mix.
  std::lognormal_distribution<double> lognormal(std::log(50e3), 1.0);
  std::vector<int64_t> skewed, bimodal;
  for (int i = 0; i < 20000; ++i) skewed.push_back(static_cast<int64_t>(lognormal(rng)) + 200);
  for (int i = 0; i < 10000; ++i) bimodal.push_back(i % 10 == 0 ? 3'000'000 + i : 2'000 + i % 97);
  for (const auto* samples : {&skewed, &bimodal}) {
    const LatencyHistogram h = Fill(*samples);
    for (double q : {0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
      const double exact = ExactQuantile(*samples, q);
      const std::optional<double> estimate = h.Quantile(q);
      ASSERT_TRUE(estimate.has_value());
      EXPECT_LE(std::abs(*estimate - exact), kLatencyRelativeResolution * exact)
          << "q=" << q << " exact " << exact << " estimate " << *estimate;
    }
  }
}

TEST(LatencyHistogramTest, OneSampleAndEmpty) {
  EXPECT_FALSE(LatencyHistogram{}.Quantile(0.5).has_value());
  EXPECT_FALSE(LatencyHistogram{}.Mean().has_value());
  const LatencyHistogram one = Fill({1'000'000});  // 1 ms
  EXPECT_NEAR(*one.Quantile(0.5), 1e-3, 1e-3 * kLatencyRelativeResolution);
  EXPECT_NEAR(*one.Quantile(0.99), 1e-3, 1e-3 * kLatencyRelativeResolution);
  EXPECT_DOUBLE_EQ(*one.Mean(), 1e-3);
}

TEST(LatencyHistogramTest, MergeEqualsFillingWithBoth) {
  const std::vector<int64_t> a = {500, 7'000, 90'000}, b = {1'000'000, 300};
  LatencyHistogram merged = Fill(a);
  merged.Merge(Fill(b));
  std::vector<int64_t> both = a;
  both.insert(both.end(), b.begin(), b.end());
  const LatencyHistogram direct = Fill(both);
  EXPECT_EQ(merged.buckets, direct.buckets);
  EXPECT_EQ(merged.count, 5);
  EXPECT_DOUBLE_EQ(merged.sum_s, direct.sum_s);
}

}  // namespace
}  // namespace unihal
