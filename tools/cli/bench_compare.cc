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

// Keeps the first reason the outputs disagree.
void Disagree(Comparison& comparison, std::string why) {
  if (comparison.status.ok()) comparison.status = InternalError(std::move(why));
}

// The relative error of one output tensor (or sequence element) against ONNX Runtime's .npy;
// none, with the reason kept, when the two cannot be compared (dtype or shape).
Result<std::optional<double>> CompareTensor(const std::string& name, const Tensor& ours,
                                            const std::string& npy_path, double tolerance,
                                            Comparison& comparison) {
  UH_ASSIGN_OR_RETURN(Tensor expected, io::ReadNpyFile(npy_path));
  UH_ASSIGN_OR_RETURN(Tensor actual, ToNumpyCompatible(ours));
  Result<double> error = RelativeError(name, actual, expected);
  if (!error.ok()) {
    Disagree(comparison, error.status().message());
    return std::optional<double>();
  }
  comparison.max_rel_error = std::max(comparison.max_rel_error, *error);
  if (*error > tolerance) {
    Disagree(comparison, fmt::format("output '{}' differs from ONNX Runtime's by a relative error "
                                     "of {:.3g}, above the tolerance {:.3g}",
                                     name, *error, tolerance));
  }
  return std::optional<double>(*error);
}

// Runs both once more and compares every output. ONNX Runtime's come back as .npy files:
// "path" for a tensor, "paths" for a sequence's elements, "none" for an empty optional.
Result<Comparison> CompareOutputs(const Session& session, const ModelInputs& inputs,
                                  OrtWorker& worker, const fs::path& dir, double tolerance) {
  UH_ASSIGN_OR_RETURN(std::vector<Value> ours, RunOnce(session, inputs));
  Result<nlohmann::json> reply = worker.Call({{"cmd", "outputs"}, {"dir", dir.string()}});
  if (!reply.ok()) return reply.status().WithContext("ONNX Runtime cannot run the model");
  const nlohmann::json& theirs = (*reply)["outputs"];
  Comparison comparison;
  if (!theirs.is_array() || theirs.size() != ours.size()) {
    Disagree(comparison, fmt::format("unihal gives {} outputs but ONNX Runtime {}", ours.size(),
                                     theirs.size()));
    return comparison;
  }
  for (size_t i = 0; i < ours.size(); ++i) {
    const std::string name = theirs[i].value("name", std::string());
    const nlohmann::json paths = theirs[i].value("paths", nlohmann::json());
    const std::string_view their_kind = theirs[i].contains("none") ? "none"
                                        : paths.is_array()         ? "sequence"
                                                                   : "tensor";
    std::optional<double> worst;  // none: this output could not be compared
    if (their_kind != ValueKindName(ours[i].kind())) {
      Disagree(comparison, fmt::format("output '{}' is {} in unihal but a {} in ONNX Runtime", name,
                                       ours[i].Describe(), their_kind));
    } else if (ours[i].is_none()) {
      worst = 0.0;
    } else if (ours[i].is_tensor()) {
      UH_ASSIGN_OR_RETURN(worst, CompareTensor(name, ours[i].tensor(), theirs[i].value("path", ""),
                                               tolerance, comparison));
    } else if (paths.size() != ours[i].elements().size()) {
      Disagree(comparison,
               fmt::format("output '{}' is a sequence of {} tensors in unihal but of {} in ONNX "
                           "Runtime",
                           name, ours[i].elements().size(), paths.size()));
    } else {
      worst = 0.0;
      for (size_t e = 0; e < paths.size() && worst; ++e) {
        UH_ASSIGN_OR_RETURN(std::optional<double> error,
                            CompareTensor(fmt::format("{}[{}]", name, e), ours[i].elements()[e],
                                          paths[e].get<std::string>(), tolerance, comparison));
        worst = error ? std::optional<double>(std::max(*worst, *error)) : std::nullopt;
      }
    }
    comparison.per_output.push_back(
        {{"name", name}, {"max_rel_error", worst ? ordered_json(*worst) : ordered_json(nullptr)}});
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

// Gives each side the same inputs, as .npy files in `dir`: a tensor's path, a list of paths
// for a sequence's elements, null for none.
Status SendInputs(const ModelInputs& inputs, OrtWorker& worker, const fs::path& dir) {
  nlohmann::json files = nlohmann::json::object();
  int index = 0;
  auto write = [&](const std::string& name, const Tensor& tensor) -> Result<std::string> {
    const std::string path = (dir / fmt::format("input_{}.npy", index++)).string();
    Status status = io::WriteNpyFile(path, tensor);
    if (!status.ok()) return status.WithContext("input '" + name + "'");
    return path;
  };
  for (const auto& [name, value] : inputs.values) {
    if (value.is_tensor()) {
      UH_ASSIGN_OR_RETURN(files[name], write(name, value.tensor()));
    } else if (value.is_sequence()) {
      files[name] = nlohmann::json::array();
      for (const Tensor& element : value.elements()) {
        UH_ASSIGN_OR_RETURN(std::string path, write(name, element));
        files[name].push_back(path);
      }
    } else {
      files[name] = nullptr;
    }
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
  UH_ASSIGN_OR_RETURN(ModelInputs inputs, MakeBenchInputs(*session, options));
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
  if (!compared.ok()) return WithRandomInputsHint(compared.status(), inputs);
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
