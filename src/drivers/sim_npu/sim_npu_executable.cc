#include "drivers/sim_npu/sim_npu_executable.h"

#include <chrono>
#include <thread>

#include "unihal/hal/host_stream.h"
#include "unihal/hal/kernel_executable.h"
#include "unihal/hal/thread_pool.h"

namespace unihal::sim_npu {
namespace {

// Device memory held for as long as an executable or a run needs it.
class Reservation {
 public:
  Reservation(std::shared_ptr<SimNpuState> state, int64_t bytes)
      : state_(std::move(state)), bytes_(bytes) {}
  ~Reservation() { state_->memory.Release(bytes_); }
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;

 private:
  std::shared_ptr<SimNpuState> state_;
  int64_t bytes_;
};

class SimNpuExecutable final : public hal::Executable {
 public:
  SimNpuExecutable(std::shared_ptr<SimNpuState> state, std::shared_ptr<hal::Executable> inner,
                   std::vector<NodeCost> costs, int64_t working_set_bytes,
                   std::unique_ptr<Reservation> weights)
      : state_(std::move(state)),
        inner_(std::move(inner)),
        costs_(std::move(costs)),
        working_set_bytes_(working_set_bytes),
        weights_(std::move(weights)) {}

  const std::vector<ir::ValueInfo>& inputs() const override { return inner_->inputs(); }
  const std::vector<ir::ValueInfo>& outputs() const override { return inner_->outputs(); }

  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    UH_RETURN_IF_ERROR(state_->faults.BeforeRun());
    UH_RETURN_IF_ERROR(
        state_->memory.Reserve(state_->info.id, working_set_bytes_, "a run's working set"));
    Reservation working_set(state_, working_set_bytes_);
    auto start = std::chrono::steady_clock::now();
    UH_RETURN_IF_ERROR(inner_->Run(inputs, outputs));
    double latency = state_->model.RecordRun(costs_);
    state_->runs.fetch_add(1);
    state_->last_latency_ns.store(static_cast<int64_t>(latency * 1e9));
    if (state_->emulate_latency) {
      std::this_thread::sleep_until(start + std::chrono::duration<double>(latency));
    }
    return Status::Ok();
  }

  std::optional<double> ModeledLatencySeconds() const override {
    return state_->model.Latency(costs_);
  }

 private:
  std::shared_ptr<SimNpuState> state_;
  std::shared_ptr<hal::Executable> inner_;
  const std::vector<NodeCost> costs_;
  const int64_t working_set_bytes_;
  std::unique_ptr<Reservation> weights_;
};

}  // namespace

Result<std::shared_ptr<hal::Executable>> CompileSimNpu(std::shared_ptr<SimNpuState> state,
                                                       const ir::Graph& subgraph) {
  int64_t weight_bytes = 0;
  for (const auto& [name, tensor] : subgraph.initializers) {
    weight_bytes += static_cast<int64_t>(tensor.nbytes());
  }
  UH_RETURN_IF_ERROR(state->memory.Reserve(state->info.id, weight_bytes, "the model's weights"));
  auto weights = std::make_unique<Reservation>(state, weight_bytes);
  int64_t working_set = 0;
  std::vector<NodeCost> costs = EstimateGraphCost(subgraph, &working_set);
  UH_ASSIGN_OR_RETURN(
      std::shared_ptr<hal::Executable> inner,
      hal::CompileWithKernels(subgraph, state->kernels, hal::ThreadPool::Process()));
  return std::shared_ptr<hal::Executable>(std::make_shared<SimNpuExecutable>(
      state, std::move(inner), std::move(costs), working_set, std::move(weights)));
}

std::unique_ptr<hal::Stream> CreateSimNpuStream(std::shared_ptr<SimNpuState> state) {
  // Its memory is host memory; a lost device fails every call.
  return hal::CreateHostStream([state = std::move(state)] { return state->faults.CheckAlive(); });
}

}  // namespace unihal::sim_npu
