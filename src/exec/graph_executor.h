// Runs a compiled graph on one device: binds inputs in the executable's order, launches it
// on a stream and waits. (Multi-device plans with copies between segments come later.)
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "unihal/hal/device.h"
#include "unihal/tensor.h"
#include "unihal/value.h"

namespace unihal::exec {

class GraphExecutor {
 public:
  static Result<std::unique_ptr<GraphExecutor>> Create(std::shared_ptr<hal::Device> device,
                                                       const ir::Graph& graph);
  // `inputs` by name; outputs in the graph's output order. Thread-safe.
  Result<std::vector<Tensor>> Run(const std::map<std::string, Tensor>& inputs) const;
  // The same for values of any kind (sequences and optionals; unihal/value.h).
  Result<std::vector<Value>> RunValues(const std::map<std::string, Value>& inputs) const;
  const hal::Device& device() const { return *device_; }
  // Simulated devices: the modelled latency of one run (hal::Executable::ModeledLatencySeconds).
  std::optional<double> ModeledLatencySeconds() const {
    return executable_->ModeledLatencySeconds();
  }

  // SessionOptions::profile: per-node wall times from now on (hal::Executable::NodeTimes).
  void EnableProfiling() const { executable_->EnableProfiling(); }
  std::vector<hal::NodeTime> NodeTimes() const;

  GraphExecutor(std::shared_ptr<hal::Device> device, std::shared_ptr<hal::Executable> exe)
      : device_(std::move(device)), executable_(std::move(exe)) {}

 private:
  std::shared_ptr<hal::Device> device_;
  std::shared_ptr<hal::Executable> executable_;
};

// Fails naming every node `device` cannot run (at most 10), with the reasons.
Status CheckDeviceSupportsGraph(const hal::Device& device, const ir::Graph& graph);

}  // namespace unihal::exec
