// `unihal devices`: every device the runtime opened, its static info and a fresh health sample.
#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "cli/cli_common.h"
#include "cli/health_format.h"
#include "unihal/runtime.h"

namespace unihal::cli {
namespace {

using json = nlohmann::ordered_json;

constexpr std::chrono::milliseconds kHealthWindow{250};

json DeviceJson(const hal::DeviceInfo& info, const hal::DeviceHealth& health) {
  json dtypes = json::array();
  for (DType dtype : info.dtypes) dtypes.push_back(DTypeName(dtype));
  json peak = json::object();
  for (const auto& [dtype, ops] : info.peak_ops_per_s) peak[std::string(DTypeName(dtype))] = ops;
  return {
      {"id", info.id},
      {"driver", info.driver},
      {"kind", hal::DeviceKindName(info.kind)},
      {"vendor", info.vendor},
      {"name", info.name},
      {"ordinal", info.ordinal},
      {"is_simulated", info.is_simulated},
      {"compute_units", OrNull(info.compute_units)},
      {"memory_total_bytes", OrNull(info.memory_total_bytes)},
      {"memory_bandwidth_bytes_per_s", OrNull(info.memory_bandwidth_bytes_per_s)},
      {"dtypes", dtypes},
      {"peak_ops_per_s", peak},
      {"features", info.features},
      {"cache_bytes", info.cache_bytes},
      {"health", HealthJson(health)},
  };
}

void PrintTable(const Runtime& runtime, const std::vector<hal::DeviceHealth>& health) {
  fmt::print("{:<10} {:<5} {:<40} {:>5} {:>10} {:>7} {:>7} {:>6}  {}\n", "ID", "KIND", "NAME",
             "UNITS", "MEMORY", "TEMP", "POWER", "UTIL", "DTYPES");
  for (size_t i = 0; i < runtime.devices().size(); ++i) {
    const hal::DeviceInfo& info = runtime.devices()[i]->info();
    std::string dtypes;
    for (DType dtype : info.dtypes) {
      if (!dtypes.empty()) dtypes += ',';
      dtypes += DTypeName(dtype);
    }
    std::string name = info.name + (info.is_simulated ? " (simulated)" : "");
    std::optional<double> utilization_pct;
    if (health[i].utilization) utilization_pct = *health[i].utilization * 100.0;
    fmt::print("{:<10} {:<5} {:<40} {:>5} {:>10} {:>7} {:>7} {:>6}  {}\n", info.id,
               hal::DeviceKindName(info.kind), name.substr(0, 40), OrDash(info.compute_units, "{}"),
               Bytes(info.memory_total_bytes), OrDash(health[i].temperature_c, "{:.0f} C"),
               OrDash(health[i].power_w, "{:.1f} W"), OrDash(utilization_pct, "{:.0f}%"), dtypes);
  }
  for (const UnavailableDriver& driver : runtime.unavailable()) {
    fmt::print("unavailable: {}: {}\n", driver.driver, driver.reason);
  }
  fmt::print(
      "('-' = not reported by this platform; (simulated) = modelled figures, not hardware)\n");
}

struct DevicesOptions {
  bool json = false;
  SimNpuCliOptions sim_npu;
};

Status RunDevices(const DevicesOptions& options) {
  RuntimeOptions runtime_options;
  UH_RETURN_IF_ERROR(ApplySimNpuOptions(options.sim_npu, runtime_options));
  UH_ASSIGN_OR_RETURN(std::shared_ptr<Runtime> runtime, Runtime::Create(runtime_options));
  // Rates (utilization, power) are counter differences: the first sample starts the window,
  // the second, a short while later, reads it.
  for (const auto& device : runtime->devices()) (void)device->Health();
  std::this_thread::sleep_for(kHealthWindow);
  std::vector<hal::DeviceHealth> health;
  for (const auto& device : runtime->devices()) health.push_back(device->Health());
  if (!options.json) {
    PrintTable(*runtime, health);
    return Status::Ok();
  }
  json devices = json::array();
  for (size_t i = 0; i < runtime->devices().size(); ++i) {
    devices.push_back(DeviceJson(runtime->devices()[i]->info(), health[i]));
  }
  json unavailable = json::array();
  for (const UnavailableDriver& driver : runtime->unavailable()) {
    unavailable.push_back({{"driver", driver.driver}, {"reason", driver.reason}});
  }
  std::cout << json{{"devices", devices}, {"unavailable", unavailable}}.dump(2) << "\n";
  return Status::Ok();
}

}  // namespace

Command AddDevicesCommand(CLI::App& parent) {
  auto options = std::make_shared<DevicesOptions>();
  CLI::App* app =
      parent.add_subcommand("devices", "List the devices, their capabilities and health");
  app->add_flag("--json", options->json, "Print JSON instead of a table");
  AddSimNpuOptions(app, &options->sim_npu);
  return {app, [options] { return RunDevices(*options); }};
}

}  // namespace unihal::cli
