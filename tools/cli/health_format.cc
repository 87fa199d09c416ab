#include "cli/health_format.h"

namespace unihal::cli {

std::string Bytes(const std::optional<int64_t>& bytes) {
  if (!bytes) return "-";
  return fmt::format("{:.1f} GiB", static_cast<double>(*bytes) / (1024.0 * 1024 * 1024));
}

nlohmann::ordered_json HealthJson(const hal::DeviceHealth& health) {
  return {
      {"state", HealthStateName(health.state)},
      {"is_simulated", health.is_simulated},  // true: every figure below is modelled
      {"temperature_c", OrNull(health.temperature_c)},
      {"power_w", OrNull(health.power_w)},
      {"energy_j", OrNull(health.energy_j)},
      {"utilization", OrNull(health.utilization)},
      {"memory_used_bytes", OrNull(health.memory_used_bytes)},
      {"memory_free_bytes", OrNull(health.memory_free_bytes)},
      {"clock_mhz", OrNull(health.clock_mhz)},
      {"throttling", OrNull(health.throttling)},
      {"error_count", OrNull(health.error_count)},
  };
}

}  // namespace unihal::cli
