// What a device is (static) and how it is doing (sampled). Unknown is nullopt, never 0.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "unihal/dtype.h"

namespace unihal::hal {

enum class DeviceKind { kCpu, kGpu, kNpu, kOther };
std::string_view DeviceKindName(DeviceKind kind);  // "cpu", "gpu", "npu", "other"

struct DeviceInfo {
  std::string id;      // "<driver>:<ordinal>", e.g. "cpu:0"
  std::string driver;  // "cpu", "cuda", ...
  DeviceKind kind = DeviceKind::kOther;
  std::string vendor;
  std::string name;
  int ordinal = 0;
  std::optional<int64_t> compute_units;       // cores, SMs, NPU tiles
  std::optional<int64_t> memory_total_bytes;  // memory the device can use
  std::vector<DType> dtypes;                  // element types its kernels accept
  std::map<DType, double> peak_ops_per_s;     // only where known
  std::optional<double> memory_bandwidth_bytes_per_s;
  std::vector<std::string> features;              // "avx512f", "fp16", "dynamic_shapes", ...
  std::map<std::string, int64_t> cache_bytes;     // "l1d", "l2", "l3" where known
  bool is_simulated = false;                      // true only for sim-npu
};

enum class HealthState { kUnknown, kHealthy, kDegraded, kFailed };
std::string_view HealthStateName(HealthState state);

struct DeviceHealth {
  std::optional<double> temperature_c;
  std::optional<double> power_w;
  std::optional<double> energy_j;     // cumulative since an arbitrary origin
  std::optional<double> utilization;  // 0..1 since the previous sample
  std::optional<int64_t> memory_used_bytes;
  std::optional<int64_t> memory_free_bytes;
  std::optional<double> clock_mhz;
  std::optional<bool> throttling;
  std::optional<int64_t> error_count;
  HealthState state = HealthState::kUnknown;
  // True when every figure above is modelled by a simulator (sim-npu), not read from hardware.
  bool is_simulated = false;
};

}  // namespace unihal::hal
