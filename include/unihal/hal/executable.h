// A compiled subgraph, ready to run on its device.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/tensor.h"
#include "unihal/value.h"

namespace unihal::hal {

// Wall time spent in one node over the runs since profiling was enabled (SessionOptions::
// profile). `op_type` is what actually ran, after the device's fusions (e.g. FusedConv).
struct NodeTime {
  std::string node;
  std::string op_type;
  std::string device;  // filled in by the executor that knows it
  int64_t runs = 0;
  double total_ms = 0;
};

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
  // Per-node timing of the runs from now on (a clock read around each node). Executables that
  // cannot time their nodes ignore it and report no node times.
  virtual void EnableProfiling() {}
  // The nodes' times so far, in execution order; empty unless profiling is enabled.
  virtual std::vector<NodeTime> NodeTimes() const { return {}; }
};

}  // namespace unihal::hal
