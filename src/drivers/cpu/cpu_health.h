// CPU health from real sources: /proc/stat (utilization), thermal zones or hwmon
// (temperature), RAPL powercap (energy and power), /proc/meminfo (memory). Anything the
// machine does not expose stays nullopt. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "unihal/hal/device_info.h"

namespace unihal::cpu {

class CpuHealthSampler {
 public:
  explicit CpuHealthSampler(std::string proc_root = "/proc", std::string sys_root = "/sys");
  // Utilization and power are rates over the time since the previous call (or construction).
  hal::DeviceHealth Sample();

 private:
  struct CpuTimes {
    uint64_t busy = 0;
    uint64_t total = 0;
  };
  std::optional<CpuTimes> ReadCpuTimes() const;
  std::optional<double> ReadTemperature() const;
  std::optional<double> ReadEnergyJoules() const;

  const std::string proc_root_;
  const std::string sys_root_;
  std::mutex mutex_;
  std::optional<CpuTimes> last_times_;
  std::optional<double> last_energy_j_;
  std::chrono::steady_clock::time_point last_time_;
};

}  // namespace unihal::cpu
