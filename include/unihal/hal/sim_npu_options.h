// Options of the simulated NPU driver (sim-npu): which profiles to open and which faults to
// inject. Lives in the HAL so RuntimeOptions, the CLI and the driver share one definition.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "unihal/status.h"

namespace unihal::hal {

// Injected faults. Every probability is per call and drawn from one seeded generator, so a
// sequence of calls fails the same way on every run.
struct SimNpuFaultOptions {
  uint64_t seed = 0;
  double error_rate = 0.0;  // a run fails (kUnavailable or kInternal) with this probability
  std::optional<int64_t> lost_after_runs;  // after N runs every call fails (kUnavailable)
  std::optional<double> lost_after_s;      // ... or after T seconds since the device opened
  double oom_rate = 0.0;                   // Allocate fails (kResourceExhausted)
  double hang_rate = 0.0;                  // a run blocks until hang_timeout_s, then fails
  double hang_timeout_s = 5.0;             // kDeadlineExceeded after this; never forever

  bool any() const {
    return error_rate > 0 || lost_after_runs || lost_after_s || oom_rate > 0 || hang_rate > 0;
  }
};

struct SimNpuOptions {
  // Profile names ("edge-34", "tiny-4") or paths to profile .json files; one device each.
  // Empty: the driver is not enabled and is listed as unavailable.
  std::vector<std::string> profiles;
  // Folder searched for <name>.json before $UNIHAL_SIM_NPU_PROFILE_DIR and the built-in one.
  std::string profile_dir;
  // Sleep for the modelled latency of each run so schedulers see realistic timings.
  // nullopt: the profile's "emulate_latency" (false in the shipped profiles).
  std::optional<bool> emulate_latency;
  SimNpuFaultOptions faults;
};

// Parses "error_rate=0.1,seed=7,lost_after_runs=100,lost_after_s=30,oom_rate=0.05,
// hang_rate=0.01,hang_timeout_s=2" (any subset, any order) onto `faults`.
Status ParseSimNpuFaults(std::string_view spec, SimNpuFaultOptions& faults);

}  // namespace unihal::hal
