#include "drivers/sim_npu/sim_npu_device.h"

#include "drivers/sim_npu/sim_npu_executable.h"

namespace unihal::sim_npu {
namespace {

// Host memory standing in for NPU memory; its bytes count against the profile's capacity.
class SimNpuBuffer final : public hal::Buffer {
 public:
  SimNpuBuffer(std::shared_ptr<SimNpuState> state, std::shared_ptr<hal::Buffer> host)
      : state_(std::move(state)), host_(std::move(host)) {}
  ~SimNpuBuffer() override { state_->memory.Release(static_cast<int64_t>(host_->size())); }
  size_t size() const override { return host_->size(); }
  void* host_data() override { return host_->host_data(); }
  const std::string& device_id() const override { return state_->info.id; }

 private:
  std::shared_ptr<SimNpuState> state_;
  std::shared_ptr<hal::Buffer> host_;
};

}  // namespace

Status MemoryTracker::Reserve(const std::string& device_id, int64_t bytes, const char* what) {
  std::lock_guard<std::mutex> lock(mu_);
  if (bytes > capacity_ - live_) {
    return ResourceExhaustedError(device_id + ": " + what + " needs " + std::to_string(bytes) +
                                  " bytes; " + std::to_string(capacity_ - live_) + " of " +
                                  std::to_string(capacity_) + " bytes free (simulated capacity)");
  }
  live_ += bytes;
  peak_ = std::max(peak_, live_);
  ++count_;
  return Status::Ok();
}

void MemoryTracker::Release(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  live_ -= bytes;
}

int64_t MemoryTracker::live() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_;
}

int64_t MemoryTracker::peak() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}

int64_t MemoryTracker::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

SimNpuState::SimNpuState(SimNpuProfile p, const hal::SimNpuOptions& options, int ordinal,
                         std::function<double()> clock)
    : profile(std::move(p)),
      info(SimNpuDeviceInfo(profile, ordinal)),
      emulate_latency(options.emulate_latency.value_or(profile.emulate_latency)),
      model(profile, clock),
      faults(info.id, options.faults, clock),
      memory(profile.memory_bytes) {}

SimNpuDevice::SimNpuDevice(SimNpuProfile profile, const hal::SimNpuOptions& options, int ordinal,
                           const std::function<void(hal::KernelRegistry&)>& register_kernels,
                           std::function<double()> clock)
    : state_(
          std::make_shared<SimNpuState>(std::move(profile), options, ordinal, std::move(clock))) {
  if (register_kernels) register_kernels(state_->kernels);
  // An NPU's memory holds tensors: sequences and optionals stay on the host (cpu).
  state_->kernels.SetTensorValuesOnly("sim-npu");
}

SimNpuDevice::~SimNpuDevice() { state_->faults.ReleaseHangs(); }

hal::DeviceHealth SimNpuDevice::Health() {
  ModelSample s = state_->model.Sample();
  hal::DeviceHealth h;
  h.is_simulated = true;
  h.temperature_c = s.temperature_c;
  h.power_w = s.power_w;
  h.energy_j = s.energy_j;
  h.utilization = s.utilization;
  h.memory_used_bytes = state_->memory.live();
  h.memory_free_bytes = state_->memory.capacity() - state_->memory.live();
  h.clock_mhz = s.clock_mhz;
  h.throttling = s.throttling;
  h.error_count = state_->faults.error_count();
  bool lost = !state_->faults.CheckAlive().ok();
  h.state = lost           ? hal::HealthState::kFailed
            : s.throttling ? hal::HealthState::kDegraded
                           : hal::HealthState::kHealthy;
  return h;
}

Result<std::shared_ptr<hal::Buffer>> SimNpuDevice::Allocate(size_t bytes) {
  UH_RETURN_IF_ERROR(state_->faults.BeforeAllocate(bytes));
  UH_RETURN_IF_ERROR(
      state_->memory.Reserve(state_->info.id, static_cast<int64_t>(bytes), "allocation"));
  std::shared_ptr<hal::Buffer> host = hal::AllocateHostBuffer(bytes);
  if (!host) {
    state_->memory.Release(static_cast<int64_t>(bytes));
    return ResourceExhaustedError(state_->info.id + ": out of host memory backing " +
                                  std::to_string(bytes) + " bytes");
  }
  return std::shared_ptr<hal::Buffer>(std::make_shared<SimNpuBuffer>(state_, std::move(host)));
}

Result<std::unique_ptr<hal::Stream>> SimNpuDevice::CreateStream() {
  UH_RETURN_IF_ERROR(state_->faults.CheckAlive());
  return CreateSimNpuStream(state_);
}

hal::SupportResult SimNpuDevice::Supports(const ir::Node& node, const ir::Graph& graph) const {
  hal::SupportResult profile_ok = CheckProfileSupport(state_->profile, node, graph);
  if (!profile_ok.supported) return profile_ok;
  hal::SupportResult kernel = state_->kernels.Supports(hal::KernelCreateInfo{node, graph});
  if (!kernel.supported) return hal::SupportResult::No("sim-npu: " + kernel.reason);
  return kernel;
}

Result<std::shared_ptr<hal::Executable>> SimNpuDevice::Compile(const ir::Graph& subgraph,
                                                               const hal::CompileOptions&) {
  UH_RETURN_IF_ERROR(state_->faults.CheckAlive());
  for (const ir::Node& node : subgraph.nodes) {
    hal::SupportResult s = Supports(node, subgraph);
    if (!s.supported) return UnimplementedError(node.Describe() + ": " + s.reason);
  }
  return CompileSimNpu(state_, subgraph);
}

Status SimNpuDevice::SetPowerState(hal::PowerState state) {
  UH_RETURN_IF_ERROR(state_->faults.CheckAlive());
  state_->model.SetPowerState(state);
  return Status::Ok();
}

SimNpuStats SimNpuDevice::stats() const {
  SimNpuStats s;
  s.runs = state_->runs.load();
  s.modeled_busy_s = state_->model.busy_s();
  s.last_run_modeled_latency_s = static_cast<double>(state_->last_latency_ns.load()) * 1e-9;
  s.memory_live_bytes = state_->memory.live();
  s.memory_peak_bytes = state_->memory.peak();
  s.allocation_count = state_->memory.count();
  return s;
}

}  // namespace unihal::sim_npu
