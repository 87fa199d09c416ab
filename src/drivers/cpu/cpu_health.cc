#include "drivers/cpu/cpu_health.h"

#include <fstream>
#include <sstream>

#include "drivers/cpu/cpu_sysfs.h"

namespace unihal::cpu {

CpuHealthSampler::CpuHealthSampler(std::string proc_root, std::string sys_root)
    : proc_root_(std::move(proc_root)), sys_root_(std::move(sys_root)) {
  last_times_ = ReadCpuTimes();
  last_energy_j_ = ReadEnergyJoules();
  last_time_ = std::chrono::steady_clock::now();
}

std::optional<CpuHealthSampler::CpuTimes> CpuHealthSampler::ReadCpuTimes() const {
  std::ifstream in(proc_root_ + "/stat");
  std::string line;
  if (!std::getline(in, line) || line.rfind("cpu ", 0) != 0) return std::nullopt;
  std::istringstream fields(line.substr(4));
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  uint64_t v[8] = {};
  int n = 0;
  while (n < 8 && fields >> v[n]) ++n;
  if (n < 4) return std::nullopt;
  CpuTimes t;
  for (int i = 0; i < n; ++i) t.total += v[i];
  const uint64_t idle = v[3] + (n > 4 ? v[4] : 0);
  t.busy = t.total - idle;
  return t;
}

std::optional<double> CpuHealthSampler::ReadTemperature() const {
  // Prefer the package sensor; fall back to the hottest CPU-ish zone.
  std::optional<double> best;
  for (const auto& zone : ListDir(sys_root_ + "/class/thermal", "thermal_zone")) {
    auto type = ReadFileTrimmed(zone + "/type");
    auto milli = ReadInt64File(zone + "/temp");
    if (!type || !milli || *milli <= 0) continue;
    const double c = static_cast<double>(*milli) / 1000.0;
    if (*type == "x86_pkg_temp") return c;
    if (type->find("cpu") != std::string::npos || type->find("soc") != std::string::npos ||
        type->find("acpitz") != std::string::npos) {
      if (!best || c > *best) best = c;
    }
  }
  if (best) return best;
  for (const auto& hwmon : ListDir(sys_root_ + "/class/hwmon", "hwmon")) {
    auto name = ReadFileTrimmed(hwmon + "/name");
    if (!name || (*name != "coretemp" && *name != "k10temp" && *name != "zenpower")) continue;
    if (auto milli = ReadInt64File(hwmon + "/temp1_input"); milli && *milli > 0) {
      return static_cast<double>(*milli) / 1000.0;
    }
  }
  return std::nullopt;
}

std::optional<double> CpuHealthSampler::ReadEnergyJoules() const {
  // Sum of the package domains (intel-rapl:0, intel-rapl:1, ...), not their subzones.
  std::optional<double> total;
  for (const auto& zone : ListDir(sys_root_ + "/class/powercap", "intel-rapl:")) {
    if (zone.find(':', zone.rfind("intel-rapl:") + 11) != std::string::npos) continue;
    if (auto uj = ReadInt64File(zone + "/energy_uj")) {
      total = total.value_or(0.0) + static_cast<double>(*uj) * 1e-6;
    }
  }
  return total;
}

hal::DeviceHealth CpuHealthSampler::Sample() {
  hal::DeviceHealth health;
  const auto now = std::chrono::steady_clock::now();
  std::optional<CpuTimes> times = ReadCpuTimes();
  std::optional<double> energy = ReadEnergyJoules();
  health.temperature_c = ReadTemperature();
  health.energy_j = energy;
  auto total = ReadMeminfoBytes(proc_root_ + "/meminfo", "MemTotal");
  auto available = ReadMeminfoBytes(proc_root_ + "/meminfo", "MemAvailable");
  if (total && available) {
    health.memory_used_bytes = *total - *available;
    health.memory_free_bytes = *available;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (times && last_times_ && times->total > last_times_->total) {
      health.utilization = static_cast<double>(times->busy - last_times_->busy) /
                           static_cast<double>(times->total - last_times_->total);
    }
    const double seconds = std::chrono::duration<double>(now - last_time_).count();
    // A counter wrap shows as a drop: skip that interval rather than report nonsense.
    if (energy && last_energy_j_ && *energy >= *last_energy_j_ && seconds > 0.01) {
      health.power_w = (*energy - *last_energy_j_) / seconds;
    }
    if (times) last_times_ = times;
    last_energy_j_ = energy;
    last_time_ = now;
  }
  health.state = times ? hal::HealthState::kHealthy : hal::HealthState::kUnknown;
  return health;
}

}  // namespace unihal::cpu
