// The performance monitor's storage: a fixed open-addressed table of series found by hash
// without a lock (a mutex only when a new key is inserted), each series' counters striped over
// a few cache-line-aligned copies picked per thread, and a ring of per-second run counts for
// the recent throughput. Used only through unihal::PerfMonitor (unihal/monitor.h).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "unihal/monitor.h"

namespace unihal::sched {

inline constexpr int kMonitorStripes = 4;

// One thread group's counters of one series. Aligned so stripes never share a cache line.
struct alignas(64) SeriesStripe {
  std::array<std::atomic<int64_t>, 4> outcomes{};  // succeeded, failed, cancelled, timed_out
  std::atomic<int64_t> fell_back{0};
  std::atomic<int64_t> retried{0};
  std::atomic<int64_t> sum_ns{0};
  std::array<std::atomic<int64_t>, kLatencyBucketCount> buckets{};
};

struct SeriesEntry {
  SeriesKey key;
  uint64_t hash = 0;
  std::array<SeriesStripe, kMonitorStripes> stripes;

  void Add(const RunRecord& record, int stripe);
  SeriesStats Read() const;
};

// Runs finished per second over the last few seconds. Each slot packs (second, count) in one
// word so a slot is moved to a new second and counted in one compare-and-swap: no count lost.
class RecentRate {
 public:
  static constexpr int kSlots = 16;  // more than the window + 1, so live seconds never collide
  void Add(int64_t second, int stripe);
  // Runs in seconds [first_second, last_second].
  int64_t CountBetween(int64_t first_second, int64_t last_second) const;
  void Clear();

 private:
  static constexpr int kCountBits = 40;
  struct alignas(64) Stripe {
    std::array<std::atomic<uint64_t>, kSlots> slots{};
  };
  std::array<Stripe, kMonitorStripes> stripes_;
};

class SeriesTable {
 public:
  static constexpr int kSlots = 2 * PerfMonitor::kMaxSeries;  // load factor at most 1/2

  SeriesTable();
  void Record(const RunRecord& record);
  SeriesEntry& FindOrInsert(std::string_view device, std::string_view model,
                            std::string_view tenant, Priority priority);
  void Record(SeriesEntry& entry, const RunRecord& record);
  PerfSnapshot Snapshot() const;
  void Reset();

 private:
  SeriesEntry& Find(std::string_view device, std::string_view model, std::string_view tenant,
                    Priority priority, uint64_t hash);
  SeriesEntry& Insert(std::string_view device, std::string_view model, std::string_view tenant,
                      Priority priority, uint64_t hash);
  std::vector<const SeriesEntry*> Entries() const;

  std::chrono::steady_clock::time_point start_;
  std::array<std::atomic<SeriesEntry*>, kSlots> slots_{};
  RecentRate recent_;
  mutable std::mutex insert_mu_;  // guards owned_, other_ and the insertion of slots
  std::vector<std::unique_ptr<SeriesEntry>> owned_;
  std::unique_ptr<SeriesEntry> other_;  // keys past kMaxSeries
};

}  // namespace unihal::sched
