// `unihal bench --compare onnxruntime`: ONNX Runtime runs in a Python worker process
// (ort_worker.py); both sides time their own run calls, in alternating blocks of iterations
// in one run, so background load hits both alike.
#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "cli/bench_common.h"
#include "cli/cli_common.h"
#include "cli/ort_worker_client.h"
#include "cli/output_compare.h"
#include "io/npy.h"
#include "unihal/hal/thread_pool.h"
#include "unihal/runtime.h"

namespace unihal::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

constexpr int kMaxBlocks = 10;
// Idle time between blocks, so the other side's spinning threads park before we time. ONNX
// Runtime's intra-op workers spin for longer than 5 ms after a run: with a 5 ms pause they
// took a core from unihal's next block (MobileNetV2 at 2 threads read 16 ms in the comparison
// against 8-10 ms alone; with 100 ms, 8.7-10.5 ms). Both sides start every block from parked
// threads.
constexpr auto kPause = std::chrono::milliseconds(100);

// A fresh folder under the system's temporary directory, removed with everything in it.
class TempDir {
 public:
  static Result<TempDir> Create() {
    std::string pattern = (fs::temp_directory_path() / "unihal_compare_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return InternalError("cannot create a temporary folder like '" + pattern + "'");
    }
    return TempDir(pattern);
  }
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  explicit TempDir(fs::path path) : path_(std::move(path)) {}
  fs::path path_;
};

struct Comparison {
  double max_rel_error = 0;
  ordered_json per_output = ordered_json::array();
  Status status;  // why the outputs disagree, if they do
};

// Runs both once more and compares every output; ORT's come back as .npy files.
Result<Comparison> CompareOutputs(const Session& session,
                                  const std::map<std::string, Tensor>& inputs, OrtWorker& worker,
                                  const fs::path& dir, double tolerance) {
  UH_ASSIGN_OR_RETURN(std::vector<Tensor> ours, session.Run(inputs));
  Result<nlohmann::json> reply = worker.Call({{"cmd", "outputs"}, {"dir", dir.string()}});
  if (!reply.ok()) return reply.status().WithContext("ONNX Runtime cannot run the model");
  const nlohmann::json& theirs = (*reply)["outputs"];
  Comparison comparison;
  if (!theirs.is_array() || theirs.size() != ours.size()) {
    comparison.status = InternalError(
        fmt::format("unihal gives {} outputs but ONNX Runtime {}", ours.size(), theirs.size()));
    return comparison;
  }
  for (size_t i = 0; i < ours.size(); ++i) {
    const std::string name = theirs[i].value("name", std::string());
    UH_ASSIGN_OR_RETURN(Tensor expected, io::ReadNpyFile(theirs[i].value("path", std::string())));
    UH_ASSIGN_OR_RETURN(Tensor actual, ToNumpyCompatible(ours[i]));
    Result<double> error = RelativeError(name, actual, expected);
    if (!error.ok()) {
      comparison.per_output.push_back({{"name", name}, {"max_rel_error", nullptr}});
      if (comparison.status.ok()) comparison.status = InternalError(error.status().message());
      continue;
    }
    comparison.per_output.push_back({{"name", name}, {"max_rel_error", *error}});
    comparison.max_rel_error = std::max(comparison.max_rel_error, *error);
    if (*error > tolerance && comparison.status.ok()) {
      comparison.status = InternalError(fmt::format(
          "output '{}' differs from ONNX Runtime's by a relative error of {:.3g}, above the "
          "tolerance {:.3g}",
          name, *error, tolerance));
    }
  }
  return comparison;
}

Result<std::vector<double>> TimeOrt(OrtWorker& worker, int iterations) {
  Result<nlohmann::json> reply = worker.Call({{"cmd", "run"}, {"iterations", iterations}});
  if (!reply.ok()) return reply.status().WithContext("ONNX Runtime cannot run the model");
  const nlohmann::json& times = (*reply)["times_ms"];
  if (!times.is_array() || times.size() != static_cast<size_t>(iterations)) {
    return InternalError("the ONNX Runtime worker sent no times");
  }
  std::vector<double> samples;
  for (const nlohmann::json& t : times) samples.push_back(t.is_number() ? t.get<double>() : 0.0);
  return samples;
}

// Gives each side the same inputs: every input as .npy in `dir`.
Status SendInputs(const std::map<std::string, Tensor>& inputs, OrtWorker& worker,
                  const fs::path& dir) {
  nlohmann::json files = nlohmann::json::object();
  int index = 0;
  for (const auto& [name, tensor] : inputs) {
    const std::string path = (dir / fmt::format("input_{}.npy", index++)).string();
    Status status = io::WriteNpyFile(path, tensor);
    if (!status.ok()) return status.WithContext("input '" + name + "'");
    files[name] = path;
  }
  Result<nlohmann::json> reply = worker.Call({{"cmd", "inputs"}, {"files", files}});
  if (!reply.ok()) return reply.status().WithContext("ONNX Runtime cannot read the inputs");
  return Status::Ok();
}

