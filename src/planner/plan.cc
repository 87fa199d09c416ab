#include "planner/plan.h"

#include <fmt/format.h>

#include <algorithm>

namespace unihal::planner {
namespace {

using nlohmann::ordered_json;

// "12.3 us", "4.56 ms"; a '*' marks a figure that rests on an assumed default.
std::string FormatEstimate(const Estimate& e) {
  std::string text = e.seconds >= 1e-3 ? fmt::format("{:.3f} ms", e.seconds * 1e3)
                                       : fmt::format("{:.2f} us", e.seconds * 1e6);
  return e.assumed() ? text + "*" : text;
}

std::string Join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::vector<std::string> Names(const std::vector<ir::ValueInfo>& values) {
  std::vector<std::string> names;
  for (const ir::ValueInfo& v : values) names.push_back(v.name);
  return names;
}

ordered_json EstimateJson(const Estimate& e) {
  return {{"estimated_s", e.seconds},
          {"assumed", e.assumed()},
          {"assumptions", std::vector<std::string>(e.assumptions.begin(), e.assumptions.end())}};
}

}  // namespace

std::string_view FallbackPolicyName(FallbackPolicy policy) {
  switch (policy) {
    case FallbackPolicy::kAllow:
      return "allow";
    case FallbackPolicy::kWarn:
      return "warn";
    case FallbackPolicy::kForbid:
      return "forbid";
  }
  return "allow";
}

std::optional<FallbackPolicy> ParseFallbackPolicy(std::string_view name) {
  if (name == "allow") return FallbackPolicy::kAllow;
  if (name == "warn") return FallbackPolicy::kWarn;
  if (name == "forbid") return FallbackPolicy::kForbid;
  return std::nullopt;
}

size_t Plan::fallback_count() const {
  return static_cast<size_t>(
      std::count_if(nodes.begin(), nodes.end(), [](const NodePlacement& n) { return n.fallback; }));
}

std::string Plan::ToText() const {
  std::string out = fmt::format(
      "plan: {} node(s) in {} segment(s) on {} ({}, fallback {})\n", nodes.size(), segments.size(),
      Join(preference), pinned ? "pinned" : "preference order", FallbackPolicyName(fallback));
  out += fmt::format(
      "estimated latency (modelled, not measured): {}  ({} copy edge(s), {} "
      "fallback node(s))\n",
      FormatEstimate(total), copies.size(), fallback_count());
  size_t name_width = 4, op_width = 2, device_width = 6;
  for (const NodePlacement& n : nodes) {
    name_width = std::max(name_width, n.node.size());
    op_width = std::max(op_width, n.op_type.size());
    device_width = std::max(device_width, n.device.size());
  }
  out += fmt::format("nodes:\n  {:<{}}  {:<{}}  {:<{}}  {:>11}  reason\n", "node", name_width, "op",
                     op_width, "device", device_width, "estimate");
  for (const NodePlacement& n : nodes) {
    out += fmt::format("  {:<{}}  {:<{}}  {:<{}}  {:>11}  {}\n", n.node, name_width, n.op_type,
                       op_width, n.device, device_width, FormatEstimate(n.cost), n.reason);
  }
  out += "segments:\n";
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& s = segments[i];
    out += fmt::format("  [{}] {}: {} node(s), in: {}; out: {}; {}\n", i, s.device->info().id,
                       s.node_names.size(), Join(Names(s.graph.inputs)),
                       Join(Names(s.graph.outputs)), FormatEstimate(s.cost));
  }
  out += copies.empty() ? "copies: none\n" : "copies:\n";
  for (const CopyEdge& c : copies) {
    const std::string bytes = c.bytes ? fmt::format("{:.0f} bytes", *c.bytes) : "bytes unknown";
    out += fmt::format("  {}: {} [{}] → {} [{}], {}, {}\n", c.value, c.from_device, c.from_segment,
                       c.to_device, c.to_segment, bytes, FormatEstimate(c.cost));
  }
  if (total.assumed()) {
    out += "* estimate rests on assumed defaults, not measurements: " +
           Join(std::vector<std::string>(total.assumptions.begin(), total.assumptions.end())) +
           "\n";
  }
  return out;
}

ordered_json Plan::ToJson() const {
  ordered_json report = {{"preference", preference},
                         {"fallback", FallbackPolicyName(fallback)},
                         {"pinned", pinned},
                         {"estimate", EstimateJson(total)},
                         {"fallback_nodes", fallback_count()}};
  ordered_json node_list = ordered_json::array();
  for (const NodePlacement& n : nodes) {
    node_list.push_back({{"node", n.node},
                         {"op_type", n.op_type},
                         {"device", n.device},
                         {"reason", n.reason},
                         {"fallback", n.fallback},
                         {"segment", n.segment},
                         {"estimate", EstimateJson(n.cost)}});
  }
  ordered_json segment_list = ordered_json::array();
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& s = segments[i];
    segment_list.push_back({{"index", i},
                            {"device", s.device->info().id},
                            {"nodes", s.node_names},
                            {"inputs", Names(s.graph.inputs)},
                            {"outputs", Names(s.graph.outputs)},
                            {"estimate", EstimateJson(s.cost)}});
  }
  ordered_json copy_list = ordered_json::array();
  for (const CopyEdge& c : copies) {
    copy_list.push_back({{"value", c.value},
                         {"from_device", c.from_device},
                         {"to_device", c.to_device},
                         {"from_segment", c.from_segment},
                         {"to_segment", c.to_segment},
                         {"bytes", c.bytes ? ordered_json(*c.bytes) : ordered_json(nullptr)},
                         {"estimate", EstimateJson(c.cost)}});
  }
  report["nodes"] = std::move(node_list);
  report["segments"] = std::move(segment_list);
  report["copies"] = std::move(copy_list);
  return report;
}

}  // namespace unihal::planner
