#include "unihal/hal/device.h"

namespace unihal::hal {

std::string_view PowerStateName(PowerState state) {
  switch (state) {
    case PowerState::kPerformance:
      return "performance";
    case PowerState::kBalanced:
      return "balanced";
    case PowerState::kLowPower:
      return "low-power";
  }
  return "performance";
}

std::optional<PowerState> ParsePowerState(std::string_view name) {
  if (name == "performance") return PowerState::kPerformance;
  if (name == "balanced") return PowerState::kBalanced;
  if (name == "low-power" || name == "low_power" || name == "lowpower")
    return PowerState::kLowPower;
  return std::nullopt;
}

}  // namespace unihal::hal
