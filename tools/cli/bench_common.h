// What `unihal bench` and `unihal bench --compare` share: options, statistics, inputs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/model_inputs.h"
#include "unihal/session.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cli {

struct BenchOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::vector<std::string> dims;  // NAME=N for symbolic dims
  std::string device = "auto";
  std::string compare;  // "" or "onnxruntime"
  std::string python;
  int threads = 0;
  int batch = 0;  // 0: not set
  int iterations = 100;
  int warmup = 10;
  double tolerance = 1e-3;
  uint64_t seed = 0;
  bool json = false;
  bool profile = false;  // --profile: per-node times (bench_profile.h)
  SimNpuCliOptions sim_npu;
  PlacementCliOptions placement;
  // The fault soak (bench_soak.cc): --requests N through RunAsync, --inject-faults RATE on
  // sim-npu; the session's devices are placement.devices (--devices), in preference order.
  int64_t requests = 0;
  double inject_faults = 0.0;
};

struct LatencyStats {
  double p50 = 0, p90 = 0, p99 = 0, mean = 0;
};

// Nearest-rank percentiles: the smallest sample with at least q of the samples at or below it.
LatencyStats Summarize(std::vector<double> samples_ms);

// The --input files, then deterministic random values for every other input (model_inputs.h):
// symbolic dims take --dim NAME=N, or --batch N for a symbolic first dim; any other symbolic
// dim is an error.
Result<ModelInputs> MakeBenchInputs(const Session& session, const BenchOptions& options);

// A first run that failed gets a hint when some inputs were random (and the failure may be a
// value error: invalid argument, out of range, or ONNX Runtime's worker dying): an input that
// holds indices, axes, a shape or divisors seldom accepts random values.
Status WithRandomInputsHint(Status status, const ModelInputs& inputs);

// Times `iterations` runs, one steady_clock interval around each Session::Run (or RunValues),
// in ms.
Result<std::vector<double>> TimeRuns(const Session& session, const ModelInputs& inputs,
                                     int iterations);

// `unihal bench --compare onnxruntime`: the same model, inputs and thread count in ONNX Runtime
// (a Python worker) and in unihal, in alternating blocks, outputs compared.
Status BenchCompare(const BenchOptions& options);

// `unihal bench --requests N`: the fault soak through RunAsync with failover; JSON
// {"submitted", "succeeded", "failed", "lost", "duplicated", "retried", ...}.
Status BenchSoak(const BenchOptions& options);

}  // namespace unihal::cli
