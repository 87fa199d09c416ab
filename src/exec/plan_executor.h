// Runs a multi-segment plan (R4.3): each segment compiled on its device, launched in order on
// one stream per device, a consumer's stream waiting on the event recorded after its producer,
// and a boundary value copied only when the two devices' memories differ (cpu and sim-npu share
// host memory, so their copy edges move no bytes). The same public surface as GraphExecutor.
// Single-segment plans should use GraphExecutor directly: it has nothing to hand between
// segments.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "planner/plan.h"
#include "unihal/hal/device.h"
#include "unihal/tensor.h"

namespace unihal::exec {

class PlanExecutor {
 public:
  // `graph` is the graph the plan was made from (its inputs and outputs).
  static Result<std::unique_ptr<PlanExecutor>> Create(const planner::Plan& plan,
                                                      const ir::Graph& graph);
  // `inputs` by name; outputs in the graph's output order. Thread-safe.
  Result<std::vector<Tensor>> Run(const std::map<std::string, Tensor>& inputs) const;
  // The sum over segments when every segment's device models its latency (all simulated);
  // nullopt otherwise, since part of the run would then be unmodelled.
  std::optional<double> ModeledLatencySeconds() const;
  // Per-node wall times of every segment (hal::Executable::NodeTimes), segment by segment.
  void EnableProfiling() const;
  std::vector<hal::NodeTime> NodeTimes() const;

  struct CompiledSegment {
    std::shared_ptr<hal::Device> device;
    std::shared_ptr<hal::Executable> executable;
    bool host_memory = false;  // the device computes on host memory
  };

 private:
  PlanExecutor() = default;
  // `value` as `segment` reads it; `producer` is the stream of the device that made it (null
  // for caller inputs), which reads a device tensor back.
  Result<Tensor> BindInput(const Tensor& value, hal::Stream* producer,
                           const CompiledSegment& segment, hal::Stream& stream) const;

  std::vector<CompiledSegment> segments_;
  std::vector<std::string> output_names_;
  std::map<std::string, Tensor> constants_;  // initializers, for graph outputs that are weights
};

}  // namespace unihal::exec
