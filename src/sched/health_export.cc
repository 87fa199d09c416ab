// Device health as Prometheus text exposition format 0.0.4 gauges (docs/monitoring.md).
#include <fmt/format.h>

#include <functional>
#include <optional>
#include <string>

#include "unihal/monitor.h"

namespace unihal {
namespace {

std::string Labels(const DeviceHealthStatus& s) {
  // Device ids are "<driver>:<ordinal>": no character needs escaping.
  return fmt::format("device=\"{}\",simulated=\"{}\"", s.device_id,
                     s.is_simulated ? "true" : "false");
}

// One gauge family; devices whose sample lacks the figure are left out.
void Gauge(std::string& out, const std::vector<DeviceHealthStatus>& statuses, std::string_view name,
           std::string_view help,
           const std::function<std::optional<double>(const hal::DeviceHealth&)>& figure) {
  out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
  for (const DeviceHealthStatus& s : statuses) {
    if (!s.latest) continue;
    const std::optional<double> value = figure(s.latest->health);
    if (value) out += fmt::format("{}{{{}}} {:.9g}\n", name, Labels(s), *value);
  }
}

template <typename T>
std::optional<double> AsDouble(const std::optional<T>& value) {
  return value ? std::optional<double>(static_cast<double>(*value)) : std::nullopt;
}

}  // namespace

std::string HealthToPrometheus(const std::vector<DeviceHealthStatus>& statuses) {
  std::string out;
  out +=
      "# HELP unihal_device_state Derived health state: 1 for the current state.\n"
      "# TYPE unihal_device_state gauge\n";
  for (const DeviceHealthStatus& s : statuses) {
    for (hal::HealthState state : {hal::HealthState::kUnknown, hal::HealthState::kHealthy,
                                   hal::HealthState::kDegraded, hal::HealthState::kFailed}) {
      out += fmt::format("unihal_device_state{{{},state=\"{}\"}} {}\n", Labels(s),
                         HealthStateName(state), s.state == state ? 1 : 0);
    }
  }
  using H = hal::DeviceHealth;
  Gauge(out, statuses, "unihal_device_temperature_celsius", "Temperature.",
        [](const H& h) { return h.temperature_c; });
  Gauge(out, statuses, "unihal_device_power_watts", "Power draw.",
        [](const H& h) { return h.power_w; });
  Gauge(out, statuses, "unihal_device_energy_joules", "Energy since an arbitrary origin.",
        [](const H& h) { return h.energy_j; });
  Gauge(out, statuses, "unihal_device_utilization_ratio", "Busy fraction since the last sample.",
        [](const H& h) { return h.utilization; });
  Gauge(out, statuses, "unihal_device_memory_used_bytes", "Memory in use.",
        [](const H& h) { return AsDouble(h.memory_used_bytes); });
  Gauge(out, statuses, "unihal_device_memory_free_bytes", "Memory free.",
        [](const H& h) { return AsDouble(h.memory_free_bytes); });
  Gauge(out, statuses, "unihal_device_clock_hertz", "Clock.", [](const H& h) {
    return h.clock_mhz ? std::optional<double>(*h.clock_mhz * 1e6) : std::nullopt;
  });
  Gauge(out, statuses, "unihal_device_throttling", "1 while the device throttles.",
        [](const H& h) { return AsDouble(h.throttling); });
  Gauge(out, statuses, "unihal_device_errors", "Errors the device counted.",
        [](const H& h) { return AsDouble(h.error_count); });
  return out;
}

}  // namespace unihal
