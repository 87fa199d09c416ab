// The partitioner's cost model (R4.1): how long a node takes on a device (work over the
// device's rate, bytes over its bandwidth: a roofline), what a value crossing devices costs,
// and what launching one segment costs. Rates come from DeviceInfo where the device declares
// them; where it does not, an assumed default is used and every estimate built on it says so
// (Estimate::assumed), so a report never passes an assumption off as a measured figure.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "unihal/dtype.h"
#include "unihal/hal/device_info.h"
#include "unihal/ir/graph.h"

namespace unihal::planner {

// Work of one node from its static shapes and dtypes.
struct NodeWork {
  double ops = 0;    // multiply-adds count as 2 (Conv, MatMul, Gemm); 1 per output element else
  double bytes = 0;  // every input and output moved once
  DType dtype = DType::kUndefined;  // the dtype its arithmetic runs in (the first data input's)
  bool shapes_known = true;         // false when some value had no static shape (counted as 0)
};

NodeWork EstimateNodeWork(const ir::Node& node, const ir::Graph& graph);

// Seconds, and what they rest on. `assumptions` names each default that stood in for a figure
// the device does not declare ("cpu:0 float32 rate", "launch cost", ...).
struct Estimate {
  double seconds = 0;
  std::set<std::string> assumptions;
  bool assumed() const { return !assumptions.empty(); }
  Estimate& operator+=(const Estimate& other);
};

// Defaults used only where a device does not declare a figure. They are deliberately round
// numbers, not measurements of any machine.
struct CostModelOptions {
  double assumed_ops_per_s = 100e9;             // any dtype the device gives no rate for
  double assumed_bandwidth_bytes_per_s = 10e9;  // memory bandwidth
  double assumed_launch_s = 10e-6;              // starting one segment on a device
  double assumed_copy_overhead_s = 2e-6;        // one value crossing devices, besides bytes
  // Measured profiles refine the model: seconds of a node (by node name) on a device (by device
  // id), e.g. from a profiling run. Such an entry replaces the roofline and is no assumption.
  std::map<std::string, std::map<std::string, double>> measured_node_seconds;
};

class CostModel {
 public:
  explicit CostModel(CostModelOptions options = {}) : options_(std::move(options)) {}

  // Roofline: max(ops / rate for the node's dtype, bytes / bandwidth).
  Estimate NodeSeconds(const hal::DeviceInfo& device, const ir::Node& node,
                       const NodeWork& work) const;
  // One value of `bytes` produced on `from` and read on `to`.
  Estimate CopySeconds(const hal::DeviceInfo& from, const hal::DeviceInfo& to, double bytes) const;
  // Starting one segment on `device`. No DeviceInfo field declares it, so it is always the
  // assumed default.
  Estimate LaunchSeconds(const hal::DeviceInfo& device) const;

  const CostModelOptions& options() const { return options_; }

 private:
  double Bandwidth(const hal::DeviceInfo& device, Estimate& estimate) const;
  CostModelOptions options_;
};

// Bytes of one value from its static shape (or its initializer); nullopt when unknown.
std::optional<double> ValueBytes(const ir::Graph& graph, const std::string& value);

}  // namespace unihal::planner
