// The partitioner (R4.1): each device of a preference list claims the nodes it supports
// (hal::Device::Supports); every node starts on the first device that claims it; then the cost
// model moves whole segments to a neighbouring segment's device while that lowers the estimated
// latency, which refuses the tiny islands that cost more in copies and launches than they save.
// Segments are runs of consecutive nodes (graph order) on one device.
#pragma once

#include <memory>
#include <vector>

#include "planner/cost_model.h"
#include "planner/plan.h"
#include "unihal/hal/device.h"
#include "unihal/ir/graph.h"
#include "unihal/session.h"

namespace unihal::planner {

struct PartitionOptions {
  // Most preferred first; duplicates are ignored. Must not be empty.
  std::vector<std::shared_ptr<hal::Device>> devices;
  FallbackPolicy fallback = FallbackPolicy::kAllow;
  // One device asked for by itself (SessionOptions::device without a list): every node must run
  // on it, as under kForbid, and the error names every node it cannot run.
  bool pinned = false;
  CostModelOptions cost;
};

// Fails (kUnimplemented) naming the nodes when: a pinned device or, under kForbid, the first
// device cannot run some node; or no device of the list can run some node. Under kWarn, prints
// one line per fallback node to stderr.
Result<Plan> Partition(const ir::Graph& graph, const PartitionOptions& options);

}  // namespace unihal::planner
