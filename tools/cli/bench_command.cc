// `unihal bench`: in-process latency of Session::Run (warm-up, then timed iterations), or with
// --compare onnxruntime the same side by side with ONNX Runtime (bench_compare.cc).
#include <fmt/format.h>

#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/bench_common.h"
#include "cli/bench_profile.h"
#include "cli/cli_common.h"
#include "unihal/hal/thread_pool.h"
#include "unihal/runtime.h"
#include "unihal/session.h"

namespace unihal::cli {
namespace {

Status Bench(const BenchOptions& options) {
  RuntimeOptions runtime_options;
  runtime_options.cpu_threads = options.threads;
  UH_RETURN_IF_ERROR(ApplySimNpuOptions(options.sim_npu, runtime_options));
  UH_ASSIGN_OR_RETURN(std::shared_ptr<Runtime> runtime, Runtime::Create(runtime_options));
  UH_RETURN_IF_ERROR(runtime->FindDevice(options.device));
  SessionOptions session_options;
  session_options.device = options.device;
  ApplyPlacementOptions(options.placement, session_options);
  session_options.profile = options.profile;
  UH_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                      Session::Load(runtime, options.model, session_options));
  UH_ASSIGN_OR_RETURN(ModelInputs inputs, MakeBenchInputs(*session, options));

  Result<std::vector<double>> warmed = TimeRuns(*session, inputs, options.warmup);
  if (!warmed.ok()) return WithRandomInputsHint(warmed.status(), inputs);
  const std::vector<hal::NodeTime> after_warmup = session->NodeTimes();
  Result<std::vector<double>> timed = TimeRuns(*session, inputs, options.iterations);
  if (!timed.ok()) return WithRandomInputsHint(timed.status(), inputs);
  const std::vector<double>& samples_ms = *timed;
  const LatencyStats stats = Summarize(samples_ms);
  const BenchProfile profile =
      DiffProfiles(after_warmup, session->NodeTimes(), options.iterations, stats.mean);
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
    if (options.profile) report["profile"] = ProfileJson(profile);
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
  if (options.profile) PrintProfile(profile);
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
  app->add_option("--dim", options->dims,
                  "Size of a symbolic dim of the random inputs, NAME=N (repeatable)");
  app->add_option("-b,--batch", options->batch,
                  "Size of a symbolic first (batch) dim of the random inputs")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
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
  app->add_option("--compare", options->compare,
                  "Also run the model in this runtime, interleaved, and compare")
      ->check(CLI::IsMember({"onnxruntime"}));
  app->add_option("--python", options->python,
                  "Python with onnxruntime for --compare (default: $UNIHAL_PYTHON, else the "
                  "source tree's .venv/bin/python, else python3)");
  app->add_option("--tolerance", options->tolerance,
                  "--compare: largest relative error of a float output that still agrees")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app->add_flag("--json", options->json, "Print a JSON report to stdout");
  app->add_flag("--profile", options->profile,
                "Time every node over the timed runs and show where the time goes, by op type "
                "and slowest nodes (not with --compare or --requests)");
  app->add_option("--requests", options->requests,
                  "Fault soak: submit N requests through the scheduler with failover and count "
                  "succeeded, failed, lost, duplicated and retried")
      ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()));
  app->add_option("--inject-faults", options->inject_faults,
                  "Fault soak: probability that a sim-npu run fails (sim-npu error_rate)")
      ->check(CLI::Range(0.0, 1.0));
  AddSimNpuOptions(app, &options->sim_npu);
  AddPlacementOptions(app, &options->placement);
  return {app, [options] {
            if (options->profile && (options->requests > 0 || !options->compare.empty())) {
              return InvalidArgumentError(
                  "--profile times one session's nodes; it cannot be combined with --compare "
                  "(its clock reads would slow one side) or --requests. Run it alone");
            }
            if (options->requests > 0) return BenchSoak(*options);
            return options->compare.empty() ? Bench(*options) : BenchCompare(*options);
          }};
}

}  // namespace unihal::cli
