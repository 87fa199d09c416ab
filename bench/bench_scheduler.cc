// bench_scheduler: the scheduler's own costs (SPEC R7.2, targets in SPEC "Performance targets").
//   tasks_per_s            empty tasks through the full priority path (tenant admission,
//                          placement, lane queue, worker, completion callback), one lane per
//                          core, submitted from one thread per core with SubmitBatch (the
//                          JSON says so: "tasks_per_s_is": "batched"); "throughput" has the
//                          single-Submit figure next to it
//   submit_to_complete_us  one trivial task at a time: Submit, then Wait returns (p50, p99)
//   critical_latency_ratio a critical task's latency (p50) while background work saturates
//                          every lane, over its latency on idle lanes; the background work is
//                          made of 50 us segments with a preemption point between them
// Usage: bench_scheduler [--json] [--tasks N] [--batch N] [--throughput-only]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sched/scheduler.h"
#include "unihal/hal/preemption.h"

namespace unihal::sched {
namespace {

class EmptyRunner final : public TaskRunner {
 public:
  Result<std::vector<Tensor>> RunOn(int, TaskRecord&) const override {
    return std::vector<Tensor>{};
  }
};

// Busy work in `segments` pieces of `segment_ns`, a preemption point between them.
class SegmentRunner final : public TaskRunner {
 public:
  SegmentRunner(int segments, int64_t segment_ns) : segments_(segments), segment_ns_(segment_ns) {}
  Result<std::vector<Tensor>> RunOn(int, TaskRecord&) const override {
    for (int s = 0; s < segments_; ++s) {
      if (s > 0) UH_RETURN_IF_ERROR(hal::PreemptionPoint());
      const int64_t until = NowNs() + segment_ns_;
      while (NowNs() < until) {
      }
    }
    return std::vector<Tensor>{};
  }

 private:
  int segments_;
  int64_t segment_ns_;
};

std::vector<LaneConfig> Lanes(int n) {
  std::vector<LaneConfig> lanes;
  for (int i = 0; i < n; ++i) lanes.push_back({"lane" + std::to_string(i), nullptr, 1});
  return lanes;
}

LaneList AllLanes(int n) {
  std::vector<int> all(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;
  return all;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// The first Submit failure of a measurement (any thread); a figure measured past one would
// mean nothing, so the measurement stops and main reports it.
class FirstFailure {
 public:
  void Record(Status status) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failed_.exchange(true)) return;
    status_ = std::move(status);
  }
  bool failed() const { return failed_.load(); }
  Status status() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return status_;
  }

