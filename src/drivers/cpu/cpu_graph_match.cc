#include "drivers/cpu/cpu_graph_match.h"

#include <memory>
#include <utility>

namespace unihal::cpu {

bool HasSubgraphs(const ir::Graph& graph) {
  for (const ir::Node& node : graph.nodes) {
    for (const auto& [key, attr] : node.attributes) {
      if (attr.get<std::shared_ptr<const ir::Graph>>()) return true;
    }
  }
  return false;
}

ReaderMap Readers(const ir::Graph& graph) {
  ReaderMap readers;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    for (const std::string& in : graph.nodes[n].inputs) {
      if (!in.empty()) readers[in].push_back(static_cast<int>(n));
    }
  }
  for (const ir::ValueInfo& out : graph.outputs) readers[out.name].push_back(-1);
  return readers;
}

int SoleReader(const ReaderMap& readers, const std::string& value) {
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

bool MayBeSameShape(const ir::Graph& graph, const std::string& a, const std::string& b) {
  const ir::ValueInfo* va = graph.FindValueInfo(a);
  const ir::ValueInfo* vb = graph.FindValueInfo(b);
  if (!va || !vb || !va->shape || !vb->shape) return true;
  if (va->shape->size() != vb->shape->size()) return false;
  for (size_t i = 0; i < va->shape->size(); ++i) {
    const ir::Dim& da = (*va->shape)[i];
    const ir::Dim& db = (*vb->shape)[i];
    if (da.is_static() && db.is_static() && da.value != db.value) return false;
  }
  return true;
}

void ApplyReplacements(ir::Graph& graph, const std::vector<bool>& absorbed,
                       std::map<size_t, ir::Node> replacements) {
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
}

}  // namespace unihal::cpu
