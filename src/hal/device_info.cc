#include "unihal/hal/device_info.h"

namespace unihal::hal {

std::string_view DeviceKindName(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kCpu: return "cpu";
    case DeviceKind::kGpu: return "gpu";
    case DeviceKind::kNpu: return "npu";
    case DeviceKind::kOther: return "other";
  }
  return "other";
}

std::string_view HealthStateName(HealthState state) {
  switch (state) {
    case HealthState::kUnknown: return "unknown";
    case HealthState::kHealthy: return "healthy";
    case HealthState::kDegraded: return "degraded";
    case HealthState::kFailed: return "failed";
  }
  return "unknown";
}

}  // namespace unihal::hal
