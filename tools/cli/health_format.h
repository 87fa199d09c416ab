// Device health as JSON and as table cells, shared by `unihal devices` and `unihal health`.
// Unknown figures are null in JSON and "-" in tables, never 0.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "unihal/hal/device_info.h"

namespace unihal::cli {

template <typename T>
nlohmann::ordered_json OrNull(const std::optional<T>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

template <typename T>
std::string OrDash(const std::optional<T>& value, std::string_view format) {
  return value ? fmt::format(fmt::runtime(format), *value) : "-";
}

// "1.5 GiB", or "-" when unknown.
std::string Bytes(const std::optional<int64_t>& bytes);

// Every field of `health`; "is_simulated": true means every figure is modelled (sim-npu).
nlohmann::ordered_json HealthJson(const hal::DeviceHealth& health);

}  // namespace unihal::cli
