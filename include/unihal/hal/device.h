// One accelerator (or the CPU) opened by a driver. Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "unihal/hal/buffer.h"
#include "unihal/hal/device_info.h"
#include "unihal/hal/executable.h"
#include "unihal/hal/kernel_registry.h"
#include "unihal/hal/stream.h"
#include "unihal/ir/graph.h"
#include "unihal/status.h"

namespace unihal::hal {

struct CompileOptions {};

// R2.4 power states. A device that cannot change its power state answers kUnimplemented with
// the reason.
enum class PowerState { kPerformance, kBalanced, kLowPower };
std::string_view PowerStateName(PowerState state);  // "performance", "balanced", "low-power"
std::optional<PowerState> ParsePowerState(std::string_view name);

class Device {
 public:
  virtual ~Device() = default;
  virtual const DeviceInfo& info() const = 0;
  // A fresh sample; every figure the platform cannot give stays nullopt.
  virtual DeviceHealth Health() = 0;
  virtual Result<std::shared_ptr<Buffer>> Allocate(size_t bytes) = 0;
  virtual Result<std::unique_ptr<Stream>> CreateStream() = 0;
  // Whether this device can run `node` of `graph`; when not, the reason says what is missing.
  virtual SupportResult Supports(const ir::Node& node, const ir::Graph& graph) const = 0;
  virtual Result<std::shared_ptr<Executable>> Compile(const ir::Graph& subgraph,
                                                      const CompileOptions& options) = 0;
  virtual Status SetPowerState(PowerState state) {
    return UnimplementedError(info().id + ": power state " + std::string(PowerStateName(state)) +
                              " cannot be set: the driver has no power control");
  }
};

}  // namespace unihal::hal
