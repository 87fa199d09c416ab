#include "drivers/cpu/cpu_fusion.h"

#include <limits>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace unihal::cpu {
namespace {

bool HasSubgraphs(const ir::Graph& graph) {
  for (const ir::Node& node : graph.nodes) {
    for (const auto& [key, attr] : node.attributes) {
      if (attr.get<std::shared_ptr<const ir::Graph>>()) return true;
    }
  }
  return false;
}

// Which nodes read each value; graph outputs count as a reader (index -1).
std::map<std::string, std::vector<int>> Readers(const ir::Graph& graph) {
  std::map<std::string, std::vector<int>> readers;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    for (const std::string& in : graph.nodes[n].inputs) {
      if (!in.empty()) readers[in].push_back(static_cast<int>(n));
    }
  }
  for (const ir::ValueInfo& out : graph.outputs) readers[out.name].push_back(-1);
  return readers;
}

// The single node reading `value`, or -1.
int SoleReader(const std::map<std::string, std::vector<int>>& readers, const std::string& value) {
  auto it = readers.find(value);
  if (it == readers.end() || it->second.size() != 1) return -1;
  return it->second[0];
}

bool IsOnnx(const ir::Node& node, const char* op) {
  return node.op_type == op && node.domain.empty() && node.outputs.size() == 1;
}

std::optional<float> ScalarConstant(const ir::Graph& graph, const ir::Node& node, size_t i) {
  if (!node.has_input(i)) return std::nullopt;
  const Tensor* t = graph.FindInitializer(node.inputs[i]);
  if (!t || t->dtype() != DType::kF32 || t->num_elements() != 1) return std::nullopt;
  return t->data_as<float>()[0];
}

// Sets the activation attributes of `fused` from `node`; false when it is no fusable activation.
bool TakeActivation(const ir::Graph& graph, const ir::Node& node, ir::Node& fused) {
  float alpha = 0.f;
  float beta = 0.f;
  if (IsOnnx(node, "Relu") || IsOnnx(node, "Sigmoid") || IsOnnx(node, "Tanh")) {
    if (node.inputs.size() != 1) return false;
  } else if (IsOnnx(node, "LeakyRelu")) {
    Result<float> a = node.GetFloat("alpha", 0.01f);
    if (!a.ok()) return false;
    alpha = *a;
  } else if (IsOnnx(node, "Clip")) {
    float lo = std::numeric_limits<float>::lowest();
    float hi = std::numeric_limits<float>::max();
    if (node.opset < 11) {
      Result<float> min = node.GetFloat("min", lo);
      Result<float> max = node.GetFloat("max", hi);
      if (!min.ok() || !max.ok()) return false;
      lo = *min;
      hi = *max;
    } else {
      for (size_t i = 1; i < 3; ++i) {
        if (!node.has_input(i)) continue;
        std::optional<float> bound = ScalarConstant(graph, node, i);
        if (!bound) return false;
        (i == 1 ? lo : hi) = *bound;
      }
    }
    alpha = lo;
    beta = hi;
  } else {
    return false;
  }
  fused.attributes["activation"] = ir::Attribute(node.op_type);
  fused.attributes["activation_alpha"] = ir::Attribute(alpha);
  fused.attributes["activation_beta"] = ir::Attribute(beta);
  return true;
}

// Whether two float32 values surely have the same shape: equal known dims, or the same symbol.
bool SameShape(const ir::Graph& graph, const std::string& a, const std::string& b) {
  const ir::ValueInfo* va = graph.FindValueInfo(a);
  const ir::ValueInfo* vb = graph.FindValueInfo(b);
  if (!va || !vb || va->dtype != DType::kF32 || vb->dtype != DType::kF32) return false;
  if (!va->shape || !vb->shape || va->shape->size() != vb->shape->size()) return false;
  for (size_t i = 0; i < va->shape->size(); ++i) {
    const ir::Dim& da = (*va->shape)[i];
    const ir::Dim& db = (*vb->shape)[i];
    if (!da.is_static() && da.symbol.empty()) return false;  // anonymous: cannot tell
    if (!(da == db)) return false;
  }
  return true;
}

}  // namespace

Status FuseConvPostOps(ir::Graph& graph, const FusionCheck& can_run) {
  // Values a subgraph captures from here are not counted: leave such graphs as they are.
  if (HasSubgraphs(graph)) return Status::Ok();
  const std::map<std::string, std::vector<int>> readers = Readers(graph);
  std::vector<bool> absorbed(graph.nodes.size(), false);
  std::map<size_t, ir::Node> replacements;  // by the position of the chain's last node
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const ir::Node& conv = graph.nodes[n];
    if (!IsOnnx(conv, "Conv") || absorbed[n]) continue;
    ir::Node fused = conv;
    fused.op_type = kFusedConvOp;
    fused.domain = kCpuFusionDomain;
    fused.inputs.resize(4);
    std::vector<size_t> chain{n};
    std::string value = conv.outputs[0];
    int next = SoleReader(readers, value);
    if (next >= 0 && !absorbed[next] && IsOnnx(graph.nodes[next], "Add") &&
        graph.nodes[next].inputs.size() == 2) {
      const ir::Node& add = graph.nodes[next];
      const std::string& other = add.inputs[0] == value ? add.inputs[1] : add.inputs[0];
      if (other != value && SameShape(graph, value, other) &&
          SameShape(graph, value, add.outputs[0])) {
        fused.inputs[3] = other;
        chain.push_back(static_cast<size_t>(next));
        value = add.outputs[0];
        next = SoleReader(readers, value);
      }
    }
    if (next >= 0 && !absorbed[next] && TakeActivation(graph, graph.nodes[next], fused)) {
      chain.push_back(static_cast<size_t>(next));
      value = graph.nodes[next].outputs[0];
    }
    if (chain.size() == 1) continue;
    fused.outputs = {value};
    while (!fused.inputs.empty() && fused.inputs.back().empty()) fused.inputs.pop_back();
    if (!can_run(fused, graph)) continue;
    for (size_t i : chain) absorbed[i] = true;
    replacements.emplace(chain.back(), std::move(fused));
  }
  std::vector<ir::Node> nodes;
  nodes.reserve(graph.nodes.size());
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    auto it = replacements.find(n);
    if (it != replacements.end()) {
      nodes.push_back(std::move(it->second));
    } else if (!absorbed[n]) {
      nodes.push_back(std::move(graph.nodes[n]));
    }
  }
  graph.nodes = std::move(nodes);
  return Status::Ok();
}

}  // namespace unihal::cpu
