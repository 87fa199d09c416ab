// Monitoring (SPEC R5.8, R2.3): the performance monitor counts finished runs and keeps latency
// histograms per (device, model, tenant, priority); the health monitor samples every device in
// the background and derives healthy/degraded/failed. Both are thread-safe; a Runtime owns one
// of each (Runtime::perf_monitor(), Runtime::health_monitor()).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "unihal/hal/device.h"
#include "unihal/run_options.h"

namespace unihal {

namespace sched {
class SeriesTable;
struct SeriesEntry;
class HealthSampler;
}  // namespace sched

// ---------------------------------------------------------------------------------------------
// Performance monitor

// One finished run. The strings are only read during Record (nothing is kept), so views into
// the caller's own strings are fine.
struct RunRecord {
  std::string_view device;  // "cpu:0"
  std::string_view model;   // model file stem or graph name
  std::string_view tenant;  // empty: "default"
  Priority priority = Priority::kNormal;
  std::chrono::nanoseconds latency{0};  // submit (or start) to finish
  // A final state: succeeded, failed, cancelled or timed_out (a non-final one counts as failed).
  TaskState outcome = TaskState::kSucceeded;
  bool fell_back = false;  // ran (partly) on another device than the one asked for
  bool retried = false;    // was retried after a failure (R5.6)
  // When it finished, for the recent-throughput window; default (epoch): Record reads the clock.
  // Callers that already read it for `latency` pass it and save a clock read.
  std::chrono::steady_clock::time_point finished{};
};

// Latency histogram bucket layout, shared by the recorder, quantiles and the exporters: 8
// linear sub-buckets per power of two of nanoseconds, from 128 ns to 2^36 ns (68.7 s). Bucket i
// holds [LatencyBucketLowerNs(i), LatencyBucketUpperNs(i)); bucket 0 holds everything below
// 128 ns and the last everything from 2^36 ns up. Inside the range a bucket is at most 1/8 of
// its lower bound wide, so a quantile read from the buckets is within 12.5% of the exact one.
inline constexpr int kLatencySubBucketBits = 3;
inline constexpr int kLatencyMinOctave = 7;   // 2^7 ns = 128 ns
inline constexpr int kLatencyMaxOctave = 36;  // 2^36 ns ~ 68.7 s
inline constexpr int kLatencyBucketCount =
    (kLatencyMaxOctave - kLatencyMinOctave) * (1 << kLatencySubBucketBits) + 2;
inline constexpr double kLatencyRelativeResolution = 1.0 / (1 << kLatencySubBucketBits);
int LatencyBucketIndex(int64_t ns);
int64_t LatencyBucketLowerNs(int index);
int64_t LatencyBucketUpperNs(int index);  // the last bucket: INT64_MAX

// Counts per bucket of one histogram (or of several merged).
struct LatencyHistogram {
  std::array<int64_t, kLatencyBucketCount> buckets{};
  int64_t count = 0;
  double sum_s = 0;

  void Merge(const LatencyHistogram& other);
  // Estimated q-quantile (0 < q <= 1) in seconds: the nearest-rank sample's bucket, linearly
  // interpolated by rank inside it. nullopt when empty.
  std::optional<double> Quantile(double q) const;
  std::optional<double> Mean() const;
};

struct SeriesKey {
  std::string device;
  std::string model;
  std::string tenant;
  Priority priority = Priority::kNormal;
};

struct RunCounts {
  int64_t runs = 0;  // every recorded run
  int64_t succeeded = 0;
  int64_t failed = 0;
  int64_t cancelled = 0;
  int64_t timed_out = 0;
  int64_t fell_back = 0;
  int64_t retried = 0;
  void Merge(const RunCounts& other);
};

// Counters and the latency of every run (all outcomes) of one group of runs.
struct SeriesStats {
  RunCounts counts;
  LatencyHistogram latency;
  std::optional<double> p50_s, p90_s, p99_s, mean_s;  // nullopt when no runs
  void Merge(const SeriesStats& other);               // leaves the quantiles to Finish()
  void Finish();                                      // computes the quantiles
};

struct Series {
  SeriesKey key;
  SeriesStats stats;
};

// One group of an aggregate view: the label value ("cpu:0", "resnet50", "default", "high").
struct Group {
  std::string name;
  SeriesStats stats;
};

struct PerfSnapshot {
  double uptime_s = 0;
  double lifetime_runs_per_s = 0;  // every run since the monitor started, over uptime
  // Runs that finished in the last `recent_window_s` seconds (the window is shorter while the
  // monitor is younger than that), over the window.
  double recent_runs_per_s = 0;
  double recent_window_s = 0;
  double bucket_resolution = kLatencyRelativeResolution;
  bool series_limit_reached = false;  // later new keys were counted under "(other)"
  SeriesStats total;
  std::vector<Series> series;  // sorted by key
  std::vector<Group> by_device, by_model, by_tenant, by_priority;
};

// Lock-free on the recording path once a series exists: series live in a fixed open-addressed
// table (found by hash, no lock) and each keeps its counters in a few cache-line-separated
// stripes picked per thread, so threads rarely write the same line.
class PerfMonitor {
 public:
  // Distinct (device, model, tenant, priority) keys kept; later keys count under "(other)".
  static constexpr int kMaxSeries = 512;
  static constexpr int kRecentWindowSeconds = 10;

