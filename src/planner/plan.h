// A placement plan (R4.1/R4.2): which device runs each node and why, the segments (runs of
// consecutive nodes on one device, each a subgraph to compile), the values copied between
// devices, and the estimated cost. ToText/ToJson are the placement report.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "planner/cost_model.h"
#include "unihal/hal/device.h"
#include "unihal/ir/graph.h"
#include "unihal/session.h"

namespace unihal::planner {

struct NodePlacement {
  std::string node;  // node name
  std::string op_type;
  std::string device;  // device id
  // Why it runs there, e.g. "sim-npu:0: float32 not supported → cpu:0".
  std::string reason;
  bool fallback = false;  // not on its first-preference device
  size_t segment = 0;     // index into Plan::segments
  Estimate cost;          // on `device`
};

// One value produced on one device and read on another. cpu and sim-npu share host memory,
// so such a copy moves no bytes at run time, but it is an edge of the plan all the same.
struct CopyEdge {
  std::string value;
  std::string from_device;
  std::string to_device;
  size_t from_segment = 0;
  size_t to_segment = 0;
  std::optional<double> bytes;  // nullopt when the value's shape is not static
  Estimate cost;
};

struct Segment {
  std::shared_ptr<hal::Device> device;
  ir::Graph graph;  // the segment's nodes as a subgraph: boundary values are its inputs/outputs
  std::vector<std::string> node_names;
  Estimate cost;  // launch + its nodes (copies are counted in Plan::copies)
};

struct Plan {
  std::vector<std::string> preference;  // device ids, most preferred first
  FallbackPolicy fallback = FallbackPolicy::kAllow;
  bool pinned = false;               // one device asked for with no preference list: no fallback
  std::vector<NodePlacement> nodes;  // in graph order
  std::vector<Segment> segments;     // in execution order
  std::vector<CopyEdge> copies;
  Estimate total;  // segments + copies, run one after another

  size_t fallback_count() const;
  // Human-readable report: every node with device and reason, segments, copies, cost.
  std::string ToText() const;
  nlohmann::ordered_json ToJson() const;
};

std::string_view FallbackPolicyName(FallbackPolicy policy);  // "allow", "warn", "forbid"
std::optional<FallbackPolicy> ParseFallbackPolicy(std::string_view name);

}  // namespace unihal::planner
