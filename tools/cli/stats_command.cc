// `unihal stats`: runs a model --requests times from --threads client threads (random inputs)
// and prints the performance monitor's snapshot (R5.8): a table, JSON or Prometheus text.
#include <fmt/format.h>

#include <atomic>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "cli/cli_common.h"
#include "unihal/monitor.h"
#include "unihal/runtime.h"
#include "unihal/session.h"

namespace unihal::cli {
namespace {

struct StatsOptions {
  std::string model;
  std::string device = "auto";
  int requests = 100;
  int threads = 1;
  std::string tenant;
  std::string priority = "normal";
  uint64_t seed = 0;
  bool json = false;
  bool prometheus = false;
  SimNpuCliOptions sim_npu;
};

// Runs `requests` runs from `threads` threads; the first error, if every run failed.
Status Drive(const Session& session, const std::map<std::string, Tensor>& inputs,
             const RunOptions& run_options, int requests, int threads) {
  std::atomic<int> next{0};
  std::atomic<int> succeeded{0};
  std::mutex error_mu;
  std::optional<Status> first_error;
  auto worker = [&] {
    while (next.fetch_add(1) < requests) {
      Result<std::vector<Tensor>> outputs = session.Run(inputs, run_options);
      if (outputs.ok()) {
        succeeded.fetch_add(1);
        continue;
      }
      std::lock_guard<std::mutex> lock(error_mu);
      if (!first_error) first_error = outputs.status();
    }
  };
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker);
  for (std::thread& thread : pool) thread.join();
  if (succeeded.load() == 0 && first_error) return first_error->WithContext("every run failed");
  return Status::Ok();
}

std::string Ms(const std::optional<double>& seconds) {
  return seconds ? fmt::format("{:.4g}", *seconds * 1e3) : "-";
}

void PrintTable(const PerfSnapshot& s) {
  fmt::print("{:<10} {:<16} {:<10} {:<10} {:>7} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9}\n", "DEVICE",
             "MODEL", "TENANT", "PRIORITY", "RUNS", "FAILED", "FALLBACK", "P50 ms", "P90 ms",
             "P99 ms", "MEAN ms");
  for (const Series& series : s.series) {
    const SeriesStats& st = series.stats;
    const int64_t failed = st.counts.failed + st.counts.cancelled + st.counts.timed_out;
    fmt::print("{:<10} {:<16} {:<10} {:<10} {:>7} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9}\n",
               series.key.device, series.key.model.substr(0, 16), series.key.tenant,
               PriorityName(series.key.priority), st.counts.runs, failed, st.counts.fell_back,
               Ms(st.p50_s), Ms(st.p90_s), Ms(st.p99_s), Ms(st.mean_s));
  }
  fmt::print(
      "{} runs in {:.2f} s: {:.1f} runs/s over the lifetime, {:.1f} runs/s over the last "
      "{:.2f} s\n",
      s.total.counts.runs, s.uptime_s, s.lifetime_runs_per_s, s.recent_runs_per_s,
      s.recent_window_s);
  fmt::print(
      "(percentiles from log-scale buckets: within {:.1f}% of the exact value; failed "
      "counts failed, cancelled and timed-out runs)\n",
      s.bucket_resolution * 100);
}

Status RunStats(const StatsOptions& options) {
  const std::optional<Priority> priority = ParsePriority(options.priority);
  if (!priority) {
    return InvalidArgumentError("unknown priority '" + options.priority +
                                "'; use critical, high, normal, low or background");
  }
  RuntimeOptions runtime_options;
  // The tenant asked for exists for this run, with no budget limits.
  if (!options.tenant.empty()) {
    TenantConfig tenant;
    tenant.name = options.tenant;
    runtime_options.tenants.push_back(tenant);
  }
  UH_RETURN_IF_ERROR(ApplySimNpuOptions(options.sim_npu, runtime_options));
  UH_ASSIGN_OR_RETURN(std::shared_ptr<Runtime> runtime, Runtime::Create(runtime_options));
  SessionOptions session_options;
  session_options.device = options.device;
  UH_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                      Session::Load(runtime, options.model, session_options));
  std::map<std::string, Tensor> inputs;
  for (const ir::ValueInfo& info : session->inputs()) {
    UH_ASSIGN_OR_RETURN(Tensor tensor, RandomInput(info, options.seed, SymbolicDims::kUseOne));
    inputs.emplace(info.name, std::move(tensor));
  }
  RunOptions run_options;
  run_options.tenant = options.tenant;
  run_options.priority = *priority;
  runtime->perf_monitor().Reset();  // count the requests only, from now
  UH_RETURN_IF_ERROR(Drive(*session, inputs, run_options, options.requests, options.threads));
  const PerfSnapshot snapshot = runtime->perf_monitor().Snapshot();
  if (options.json) {
    std::cout << PerfSnapshotToJson(snapshot) << "\n";
  } else if (options.prometheus) {
    std::cout << PerfSnapshotToPrometheus(snapshot);
  } else {
    PrintTable(snapshot);
  }
  return Status::Ok();
}

}  // namespace

Command AddStatsCommand(CLI::App& parent) {
  auto options = std::make_shared<StatsOptions>();
  CLI::App* app = parent.add_subcommand(
      "stats", "Run a model many times and print the monitor's counters and latency percentiles");
  app->add_option("model", options->model, "ONNX model file")->required();
  app->add_option("-d,--device", options->device, "Device id (cpu:0), driver name (cpu) or auto")
      ->capture_default_str();
  app->add_option("-n,--requests", options->requests, "Runs in all")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()))
      ->capture_default_str();
  app->add_option("-t,--threads", options->threads, "Client threads issuing the runs at once")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app->add_option("--tenant", options->tenant, "Tenant of the runs (empty: default)");
  app->add_option("--priority", options->priority, "critical, high, normal, low or background")
      ->capture_default_str();
  app->add_option("--seed", options->seed, "Seed for the random inputs")->capture_default_str();
  CLI::Option* json = app->add_flag("--json", options->json, "Print the snapshot as JSON");
  app->add_flag("--prometheus", options->prometheus,
                "Print the snapshot in Prometheus text exposition format")
      ->excludes(json);
  AddSimNpuOptions(app, &options->sim_npu);
  return {app, [options] { return RunStats(*options); }};
}

}  // namespace unihal::cli
