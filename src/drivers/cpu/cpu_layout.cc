#include "drivers/cpu/cpu_layout.h"

#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "drivers/cpu/cpu_graph_match.h"

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

// The blocked-aware (cpu-private) form of a pooling node.
ir::Node AsBlockedPool(ir::Node node, bool x_blocked, bool y_blocked, int64_t block) {
  node.domain = kCpuFusionDomain;
  if (x_blocked) node.attributes[kXLayoutAttr] = ir::Attribute(block);
  if (y_blocked) node.attributes[kYLayoutAttr] = ir::Attribute(block);
  return node;
}

bool BlockableShape(const ir::Graph& graph, const std::string& value, int64_t block) {
  const ir::ValueInfo* info = graph.FindValueInfo(value);
  if (!info || info->dtype != DType::kF32 || !info->shape || info->shape->size() != 4) {
    return false;
  }
  const ir::Dim& channels = (*info->shape)[1];
  return channels.is_static() && channels.value > 0 && channels.value % block == 0;
}

// Grouped (not depthwise) convolutions get only oneDNN 2.6's reference implementation in a
// fixed blocked layout (ShuffleNet's group-3 convs took 150 ms each), so they keep plain layouts.
bool FastInBlockedLayout(const ir::Node& node, const ir::Graph& graph) {
  Result<int64_t> group = node.GetInt("group", 1);
  if (!group.ok()) return false;
  if (*group == 1) return true;
  const Tensor* w = node.inputs.size() > 1 ? graph.FindInitializer(node.inputs[1]) : nullptr;
  return w != nullptr && w->rank() >= 2 && w->dim(1) == 1 && w->dim(0) == *group;  // depthwise
}

bool IsPool(const ir::Node& node) {
  if (!node.domain.empty() || node.outputs.empty() || node.inputs.size() != 1) return false;
  if (node.outputs.size() > 1 && !node.outputs[1].empty()) return false;  // MaxPool Indices
  return node.op_type == "MaxPool" || node.op_type == "AveragePool" ||
         node.op_type == "GlobalAveragePool";
}

// Nodes whose X and Y share one layout and that have a blocked-aware cpu-private form.
bool IsBlockableTied(const ir::Node& node) {
  if (node.inputs.empty() || node.outputs.size() != 1) return false;
  if (node.domain != "" && node.domain != kCpuFusionDomain) return false;
  return node.op_type == "BatchNormalization" || node.op_type == "LRN";
}

ir::Node AsBlockedTied(ir::Node node, int64_t block) {
  node.domain = kCpuFusionDomain;
  node.attributes[kXLayoutAttr] = ir::Attribute(block);
  node.attributes[kYLayoutAttr] = ir::Attribute(block);
  return node;
}

bool IsTransparentUnary(const ir::Node& node) {
  static const std::set<std::string> kOps = {
      "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu",      "Selu", "HardSigmoid", "HardSwish", "Abs",
      "Neg",  "Exp",       "Sqrt",    "Erf",  "Softplus", "Clip", "Identity",    "Dropout"};
  if (!node.domain.empty() || node.inputs.empty() || node.outputs.empty() ||
      !kOps.count(node.op_type)) {
    return false;
  }
  // Dropout without a training_mode input is the identity and its mask all true, so the mask's
  // element order does not matter either.
  if (node.op_type == "Dropout") return node.inputs.size() < 3 || node.inputs[2].empty();
  return node.outputs.size() == 1;
}

bool IsTransparentBinary(const ir::Node& node, const ir::Graph& graph) {
  static const std::set<std::string> kOps = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum"};
  if (!node.domain.empty() || node.outputs.size() != 1 || node.inputs.empty() ||
      !kOps.count(node.op_type)) {
    return false;
  }
  for (const std::string& in : node.inputs) {
    if (in.empty() || !SameShape(graph, in, node.outputs[0])) return false;  // no broadcast
  }
  return true;
}

bool IsChannelConcat(const ir::Node& node) {
  if (node.op_type != "Concat" || !node.domain.empty() || node.outputs.size() != 1) return false;
  Result<int64_t> axis = node.GetInt("axis", 0);
  return axis.ok() && (*axis == 1 || *axis == -3);  // rank 4 is checked on every value
}

// The tensor operands of a node whose values must all share one layout (empty when the node
// is no layout-tied node): the layout-transparent ops.
std::vector<std::string> TiedValues(const ir::Node& node, const ir::Graph& graph) {
  std::vector<std::string> values;
  if (IsTransparentUnary(node) || IsBlockableTied(node)) {
    values = {node.inputs[0], node.outputs[0]};
  } else if (IsTransparentBinary(node, graph) || IsChannelConcat(node)) {
    values = node.inputs;
    values.push_back(node.outputs[0]);
  }
  return values;
}

