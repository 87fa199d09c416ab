// Google Benchmark of the performance monitor's hot path (R5.8): one PerfMonitor::Record, as
// the scheduler calls it for every finished task, from one and from several threads, on one
// series and spread over a few; and one Snapshot. Run: build/bin/bench_monitor
#include <benchmark/benchmark.h>

#include <array>
#include <string>

#include "unihal/monitor.h"

namespace unihal {
namespace {

PerfMonitor& SharedMonitor() {
  static PerfMonitor monitor;  // shared by the threads of a multi-threaded run
  return monitor;
}

RunRecord Record(std::string_view model, Priority priority) {
  RunRecord r;
  r.device = "cpu:0";
  r.model = model;
  r.tenant = "tenant-a";
  r.priority = priority;
  r.latency = std::chrono::nanoseconds(4200);
  return r;
}

// Every thread records into the same series: the worst case for shared cache lines.
void BM_RecordOneSeries(benchmark::State& state) {
  PerfMonitor& monitor = SharedMonitor();
  RunRecord r = Record("resnet50", Priority::kNormal);
  for (auto _ : state) {
    r.latency = std::chrono::nanoseconds(1000 + (state.iterations() & 1023) * 37);
    monitor.Record(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordOneSeries)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

// The same through a handle the caller keeps, with the finish time passed in (as the
// scheduler does): no key hashing, no clock read.
void BM_RecordHandle(benchmark::State& state) {
  PerfMonitor& monitor = SharedMonitor();
  const PerfMonitor::SeriesHandle handle =
      monitor.FindSeries("cpu:0", "resnet50", "tenant-a", Priority::kNormal);
  RunRecord r = Record("resnet50", Priority::kNormal);
  r.finished = std::chrono::steady_clock::now();
  for (auto _ : state) {
    r.latency = std::chrono::nanoseconds(1000 + (state.iterations() & 1023) * 37);
    monitor.Record(handle, r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordHandle)->Threads(1)->Threads(2)->UseRealTime();

// Eight series (two models x four priorities), cycled.
void BM_RecordEightSeries(benchmark::State& state) {
  PerfMonitor& monitor = SharedMonitor();
  const std::array<RunRecord, 8> records = {
      Record("resnet50", Priority::kCritical), Record("resnet50", Priority::kHigh),
      Record("resnet50", Priority::kLow),      Record("resnet50", Priority::kBackground),
      Record("bert", Priority::kCritical),     Record("bert", Priority::kHigh),
      Record("bert", Priority::kLow),          Record("bert", Priority::kBackground)};
  size_t i = 0;
  for (auto _ : state) monitor.Record(records[i++ & 7]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordEightSeries)->Threads(1)->Threads(2)->UseRealTime();

void BM_Snapshot(benchmark::State& state) {
  PerfMonitor monitor;
  for (int m = 0; m < 16; ++m) {
    const std::string model = "model" + std::to_string(m);
    for (int p = 0; p < kNumPriorities; ++p) monitor.Record(Record(model, Priority(p)));
  }
  for (auto _ : state) benchmark::DoNotOptimize(monitor.Snapshot());
  state.counters["series"] = 16 * kNumPriorities;
}
BENCHMARK(BM_Snapshot);

}  // namespace
}  // namespace unihal

BENCHMARK_MAIN();
