// `unihal bench`: in-process latency of Session::Run (warm-up, then timed iterations).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cli/cli_common.h"
#include "unihal/hal/thread_pool.h"
#include "unihal/runtime.h"
#include "unihal/session.h"

namespace unihal::cli {
namespace {

struct BenchOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::string device = "auto";
  int threads = 0;
  int iterations = 100;
  int warmup = 10;
  uint64_t seed = 0;
  bool json = false;
  SimNpuCliOptions sim_npu;
};

struct LatencyStats {
  double p50 = 0, p90 = 0, p99 = 0, mean = 0;
};

// Nearest-rank percentiles: the smallest sample with at least q of the samples at or below it.
LatencyStats Summarize(std::vector<double> samples_ms) {
  std::sort(samples_ms.begin(), samples_ms.end());
  auto percentile = [&](double q) {
    const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples_ms.size())));
    return samples_ms[std::clamp<size_t>(rank, 1, samples_ms.size()) - 1];
  };
  const double total = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0);
  return {percentile(0.50), percentile(0.90), percentile(0.99),
          total / static_cast<double>(samples_ms.size())};
}

Status Bench(const BenchOptions& options) {
  RuntimeOptions runtime_options;
  runtime_options.cpu_threads = options.threads;
  UH_RETURN_IF_ERROR(ApplySimNpuOptions(options.sim_npu, runtime_options));
  UH_ASSIGN_OR_RETURN(std::shared_ptr<Runtime> runtime, Runtime::Create(runtime_options));
  UH_RETURN_IF_ERROR(runtime->FindDevice(options.device));
  UH_ASSIGN_OR_RETURN(auto inputs, LoadInputs(options.inputs));
  SessionOptions session_options;
  session_options.device = options.device;
  UH_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                      Session::Load(runtime, options.model, session_options));
  for (const ir::ValueInfo* info : MissingInputs(session->inputs(), inputs)) {
    UH_ASSIGN_OR_RETURN(Tensor tensor, RandomInput(*info, options.seed, SymbolicDims::kReject));
    inputs.emplace(info->name, std::move(tensor));
  }

  for (int i = 0; i < options.warmup; ++i) UH_RETURN_IF_ERROR(session->Run(inputs));
  std::vector<double> samples_ms;
  samples_ms.reserve(static_cast<size_t>(options.iterations));
  for (int i = 0; i < options.iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    UH_RETURN_IF_ERROR(session->Run(inputs));
    const std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - start;
    samples_ms.push_back(elapsed.count());
  }
  const LatencyStats stats = Summarize(samples_ms);
  const int threads = hal::ThreadPool::Process().num_threads();
  const double throughput = stats.mean > 0 ? 1000.0 / stats.mean : 0.0;
  const std::optional<double> modeled_s = session->ModeledLatencySeconds();  // sim-npu only

  if (options.json) {
    nlohmann::ordered_json report = {
        {"model", options.model},
        {"device", session->device_id()},
        {"threads", threads},
        {"iterations", options.iterations},
        {"latency_ms",
         {{"p50", stats.p50}, {"p90", stats.p90}, {"p99", stats.p99}, {"mean", stats.mean}}},
        {"throughput_per_s", throughput},
    };
    // Simulated devices only (sim-npu): the modelled latency, never a measurement.
    if (modeled_s) report["modeled_latency_ms"] = *modeled_s * 1e3;
    std::cout << report.dump(2) << "\n";
    return Status::Ok();
  }
  fmt::print("{} on {}, {} threads, {} iterations after {} warm-up\n", options.model,
             session->device_id(), threads, options.iterations, options.warmup);
  fmt::print("latency ms: p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  mean {:.3f}\n", stats.p50, stats.p90,
             stats.p99, stats.mean);
  fmt::print("throughput: {:.1f} runs/s\n", throughput);
  if (modeled_s) {
    fmt::print("modelled latency on the simulated device (not measured): {:.3f} ms\n",
               *modeled_s * 1e3);
  }
  return Status::Ok();
}

}  // namespace

Command AddBenchCommand(CLI::App& parent) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* app = parent.add_subcommand("bench", "Measure a model's latency in process");
  app->add_option("model", options->model, "ONNX model file")->required();
  app->add_option("-i,--input", options->inputs,
                  "Input as NAME=FILE (.npy or .pb); inputs not given get deterministic random "
                  "values of the model's static shape");
  app->add_option("-d,--device", options->device, "Device id (cpu:0), driver name (cpu) or auto")
      ->capture_default_str();
  app->add_option("-t,--threads", options->threads, "CPU threads; 0 = one per core")
      ->check(CLI::Range(0, std::numeric_limits<int>::max()))
      ->capture_default_str();
  app->add_option("-n,--iterations", options->iterations, "Timed runs")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()))
      ->capture_default_str();
  app->add_option("-w,--warmup", options->warmup, "Untimed runs first")
      ->check(CLI::Range(0, std::numeric_limits<int>::max()))
      ->capture_default_str();
  app->add_option("--seed", options->seed, "Seed for the random inputs")->capture_default_str();
  app->add_flag("--json", options->json, "Print a JSON report to stdout");
  AddSimNpuOptions(app, &options->sim_npu);
  return {app, [options] { return Bench(*options); }};
}

}  // namespace unihal::cli