// Union-find over value names: the values of one set share a layout.
class LayoutGroups {
 public:
  const std::string& Find(const std::string& v) {
    auto it = parent_.find(v);
    if (it == parent_.end() || it->second == v) return parent_.emplace(v, v).first->first;
    const std::string root = Find(it->second);
    it->second = root;
    return parent_.find(root)->first;
  }
  void Join(const std::string& a, const std::string& b) {
    const std::string ra = Find(a);
    const std::string rb = Find(b);
    if (ra != rb) parent_[ra] = rb;
  }

 private:
  std::map<std::string, std::string> parent_;
};

// Values each node accepts blocked (by input position for inputs).
struct NodeAcceptance {
  std::set<size_t> inputs;
  bool output = false;
};

NodeAcceptance Accepts(const ir::Node& node, const ir::Graph& graph, const FusionCheck& can_run,
                       int64_t block) {
  NodeAcceptance accepts;
  if (IsConvLike(node)) {
    if (!FastInBlockedLayout(node, graph) || !can_run(AsFused(node), graph)) return accepts;
    accepts.inputs = {0, 3};
    accepts.output = true;
  } else if (IsPool(node)) {
    if (!can_run(AsBlockedPool(node, true, true, block), graph)) return accepts;
    accepts.inputs = {0};
    accepts.output = true;
  } else if (IsBlockableTied(node)) {
    if (!can_run(AsBlockedTied(node, block), graph)) return accepts;
    accepts.inputs = {0};
    accepts.output = true;
  } else if (!TiedValues(node, graph).empty()) {
    for (size_t i = 0; i < node.inputs.size(); ++i) accepts.inputs.insert(i);
    if (IsTransparentUnary(node)) accepts.inputs = {0};
    accepts.output = true;
  }
  return accepts;
}

// The values that can be blocked on their own: blockable shape, produced by a node that can
// write them blocked, read only by nodes that can read them blocked, not a graph output.
std::set<std::string> LocallyBlockable(const ir::Graph& graph, const FusionCheck& can_run,
                                       int64_t block) {
  std::set<std::string> ok;
  std::set<std::string> refused;
  for (const ir::ValueInfo& out : graph.outputs) refused.insert(out.name);
  for (const ir::Node& node : graph.nodes) {
    const NodeAcceptance accepts = Accepts(node, graph, can_run, block);
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i].empty()) continue;
      if (i == 0 && accepts.output && BlockableShape(graph, node.outputs[i], block)) {
        ok.insert(node.outputs[i]);
      } else {
        refused.insert(node.outputs[i]);
      }
    }
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (!accepts.inputs.count(i)) refused.insert(node.inputs[i]);
    }
  }
  for (const std::string& v : refused) ok.erase(v);
  return ok;
}

}  // namespace

Status KeepConvActivationsBlocked(ir::Graph& graph, const FusionCheck& can_run, int64_t block) {
  if (HasSubgraphs(graph)) return Status::Ok();
  const std::set<std::string> local = LocallyBlockable(graph, can_run, block);
  if (local.empty()) return Status::Ok();
  // A tied set is blocked only when each of its values can be.
  LayoutGroups groups;
  for (const ir::Node& node : graph.nodes) {
    const std::vector<std::string> tied = TiedValues(node, graph);
    for (size_t i = 1; i < tied.size(); ++i) groups.Join(tied[0], tied[i]);
  }
  std::set<std::string> refused_groups;
  for (const ir::Node& node : graph.nodes) {
    for (const std::string& v : TiedValues(node, graph)) {
      if (!local.count(v)) refused_groups.insert(groups.Find(v));
    }
  }
  std::set<std::string> blocked;
  for (const std::string& v : local) {
    if (!refused_groups.count(groups.Find(v))) blocked.insert(v);
  }
  for (ir::Node& node : graph.nodes) {
    if (IsPool(node)) {
      const bool x = blocked.count(node.inputs[0]) > 0;
      const bool y = blocked.count(node.outputs[0]) > 0;
      if (x || y) node = AsBlockedPool(std::move(node), x, y, block);
      continue;
    }
    if (IsBlockableTied(node) && blocked.count(node.outputs[0])) {
      node = AsBlockedTied(std::move(node), block);
      continue;
    }
    if (!IsConvLike(node)) continue;
    const bool x = !node.inputs.empty() && blocked.count(node.inputs[0]);
    const bool sum = node.inputs.size() > 3 && blocked.count(node.inputs[3]);
    const bool y = blocked.count(node.outputs[0]) > 0;
    if (!x && !sum && !y) continue;
    node = AsFused(std::move(node));
    if (x) node.attributes[kXLayoutAttr] = ir::Attribute(block);
    if (sum) node.attributes[kSumLayoutAttr] = ir::Attribute(block);
    if (y) node.attributes[kYLayoutAttr] = ir::Attribute(block);
  }
  return Status::Ok();
}

}  // namespace unihal::cpu