 private:
  mutable std::mutex mutex_;
  std::atomic<bool> failed_{false};
  Status status_;
};

// Also reports the process's CPU seconds, so a loaded machine's figure can be read as what
// the scheduler costs per task rather than how much CPU it was given. `batch` 0: one Submit
// per task; otherwise SubmitBatch calls of `batch` tasks each (every task still goes through
// admission, placement, its lane's queue, a worker and its own completion callback).
Result<double> TasksPerSecond(int cores, int64_t tasks, int batch, double* cpu_s) {
  const double cpu_start = ProcessCpuSeconds();
  Scheduler scheduler(Lanes(cores), SchedulerOptions{});
  auto runner = std::make_shared<EmptyRunner>();
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> submitted{0};
  FirstFailure failure;
  const int64_t per_thread = batch > 0 ? tasks / cores / batch * batch : tasks / cores;
  const LaneList all = AllLanes(cores);
  auto on_complete = [&done](TaskState, const Status&, const std::vector<Tensor>&) {
    done.fetch_add(1, std::memory_order_relaxed);
  };
  const int64_t start = NowNs();
  std::vector<std::thread> submitters;
  for (int t = 0; t < cores; ++t) {
    submitters.emplace_back([&, t] {
      if (batch > 0) {
        for (int64_t i = 0; i < per_thread / batch && !failure.failed(); ++i) {
          SubmitBatchRequest r;
          r.runner = runner;
          r.count = static_cast<size_t>(batch);
          r.options.priority = static_cast<Priority>(i % kNumPriorities);
          r.candidates = {t};
          r.failover = all;
          r.on_complete = on_complete;
          Result<std::vector<TaskHandle>> handles = scheduler.SubmitBatch(std::move(r));
          if (!handles.ok()) return failure.Record(handles.status());
          submitted.fetch_add(batch, std::memory_order_relaxed);
        }
        return;
      }
      for (int64_t i = 0; i < per_thread && !failure.failed(); ++i) {
        SubmitRequest r;
        r.runner = runner;
        r.options.priority = static_cast<Priority>(i % kNumPriorities);
        r.candidates = {t};  // each submitter feeds its own core's lane
        r.failover = all;
        r.on_complete = on_complete;
        Result<TaskHandle> handle = scheduler.Submit(std::move(r));
        if (!handle.ok()) return failure.Record(handle.status());
        submitted.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& s : submitters) s.join();
  while (done.load() < submitted.load()) std::this_thread::yield();
  if (failure.failed()) return failure.status().WithContext("throughput");
  *cpu_s = ProcessCpuSeconds() - cpu_start;
  return static_cast<double>(per_thread * cores) / (static_cast<double>(NowNs() - start) * 1e-9);
}

Result<std::vector<double>> RoundTripsUs(int n) {
  Scheduler scheduler(Lanes(1), SchedulerOptions{});
  auto runner = std::make_shared<EmptyRunner>();
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    SubmitRequest r;
    r.runner = runner;
    r.candidates = {0};
    const int64_t start = NowNs();
    UH_ASSIGN_OR_RETURN(TaskHandle h, scheduler.Submit(std::move(r)));
    h.Wait();
    if (i >= n / 10) us.push_back(static_cast<double>(NowNs() - start) * 1e-3);  // warm-up
  }
  return us;
}

// p50 latency (us) of critical tasks, with or without saturating background work.
Result<double> CriticalLatencyUs(int cores, bool loaded, int samples) {
  Scheduler scheduler(Lanes(cores), SchedulerOptions{});
  auto background = std::make_shared<SegmentRunner>(40, 50'000);  // 2 ms in 50 us segments
  auto critical = std::make_shared<SegmentRunner>(4, 50'000);     // 200 us
  std::atomic<bool> stop{false};
  std::atomic<int> outstanding{0};
  FirstFailure failure;
  std::thread feeder;
  if (loaded) {
    feeder = std::thread([&] {
      while (!stop.load()) {
        if (outstanding.load() < 4 * cores) {  // every lane busy, with more queued behind
          SubmitRequest r;
          r.runner = background;
          r.options.priority = Priority::kBackground;
          r.candidates = AllLanes(cores);
          r.on_complete = [&](TaskState, const Status&, const std::vector<Tensor>&) {
            outstanding.fetch_sub(1);
          };
          outstanding.fetch_add(1);
          Result<TaskHandle> handle = scheduler.Submit(std::move(r));
          if (!handle.ok()) {
            outstanding.fetch_sub(1);
            return failure.Record(handle.status());
          }
        } else {
          std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::vector<double> us;
  for (int i = 0; i < samples && !failure.failed(); ++i) {
    SubmitRequest r;
    r.runner = critical;
    r.options.priority = Priority::kCritical;
    r.candidates = AllLanes(cores);
    const int64_t start = NowNs();
    Result<TaskHandle> h = scheduler.Submit(std::move(r));
    if (!h.ok()) {
      failure.Record(h.status());
      break;
    }
    h->Wait();
    us.push_back(static_cast<double>(NowNs() - start) * 1e-3);
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  stop = true;
  if (feeder.joinable()) feeder.join();
  while (outstanding.load() > 0) std::this_thread::yield();
  if (failure.failed()) return failure.status().WithContext("critical latency");
  return Percentile(us, 0.5);
}

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string one;
  f >> one;
  return one.empty() ? "null" : one;
}

}  // namespace
}  // namespace unihal::sched

int main(int argc, char** argv) {
  using namespace unihal::sched;  // NOLINT
  bool json = false;
  bool throughput_only = false;  // for profiling the throughput figures alone
  int64_t tasks = 1'000'000;
  int batch = 256;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = true;
    if (std::strcmp(argv[i], "--throughput-only") == 0) throughput_only = true;
    if (std::strcmp(argv[i], "--tasks") == 0 && i + 1 < argc) tasks = std::atoll(argv[++i]);
    if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = std::atoi(argv[++i]);
  }
  batch = std::max(1, batch);
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const std::string load_before = LoadAverage();
  auto fail = [](const unihal::Status& status) {
    std::fprintf(stderr, "bench_scheduler: %s\n", status.ToString().c_str());
    return 1;
  };
  double single_cpu_s = 0, batched_cpu_s = 0;
  const unihal::Result<double> single_or = TasksPerSecond(cores, tasks, 0, &single_cpu_s);
  if (!single_or.ok()) return fail(single_or.status());
  const unihal::Result<double> batched_or = TasksPerSecond(cores, tasks, batch, &batched_cpu_s);
  if (!batched_or.ok()) return fail(batched_or.status());
  const double single = *single_or, batched = *batched_or;
  auto per_cpu_s = [&](double cpu_s) { return cpu_s > 0 ? static_cast<double>(tasks) / cpu_s : 0; };
  if (throughput_only) {
    std::printf("single-submit %.0f tasks/s, batched (%d per SubmitBatch) %.0f tasks/s\n", single,
                batch, batched);
    return 0;
  }
  const unihal::Result<std::vector<double>> rt_or = RoundTripsUs(20000);
  if (!rt_or.ok()) return fail(rt_or.status());
  const std::vector<double>& rt = *rt_or;
  const unihal::Result<double> idle_or = CriticalLatencyUs(cores, false, 200);
  if (!idle_or.ok()) return fail(idle_or.status());
  const unihal::Result<double> busy_or = CriticalLatencyUs(cores, true, 200);
  if (!busy_or.ok()) return fail(busy_or.status());
  const double idle = *idle_or, busy = *busy_or;
  const double ratio = idle > 0 ? busy / idle : 0;
  if (json) {
    // tasks_per_s is the batched figure, and the JSON says so: "tasks_per_s_is" names it, and
    // the single-submit figure is next to it.
    std::printf(
        "{\"tasks_per_s\": %.0f, \"tasks_per_s_is\": \"batched\", \"throughput\": "
        "{\"single_submit_tasks_per_s\": %.0f, \"batched_tasks_per_s\": %.0f, \"batch_size\": %d, "
        "\"single_submit_tasks_per_cpu_s\": %.0f, \"batched_tasks_per_cpu_s\": %.0f}, "
        "\"submit_to_complete_us\": {\"p50\": %.2f, \"p99\": %.2f}, "
        "\"critical_latency_ratio\": %.3f, \"critical_latency_us\": {\"idle_p50\": %.1f, "
        "\"loaded_p50\": %.1f}, \"cores\": %d, \"load_average_1m\": %s}\n",
        batched, single, batched, batch, per_cpu_s(single_cpu_s), per_cpu_s(batched_cpu_s),
        Percentile(rt, 0.5), Percentile(rt, 0.99), ratio, idle, busy, cores, load_before.c_str());
  } else {
    std::printf("cores %d, load average %s before the run\n", cores, load_before.c_str());
    std::printf(
        "empty tasks, full priority path: single Submit %.0f tasks/s (%.0f per CPU-second), "
        "SubmitBatch of %d %.0f tasks/s (%.0f per CPU-second), spinning included\n",
        single, per_cpu_s(single_cpu_s), batch, batched, per_cpu_s(batched_cpu_s));
    std::printf("submit -> complete: p50 %.2f us, p99 %.2f us\n", Percentile(rt, 0.5),
                Percentile(rt, 0.99));
    std::printf(
        "critical latency p50: idle %.1f us, under saturating background %.1f us "
        "(ratio %.3f)\n",
        idle, busy, ratio);
  }
  return 0;
}
