// `unihal bench MODEL --requests N [--inject-faults RATE] [--devices sim-npu,cpu]`: a fault
// soak through Session::RunAsync with failover (SPEC R5.6). Every request must end exactly
// once; the report counts what did not.
#include <fmt/format.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/bench_common.h"
#include "cli/cli_common.h"
#include "unihal/runtime.h"
#include "unihal/session.h"

namespace unihal::cli {
namespace {

struct SoakCounts {
  std::atomic<int64_t> succeeded{0};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> finished{0};
  std::vector<std::atomic<uint8_t>> per_request;
  explicit SoakCounts(int64_t n) : per_request(static_cast<size_t>(n)) {}
};

// Submits every request, at most `window` in flight, and waits for the last one.
Status Submit(const Session& session, const std::map<std::string, Tensor>& inputs, int64_t requests,
              SoakCounts& counts, std::vector<TaskHandle>& handles, std::string& first_error) {
  constexpr int64_t kWindow = 512;
  std::mutex error_mu;
  for (int64_t i = 0; i < requests; ++i) {
    while (i - counts.finished.load() >= kWindow) std::this_thread::yield();
    UH_ASSIGN_OR_RETURN(TaskHandle task, session.RunAsync(inputs));
    task.OnComplete([&counts, &error_mu, &first_error, i](TaskState state, const Status& status,
                                                          const std::vector<Tensor>&) {
      counts.per_request[static_cast<size_t>(i)].fetch_add(1);
      if (state == TaskState::kSucceeded) {
        counts.succeeded.fetch_add(1);
      } else {
        counts.failed.fetch_add(1);
        std::lock_guard<std::mutex> lock(error_mu);
        if (first_error.empty()) first_error = status.message();
      }
      counts.finished.fetch_add(1);
    });
    handles.push_back(std::move(task));
  }
  for (TaskHandle& task : handles) task.Wait();
  return Status::Ok();
}

}  // namespace

Status BenchSoak(const BenchOptions& options) {
  RuntimeOptions runtime_options;
  runtime_options.cpu_threads = options.threads;
  UH_RETURN_IF_ERROR(ApplySimNpuOptions(options.sim_npu, runtime_options));
  runtime_options.sim_npu.faults.error_rate = options.inject_faults;
  if (options.inject_faults > 0 && runtime_options.sim_npu.faults.seed == 0) {
    runtime_options.sim_npu.faults.seed = options.seed + 1;
  }
  UH_ASSIGN_OR_RETURN(std::shared_ptr<Runtime> runtime, Runtime::Create(runtime_options));
  SessionOptions session_options;
  session_options.device = options.device;
  ApplyPlacementOptions(options.placement, session_options);  // --devices: the primary first
  UH_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                      Session::Load(runtime, options.model, session_options));
  UH_ASSIGN_OR_RETURN(ModelInputs bench_inputs, MakeBenchInputs(*session, options));
  if (!bench_inputs.tensors_only) {
    return InvalidArgumentError(
        "--requests submits runs through Session::RunAsync, which carries tensors only, and "
        "this model has sequence or optional inputs or outputs; drop --requests to time it");
  }
  const std::map<std::string, Tensor>& inputs = bench_inputs.tensors;

  SoakCounts counts(options.requests);
  std::vector<TaskHandle> handles;
  handles.reserve(static_cast<size_t>(options.requests));
  std::string first_error;
  const auto start = std::chrono::steady_clock::now();
  UH_RETURN_IF_ERROR(Submit(*session, inputs, options.requests, counts, handles, first_error));
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  int64_t lost = 0, duplicated = 0, retried = 0;
  std::map<std::string, int64_t> by_device;
  for (size_t i = 0; i < handles.size(); ++i) {
    const int n = counts.per_request[i].load();
    lost += n == 0;
    duplicated += n > 1 ? n - 1 : 0;
    retried += std::max(0, handles[i].attempts() - 1);
    ++by_device[handles[i].device_id()];
  }
  nlohmann::ordered_json report = {
      {"submitted", options.requests},
      {"succeeded", counts.succeeded.load()},
      {"failed", counts.failed.load()},
      {"lost", lost},
      {"duplicated", duplicated},
      {"retried", retried},
      {"wall_s", wall_s},
      {"finished_on", by_device},
      {"injected_error_rate", options.inject_faults},
  };
  if (!first_error.empty()) report["first_error"] = first_error;
  if (options.json) {
    std::cout << report.dump(2) << "\n";
  } else {
    fmt::print(
        "{} requests on {}: {} succeeded, {} failed, {} lost, {} duplicated, {} retried "
        "({:.2f} s)\n",
        options.requests, session->device_id(), counts.succeeded.load(), counts.failed.load(), lost,
        duplicated, retried, wall_s);
    if (!first_error.empty()) fmt::print("first error: {}\n", first_error);
  }
  if (lost > 0 || duplicated > 0) return DataLossError("the soak lost or duplicated tasks");
  return Status::Ok();
}

}  // namespace unihal::cli
