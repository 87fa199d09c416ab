// A sim-npu profile: the declared capabilities of a simulated NPU (dtypes, op set, memory,
// peak rates, power and thermal constants), read from a JSON file, and what it can run.
#pragma once

#include <map>
#include <set>
#include <string>

#include "unihal/dtype.h"
#include "unihal/hal/device_info.h"
#include "unihal/hal/kernel_registry.h"
#include "unihal/hal/sim_npu_options.h"
#include "unihal/ir/graph.h"
#include "unihal/status.h"

namespace unihal::sim_npu {

struct SimNpuProfile {
  std::string name;
  std::string description;
  std::string vendor;
  std::string path;  // file it was read from
  int64_t compute_units = 1;
  int64_t memory_bytes = 0;
  std::map<DType, double> peak_ops_per_s;  // int8, uint8, float16
  double bandwidth_bytes_per_s = 0;
  double clock_mhz = 1000;
  double launch_overhead_s = 0;  // per run
  double node_overhead_s = 0;    // per node
  double idle_w = 0;
  double tdp_w = 0;
  double ambient_c = 25;
  double resistance_c_per_w = 10;  // thermal resistance to ambient
  double capacitance_j_per_c = 1;  // thermal mass
  double throttle_c = 85;
  double hysteresis_c = 5;
  double throttle_clock_fraction = 0.5;
  bool emulate_latency = false;
  std::set<std::string> ops;
};

// `name_or_path` is a file path (contains '/' or ends in ".json") or a profile name looked up as
// <dir>/<name>.json in options.profile_dir, $UNIHAL_SIM_NPU_PROFILE_DIR, then the source tree's
// data/sim_npu/ (compiled in as UNIHAL_SIM_NPU_PROFILE_DIR).
Result<SimNpuProfile> LoadSimNpuProfile(const std::string& name_or_path,
                                        const hal::SimNpuOptions& options);
// Parses a profile from JSON text (for tests and custom profiles).
Result<SimNpuProfile> ParseSimNpuProfile(const std::string& json_text, const std::string& path);

// DeviceInfo of a simulated device: is_simulated, "(simulated)" in the name, vendor says so.
hal::DeviceInfo SimNpuDeviceInfo(const SimNpuProfile& profile, int ordinal);

// The profile's own limits: op set, int8/uint8/fp16 only, static shapes only. The reasons are
// the ones users see ("sim-npu: float32 not supported", "sim-npu: dynamic shape ...",
// "sim-npu: op LSTM not in the edge-34 op set").
hal::SupportResult CheckProfileSupport(const SimNpuProfile& profile, const ir::Node& node,
                                       const ir::Graph& graph);

}  // namespace unihal::sim_npu
