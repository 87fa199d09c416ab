// One simulated NPU device: a profile's limits enforced (op set, dtypes, static shapes, memory
// capacity), results computed by the cpu reference kernels, latency/power/temperature modelled,
// faults injected on request. Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "drivers/sim_npu/sim_npu_faults.h"
#include "drivers/sim_npu/sim_npu_model.h"
#include "drivers/sim_npu/sim_npu_profile.h"
#include "unihal/hal/device.h"

namespace unihal::sim_npu {

// Memory accounting against the profile's capacity.
class MemoryTracker {
 public:
  explicit MemoryTracker(int64_t capacity) : capacity_(capacity) {}
  Status Reserve(const std::string& device_id, int64_t bytes, const char* what);
  void Release(int64_t bytes);
  int64_t live() const;
  int64_t peak() const;
  int64_t count() const;
  int64_t capacity() const { return capacity_; }

 private:
  const int64_t capacity_;
  mutable std::mutex mu_;
  int64_t live_ = 0;
  int64_t peak_ = 0;
  int64_t count_ = 0;
};

// What the device, its buffers, streams and executables share (kept alive by each).
struct SimNpuState {
  SimNpuState(SimNpuProfile p, const hal::SimNpuOptions& options, int ordinal,
              std::function<double()> clock);
  const SimNpuProfile profile;
  const hal::DeviceInfo info;
  const bool emulate_latency;
  hal::KernelRegistry kernels;  // the cpu reference kernels
  SimModel model;
  FaultInjector faults;
  MemoryTracker memory;
  std::atomic<int64_t> runs{0};
  std::atomic<int64_t> last_latency_ns{0};
};

// Counters of one device, all modelled or counted (not measured).
struct SimNpuStats {
  int64_t runs = 0;
  double modeled_busy_s = 0;
  double last_run_modeled_latency_s = 0;
  int64_t memory_live_bytes = 0;
  int64_t memory_peak_bytes = 0;
  int64_t allocation_count = 0;
};

class SimNpuDevice final : public hal::Device {
 public:
  // `register_kernels` fills the registry the results are computed with (the cpu reference
  // kernels). `clock` (seconds, monotonic) drives the model and timed faults; nullptr = steady.
  SimNpuDevice(SimNpuProfile profile, const hal::SimNpuOptions& options, int ordinal,
               const std::function<void(hal::KernelRegistry&)>& register_kernels,
               std::function<double()> clock = nullptr);
  ~SimNpuDevice() override;

  const hal::DeviceInfo& info() const override { return state_->info; }
  hal::DeviceHealth Health() override;
  Result<std::shared_ptr<hal::Buffer>> Allocate(size_t bytes) override;
  Result<std::unique_ptr<hal::Stream>> CreateStream() override;
  hal::SupportResult Supports(const ir::Node& node, const ir::Graph& graph) const override;
  Result<std::shared_ptr<hal::Executable>> Compile(const ir::Graph& subgraph,
                                                   const hal::CompileOptions& options) override;
  Status SetPowerState(hal::PowerState state) override;

  hal::PowerState power_state() const { return state_->model.power_state(); }
  SimNpuStats stats() const;
  const SimNpuProfile& profile() const { return state_->profile; }
  // Ends every injected hang now (they fail with kCancelled).
  void ReleaseHangs() { state_->faults.ReleaseHangs(); }

 private:
  std::shared_ptr<SimNpuState> state_;
};

}  // namespace unihal::sim_npu
