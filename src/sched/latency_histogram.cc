#include "sched/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace unihal {

int LatencyBucketIndex(int64_t ns) { return sched::FastLatencyBucketIndex(ns); }

int64_t LatencyBucketLowerNs(int index) {
  if (index <= 0) return 0;
  if (index >= kLatencyBucketCount - 1) return int64_t{1} << kLatencyMaxOctave;
  constexpr int kSubBuckets = 1 << kLatencySubBucketBits;
  const int octave = kLatencyMinOctave + (index - 1) / kSubBuckets;
  const int64_t sub = (index - 1) % kSubBuckets;
  return (kSubBuckets + sub) << (octave - kLatencySubBucketBits);
}

int64_t LatencyBucketUpperNs(int index) {
  if (index >= kLatencyBucketCount - 1) return std::numeric_limits<int64_t>::max();
  return LatencyBucketLowerNs(index + 1);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kLatencyBucketCount; ++i) buckets[i] += other.buckets[i];
  count += other.count;
  sum_s += other.sum_s;
}

std::optional<double> LatencyHistogram::Quantile(double q) const {
  if (count <= 0) return std::nullopt;
  const auto rank = std::clamp<int64_t>(
      static_cast<int64_t>(std::ceil(q * static_cast<double>(count))), 1, count);
  int64_t below = 0;
  for (int i = 0; i < kLatencyBucketCount; ++i) {
    if (below + buckets[i] < rank) {
      below += buckets[i];
      continue;
    }
    const double lower = static_cast<double>(LatencyBucketLowerNs(i));
    // The open-ended last bucket has no width to interpolate over: report its lower bound.
    if (i == kLatencyBucketCount - 1) return lower * 1e-9;
    const double width = static_cast<double>(LatencyBucketUpperNs(i)) - lower;
    // The bucket's samples taken as evenly spread: the k-th of n sits at (k - 0.5) / n.
    const double position =
        (static_cast<double>(rank - below) - 0.5) / static_cast<double>(buckets[i]);
    return (lower + width * position) * 1e-9;
  }
  return std::nullopt;  // unreachable while count matches the buckets
}

std::optional<double> LatencyHistogram::Mean() const {
  if (count <= 0) return std::nullopt;
  return sum_s / static_cast<double>(count);
}

void RunCounts::Merge(const RunCounts& other) {
  runs += other.runs;
  succeeded += other.succeeded;
  failed += other.failed;
  cancelled += other.cancelled;
  timed_out += other.timed_out;
  fell_back += other.fell_back;
  retried += other.retried;
}

void SeriesStats::Merge(const SeriesStats& other) {
  counts.Merge(other.counts);
  latency.Merge(other.latency);
}

void SeriesStats::Finish() {
  p50_s = latency.Quantile(0.50);
  p90_s = latency.Quantile(0.90);
  p99_s = latency.Quantile(0.99);
  mean_s = latency.Mean();
}

}  // namespace unihal