  PerfMonitor();
  ~PerfMonitor();
  PerfMonitor(const PerfMonitor&) = delete;
  PerfMonitor& operator=(const PerfMonitor&) = delete;

  // A series looked up once and kept by the caller (e.g. per session, tenant and priority):
  // recording through it skips hashing and comparing the key. Valid until Reset() or the
  // monitor's end.
  class SeriesHandle {
   public:
    SeriesHandle() = default;
    bool valid() const { return entry_ != nullptr; }

   private:
    friend class PerfMonitor;
    explicit SeriesHandle(sched::SeriesEntry* entry) : entry_(entry) {}
    sched::SeriesEntry* entry_ = nullptr;
  };

  void Record(const RunRecord& record);
  SeriesHandle FindSeries(std::string_view device, std::string_view model, std::string_view tenant,
                          Priority priority);
  // Records into `series`; the record's device, model, tenant and priority are not read.
  void Record(SeriesHandle series, const RunRecord& record);
  PerfSnapshot Snapshot() const;
  // Forgets every series (handles too) and restarts the clocks, e.g. between benchmark
  // phases. Not safe concurrently with Record.
  void Reset();

 private:
  std::unique_ptr<sched::SeriesTable> table_;
};

// JSON (one object: uptime, throughput, totals, aggregate views, series) and Prometheus text
// exposition format 0.0.4 (see docs/monitoring.md for the metric names).
std::string PerfSnapshotToJson(const PerfSnapshot& snapshot, int indent = 2);
std::string PerfSnapshotToPrometheus(const PerfSnapshot& snapshot);

// ---------------------------------------------------------------------------------------------
// Health monitor

struct HealthMonitorOptions {
  std::chrono::milliseconds interval{1000};  // between sampling rounds
  int history = 60;                          // samples kept per device
  // A device is failed after this many consecutive sampling rounds with new errors (its
  // error_count rose or ReportRunError was called), or this many run errors in a row.
  int failed_after_errors = 3;
};

struct HealthSample {
  std::chrono::steady_clock::time_point at;
  hal::DeviceHealth health;  // as the device reported it; unknown figures stay nullopt
};

struct DeviceHealthStatus {
  std::string device_id;
  bool is_simulated = false;  // every figure is modelled (sim-npu), not read from hardware
  // Derived: the device's own state, lowered by throttling (degraded) and errors (degraded,
  // then failed). Unknown while the device reports no state and nothing is wrong.
  hal::HealthState state = hal::HealthState::kUnknown;
  std::string reason;  // why degraded or failed; empty otherwise
  int64_t samples = 0;
  int consecutive_error_rounds = 0;
  int consecutive_run_errors = 0;
  std::optional<HealthSample> latest;
  std::vector<HealthSample> history;  // oldest first, at most options.history
};

// Samples every device's Health() on a background thread (started by Start(), joined by Stop()
// or the destructor). Queries are cheap and thread-safe; State() takes no lock.
class HealthMonitor {
 public:
  using Callback = std::function<void(const std::string& device_id, hal::HealthState before,
                                      hal::HealthState after, const std::string& reason)>;

  explicit HealthMonitor(std::vector<std::shared_ptr<hal::Device>> devices,
                         const HealthMonitorOptions& options = {});
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  void Start();  // idempotent
  void Stop();   // idempotent; joins the thread
  bool running() const;
  // One sampling round now, on the calling thread (the CLI and tests drive it this way).
  void SampleNow();
  // Completed rounds; WaitForRounds blocks until at least `n` or the timeout.
  int64_t rounds() const;
  bool WaitForRounds(int64_t n, std::chrono::milliseconds timeout) const;

  // kUnknown for a device this monitor does not watch.
  hal::HealthState State(std::string_view device_id) const;
  bool IsFailed(std::string_view device_id) const;
  bool IsThrottling(std::string_view device_id) const;  // per the latest sample
  std::optional<DeviceHealthStatus> Status(std::string_view device_id) const;
  std::vector<DeviceHealthStatus> StatusAll() const;

  // Run outcomes from the scheduler (R5.6): errors in a row fail the device at once; a success
  // clears them.
  void ReportRunError(std::string_view device_id);
  void ReportRunSuccess(std::string_view device_id);

  // Called on every state change, on the sampling or reporting thread. Keep it short and call
  // only the queries (State, Status, ...) from it: Stop, Report*, Subscribe and Unsubscribe
  // would deadlock. Returns an id for Unsubscribe.
  int Subscribe(Callback callback);
  void Unsubscribe(int id);

 private:
  std::unique_ptr<sched::HealthSampler> sampler_;
};

// The latest sample of each device as Prometheus gauges (names in docs/monitoring.md). A figure
// the device did not report has no sample line: Prometheus has no "unknown", and 0 would lie.
std::string HealthToPrometheus(const std::vector<DeviceHealthStatus>& statuses);

}  // namespace unihal
