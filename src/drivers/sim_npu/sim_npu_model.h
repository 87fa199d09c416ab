// The sim-npu performance, power and thermal model. Everything here is MODELLED, never
// measured: latency is a roofline per node (max(ops / peak, bytes / bandwidth) + overheads),
// power is idle + dynamic in proportion to utilization, temperature follows a first-order
// thermal RC circuit, and above the profile's limit the clock is lowered (throttling), which
// raises modelled latency. Thread-safe.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "drivers/sim_npu/sim_npu_profile.h"
#include "unihal/hal/device.h"

namespace unihal::sim_npu {

// Work of one node, from its static shapes.
struct NodeCost {
  double ops = 0;    // multiply-adds count as 2
  double bytes = 0;  // inputs + outputs moved once
  DType dtype = DType::kI8;
};

// Costs of every node of `graph` (static shapes required), and the largest per-node working set.
std::vector<NodeCost> EstimateGraphCost(const ir::Graph& graph, int64_t* max_working_set_bytes);

struct ModelSample {
  double temperature_c = 0;
  double power_w = 0;
  double energy_j = 0;
  double utilization = 0;  // busy fraction since the previous sample
  double clock_mhz = 0;
  bool throttling = false;
  double model_time_s = 0;  // the model's own clock
  double busy_s = 0;        // total modelled busy time
};

class SimModel {
 public:
  // `clock` gives seconds on a monotonic clock; nullptr = std::chrono::steady_clock. Tests pass
  // a manual clock so the model is deterministic.
  SimModel(const SimNpuProfile& profile, std::function<double()> clock);

  // Latency of one run of `costs` at the current clock, without running it.
  double Latency(const std::vector<NodeCost>& costs) const;
  // Runs `costs` on the model: queued after earlier modelled work, heats the device, may
  // throttle. Returns the run's modelled latency in seconds.
  double RecordRun(const std::vector<NodeCost>& costs);
  void SetPowerState(hal::PowerState state);
  hal::PowerState power_state() const;
  double busy_s() const;  // total modelled busy time
  ModelSample Sample();

 private:
  double ClockFractionLocked() const;  // power state x throttling
  double LatencyLocked(const std::vector<NodeCost>& costs) const;
  double BusyPowerLocked() const;
  void IntegrateLocked(double dt, double power_w);  // temperature and energy over dt
  void IdleUntilLocked(double t);

  const SimNpuProfile profile_;
  const std::function<double()> clock_;
  mutable std::mutex mu_;
  hal::PowerState state_ = hal::PowerState::kPerformance;
  double temperature_c_;  // starts at the idle steady state, ambient + idle power x R
  double energy_j_ = 0;
  double last_t_;      // model time up to which the state is integrated
  double busy_s_ = 0;  // total busy time
  double sample_t_;    // time and busy total of the previous Sample()
  double sample_busy_s_ = 0;
  double power_w_;  // power during the latest interval
  bool throttling_ = false;
};

}  // namespace unihal::sim_npu