void PrintText(const BenchOptions& options, const ordered_json& report, const LatencyStats& ours,
               const LatencyStats& theirs) {
  fmt::print(
      "{} on {} vs ONNX Runtime {}, {} threads{}, {} iterations each in {} alternating "
      "blocks after {} warm-up\n",
      options.model, report["device"].get<std::string>(),
      report["onnxruntime_version"].get<std::string>(), report["threads"].get<int>(),
      options.batch > 0 ? fmt::format(", batch {}", options.batch) : "", options.iterations,
      report["blocks"].get<int>(), options.warmup);
  fmt::print("               p50 ms     p90 ms\n");
  fmt::print("unihal       {:9.3f}  {:9.3f}\n", ours.p50, ours.p90);
  fmt::print("onnxruntime  {:9.3f}  {:9.3f}\n", theirs.p50, theirs.p90);
  fmt::print("ratio unihal/onnxruntime {:.3f} (p50; lower is better)\n",
             report["ratio"].get<double>());
  fmt::print("outputs: max relative error {:.3g} (tolerance {:.3g})\n",
             report["max_rel_error"].get<double>(), options.tolerance);
}

}  // namespace

Status BenchCompare(const BenchOptions& options) {
  RuntimeOptions runtime_options;
  runtime_options.cpu_threads = options.threads;
  UH_RETURN_IF_ERROR(ApplySimNpuOptions(options.sim_npu, runtime_options));
  UH_ASSIGN_OR_RETURN(std::shared_ptr<Runtime> runtime, Runtime::Create(runtime_options));
  UH_RETURN_IF_ERROR(runtime->FindDevice(options.device));
  SessionOptions session_options;
  session_options.device = options.device;
  ApplyPlacementOptions(options.placement, session_options);
  UH_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                      Session::Load(runtime, options.model, session_options));
  UH_ASSIGN_OR_RETURN(auto inputs, BenchInputs(*session, options));
  const int threads = hal::ThreadPool::Process().num_threads();

  UH_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  const std::string python = ChoosePython(options.python);
  UH_ASSIGN_OR_RETURN(std::string script, FindOrtWorkerScript());
  UH_ASSIGN_OR_RETURN(std::unique_ptr<OrtWorker> worker,
                      OrtWorker::Start(python, script, (dir.path() / "ort_stderr.txt").string()));
  Result<nlohmann::json> loaded =
      worker->Call({{"cmd", "load"}, {"model", options.model}, {"threads", threads}});
  if (!loaded.ok()) {
    return loaded.status().WithContext("ONNX Runtime cannot load model '" + options.model + "'");
  }
  UH_RETURN_IF_ERROR(SendInputs(inputs, *worker, dir.path()));
  // The first run of each side: a failure there may be the random inputs' fault.
  Result<Comparison> compared =
      CompareOutputs(*session, inputs, *worker, dir.path(), options.tolerance);
  if (!compared.ok()) {
    return WithRandomInputsHint(compared.status(), RandomInputNames(*session, options));
  }
  const Comparison& comparison = *compared;

  if (options.warmup > 0) {
    UH_RETURN_IF_ERROR(TimeOrt(*worker, options.warmup).status());
    UH_RETURN_IF_ERROR(TimeRuns(*session, inputs, options.warmup).status());
  }
  const int blocks = std::min(options.iterations, kMaxBlocks);
  std::vector<double> ours_ms, theirs_ms;
  for (int b = 0; b < blocks; ++b) {
    // Block sizes differ by at most one and add up to the iterations.
    const int count = options.iterations / blocks + (b < options.iterations % blocks ? 1 : 0);
    std::this_thread::sleep_for(kPause);
    UH_ASSIGN_OR_RETURN(std::vector<double> theirs, TimeOrt(*worker, count));
    std::this_thread::sleep_for(kPause);
    UH_ASSIGN_OR_RETURN(std::vector<double> ours, TimeRuns(*session, inputs, count));
    theirs_ms.insert(theirs_ms.end(), theirs.begin(), theirs.end());
    ours_ms.insert(ours_ms.end(), ours.begin(), ours.end());
  }
  const LatencyStats ours = Summarize(ours_ms), theirs = Summarize(theirs_ms);
  const ordered_json report = {
      {"model", options.model},
      {"device", session->device_id()},
      {"threads", threads},
      {"batch", options.batch > 0 ? ordered_json(options.batch) : ordered_json(nullptr)},
      {"iterations", options.iterations},
      {"warmup", options.warmup},
      {"blocks", blocks},
      {"unihal_ms", ours.p50},
      {"onnxruntime_ms", theirs.p50},
      {"ratio", theirs.p50 > 0 ? ordered_json(ours.p50 / theirs.p50) : ordered_json(nullptr)},
      {"unihal_p90_ms", ours.p90},
      {"onnxruntime_p90_ms", theirs.p90},
      {"max_rel_error", comparison.max_rel_error},
      {"outputs_agree", comparison.status.ok()},
      {"outputs", comparison.per_output},
      {"onnxruntime_version", worker->onnxruntime_version()},
      {"python", python},
  };
  if (options.json) {
    std::cout << report.dump(2) << "\n";
  } else {
    PrintText(options, report, ours, theirs);
  }
  std::cout.flush();
  if (!comparison.status.ok()) {
    return comparison.status.WithContext("unihal's outputs disagree with ONNX Runtime's");
  }
  return Status::Ok();
}

}  // namespace unihal::cli
