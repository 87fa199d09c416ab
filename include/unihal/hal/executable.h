// A compiled subgraph, ready to run on its device.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/tensor.h"
#include "unihal/value.h"

namespace unihal::hal {

class Executable {
 public:
  virtual ~Executable() = default;
  // The subgraph's inputs and outputs, in the order Run binds them.
  virtual const std::vector<ir::ValueInfo>& inputs() const = 0;
  virtual const std::vector<ir::ValueInfo>& outputs() const = 0;
  // Runs once. `inputs` follow inputs(); `outputs` is resized to outputs().size().
  // Thread-safe: concurrent calls are allowed.
  virtual Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) = 0;
  // Runs once with values of any kind: sequences and optionals too (unihal/value.h). The
  // default serves executables that hold tensors only: it runs Run when every input is a
  // tensor and fails otherwise (kUnimplemented, naming the input).
  virtual Status RunValues(std::span<const Value> inputs, std::vector<Value>& outputs);
  // Simulated devices only (sim-npu): the modelled, never measured, latency of one run at the
  // device's current clock, in seconds. nullopt for real hardware.
  virtual std::optional<double> ModeledLatencySeconds() const { return std::nullopt; }
};

}  // namespace unihal::hal
