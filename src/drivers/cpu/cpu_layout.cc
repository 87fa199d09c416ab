#include "drivers/cpu/cpu_layout.h"

#include <map>
#include <set>
#include <vector>

namespace unihal::cpu {
namespace {

bool IsConvLike(const ir::Node& node) {
  return node.outputs.size() == 1 &&
         ((node.op_type == "Conv" && node.domain.empty()) ||
          (node.op_type == kFusedConvOp && node.domain == kCpuFusionDomain));
}

ir::Node AsFused(ir::Node node) {
  node.op_type = kFusedConvOp;
  node.domain = kCpuFusionDomain;
  return node;
}

bool BlockableShape(const ir::Graph& graph, const std::string& value) {
  const ir::ValueInfo* info = graph.FindValueInfo(value);
  if (!info || info->dtype != DType::kF32 || !info->shape || info->shape->size() != 4) {
    return false;
  }
  const ir::Dim& channels = (*info->shape)[1];
  return channels.is_static() && channels.value > 0 && channels.value % kBlockedChannels == 0;
}

// Whether every reader of `value` is a conv reading it as X (input 0) or as the sum (input 3).
bool OnlyConvsRead(const ir::Graph& graph, const std::string& value) {
  for (const ir::ValueInfo& out : graph.outputs) {
    if (out.name == value) return false;
  }
  bool any = false;
  for (const ir::Node& node : graph.nodes) {
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i] != value) continue;
      if (!IsConvLike(node) || (i != 0 && i != 3)) return false;
      any = true;
    }
    for (const auto& [key, attr] : node.attributes) {
      if (attr.get<std::shared_ptr<const ir::Graph>>()) return false;  // may capture it
    }
  }
  return any;
}

// Grouped (not depthwise) convolutions get only oneDNN 2.6's reference implementation in a
// fixed nChw8c layout (ShuffleNet's group-3 convs took 150 ms each), so they keep plain layouts.
bool FastInBlockedLayout(const ir::Node& node, const ir::Graph& graph) {
  Result<int64_t> group = node.GetInt("group", 1);
  if (!group.ok()) return false;
  if (*group == 1) return true;
  const Tensor* w = node.inputs.size() > 1 ? graph.FindInitializer(node.inputs[1]) : nullptr;
  return w != nullptr && w->rank() >= 2 && w->dim(1) == 1 && w->dim(0) == *group;  // depthwise
}

}  // namespace

Status KeepConvActivationsBlocked(ir::Graph& graph, const FusionCheck& can_run) {
  std::set<std::string> blocked;
  for (const ir::Node& node : graph.nodes) {
    if (!IsConvLike(node)) continue;
    const std::string& y = node.outputs[0];
    if (BlockableShape(graph, y) && OnlyConvsRead(graph, y)) blocked.insert(y);
  }
  if (blocked.empty()) return Status::Ok();
  // Every node touching a blocked value must accept its FusedConv form; drop values where one
  // does not, until stable.
  for (bool changed = true; changed;) {
    changed = false;
    for (const ir::Node& node : graph.nodes) {
      if (!IsConvLike(node)) continue;
      bool touches = blocked.count(node.outputs[0]) > 0;
      for (const std::string& in : node.inputs) touches = touches || blocked.count(in) > 0;
      if (!touches || (FastInBlockedLayout(node, graph) && can_run(AsFused(node), graph))) {
        continue;
      }
      for (const std::string& in : node.inputs) changed = blocked.erase(in) > 0 || changed;
      changed = blocked.erase(node.outputs[0]) > 0 || changed;
    }
  }
  for (ir::Node& node : graph.nodes) {
    if (!IsConvLike(node)) continue;
    const bool x = !node.inputs.empty() && blocked.count(node.inputs[0]);
    const bool sum = node.inputs.size() > 3 && blocked.count(node.inputs[3]);
    const bool y = blocked.count(node.outputs[0]) > 0;
    if (!x && !sum && !y) continue;
    node = AsFused(std::move(node));
    if (x) node.attributes[kXLayoutAttr] = ir::Attribute(kBlockedChannels);
    if (sum) node.attributes[kSumLayoutAttr] = ir::Attribute(kBlockedChannels);
    if (y) node.attributes[kYLayoutAttr] = ir::Attribute(kBlockedChannels);
  }
  return Status::Ok();
}

}  // namespace unihal::cpu
