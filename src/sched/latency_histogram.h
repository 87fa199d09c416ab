// The recording side of the latency histograms: the bucket index of a latency (a few
// instructions, inlined into the hot path). The layout is described in unihal/monitor.h.
#pragma once

#include <bit>
#include <cstdint>

#include "unihal/monitor.h"

namespace unihal::sched {

inline int FastLatencyBucketIndex(int64_t ns) {
  constexpr int64_t kMinNs = int64_t{1} << kLatencyMinOctave;
  if (ns < kMinNs) return 0;
  const int octave = 63 - std::countl_zero(static_cast<uint64_t>(ns));
  if (octave >= kLatencyMaxOctave) return kLatencyBucketCount - 1;
  constexpr int kSubBuckets = 1 << kLatencySubBucketBits;
  const int sub = static_cast<int>(ns >> (octave - kLatencySubBucketBits)) & (kSubBuckets - 1);
  return 1 + (octave - kLatencyMinOctave) * kSubBuckets + sub;
}

}  // namespace unihal::sched
