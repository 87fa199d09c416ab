// `unihal health`: the health monitor's view of every device (R2.3): a fresh sample, or with
// --watch one every --interval seconds until Ctrl-C or --count samples. JSON is one object per
// line per sample (JSON Lines).
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cli_common.h"
#include "cli/health_format.h"
#include "unihal/monitor.h"
#include "unihal/runtime.h"

namespace unihal::cli {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// Set by SIGINT during --watch; the CLI's only global, as a signal handler needs one.
volatile std::sig_atomic_t interrupted = 0;
void OnInterrupt(int) { interrupted = 1; }

struct HealthOptions {
  bool watch = false;
  double interval_s = 1.0;
  int count = 0;  // 0: 1, or unlimited with --watch
  bool json = false;
  bool prometheus = false;
  SimNpuCliOptions sim_npu;
};

// Sleeps `seconds` in short steps; false when interrupted.
bool SleepUnlessInterrupted(double seconds) {
  const Clock::time_point until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(seconds));
  while (Clock::now() < until) {
    if (interrupted) return false;
    const Clock::duration left = until - Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(50)));
  }
  return !interrupted;
}

std::string MiB(const std::optional<int64_t>& bytes) {
  if (!bytes) return "-";
  return fmt::format("{:.1f} MiB", static_cast<double>(*bytes) / (1024.0 * 1024));
}

json SampleJson(const std::vector<DeviceHealthStatus>& statuses, int sample, double elapsed_s) {
  json devices = json::array();
  for (const DeviceHealthStatus& s : statuses) {
    devices.push_back({
        {"id", s.device_id},
        {"state", HealthStateName(s.state)},  // derived by the monitor
        {"reason", s.reason},
        {"is_simulated", s.is_simulated},
        {"health", s.latest ? HealthJson(s.latest->health) : json(nullptr)},
    });
  }
  return {{"sample", sample}, {"elapsed_s", elapsed_s}, {"devices", devices}};
}

void PrintTable(const std::vector<DeviceHealthStatus>& statuses, int sample, double elapsed_s) {
  fmt::print("sample {} at {:.1f} s\n", sample, elapsed_s);
  fmt::print("{:<10} {:<9} {:>7} {:>7} {:>6} {:>12} {:>9} {:>8} {:>6}  {}\n", "ID", "STATE", "TEMP",
             "POWER", "UTIL", "MEM USED", "CLOCK", "THROTTLE", "ERRORS", "NOTE");
  for (const DeviceHealthStatus& s : statuses) {
    const hal::DeviceHealth h = s.latest ? s.latest->health : hal::DeviceHealth{};
    std::optional<double> utilization_pct;
    if (h.utilization) utilization_pct = *h.utilization * 100.0;
    std::optional<std::string> throttling;
    if (h.throttling) throttling = *h.throttling ? "yes" : "no";
    std::string note = s.reason;
    if (s.is_simulated) note += note.empty() ? "simulated" : "; simulated";
    fmt::print("{:<10} {:<9} {:>7} {:>7} {:>6} {:>12} {:>9} {:>8} {:>6}  {}\n", s.device_id,
               HealthStateName(s.state), OrDash(h.temperature_c, "{:.1f} C"),
               OrDash(h.power_w, "{:.1f} W"), OrDash(utilization_pct, "{:.0f}%"),
               MiB(h.memory_used_bytes), OrDash(h.clock_mhz, "{:.0f} MHz"),
               OrDash(throttling, "{}"), OrDash(h.error_count, "{}"), note);
  }
  std::fflush(stdout);
}

Status RunHealth(const HealthOptions& options) {
  RuntimeOptions runtime_options;
  UH_RETURN_IF_ERROR(ApplySimNpuOptions(options.sim_npu, runtime_options));
  UH_ASSIGN_OR_RETURN(std::shared_ptr<Runtime> runtime, Runtime::Create(runtime_options));
  HealthMonitorOptions monitor_options;
  monitor_options.interval = std::chrono::milliseconds(
      std::max<int64_t>(1, static_cast<int64_t>(options.interval_s * 1e3)));
  // Driven from this thread: one round per printed sample, no background thread needed.
  HealthMonitor monitor(runtime->devices(), monitor_options);
  // Rates (utilization, power) are counter differences: this round starts the first window.
  monitor.SampleNow();
  const int samples = options.count > 0 ? options.count
                      : options.watch   ? std::numeric_limits<int>::max()
                                        : 1;
  interrupted = 0;
  auto previous = std::signal(SIGINT, OnInterrupt);
  const auto start = Clock::now();
  for (int i = 1; i <= samples; ++i) {
    if (!SleepUnlessInterrupted(options.interval_s)) break;
    monitor.SampleNow();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const std::vector<DeviceHealthStatus> statuses = monitor.StatusAll();
    if (options.json) {
      std::cout << SampleJson(statuses, i, elapsed).dump() << std::endl;
    } else if (options.prometheus) {
      std::cout << HealthToPrometheus(statuses) << std::flush;
    } else {
      if (i > 1) fmt::print("\n");
      PrintTable(statuses, i, elapsed);
    }
  }
  std::signal(SIGINT, previous);
  if (!options.json && !options.prometheus) {
    fmt::print(
        "('-' = not reported by this platform; simulated = modelled figures, not "
        "hardware)\n");
  }
  return Status::Ok();
}

}  // namespace

Command AddHealthCommand(CLI::App& parent) {
  auto options = std::make_shared<HealthOptions>();
  CLI::App* app = parent.add_subcommand(
      "health", "Sample every device's health (temperature, power, utilization, state)");
  app->add_flag("-w,--watch", options->watch, "Keep sampling until Ctrl-C (or --count)");
  app->add_option("--interval", options->interval_s, "Seconds between samples")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app->add_option("-n,--count", options->count,
                  "Number of samples (default 1, or unlimited "
                  "with --watch)")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  CLI::Option* json =
      app->add_flag("--json", options->json, "Print one JSON object per sample, one per line");
  app->add_flag("--prometheus", options->prometheus,
                "Print each sample as Prometheus gauges (unknown figures left out)")
      ->excludes(json);
  AddSimNpuOptions(app, &options->sim_npu);
  return {app, [options] { return RunHealth(*options); }};
}

}  // namespace unihal::cli
