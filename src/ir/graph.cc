#include "unihal/ir/graph.h"

#include <map>
#include <set>
#include <sstream>

namespace unihal::ir {
namespace {

template <typename T>
Result<T> GetTyped(const Node& node, const std::string& key, std::optional<T> fallback,
                   std::string_view expected) {
  auto it = node.attributes.find(key);
  if (it == node.attributes.end()) {
    if (fallback) return *std::move(fallback);
    return InvalidArgumentError(node.Describe() + ": required attribute '" + key +
                                "' is missing");
  }
  if (const T* value = it->second.get<T>()) return *value;
  return InvalidArgumentError(node.Describe() + ": attribute '" + key + "' should be " +
                              std::string(expected) + " but is " + it->second.TypeName());
}

}  // namespace

std::string SymbolicShapeToString(const SymbolicShape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out << ", ";
    if (shape[i].is_static()) {
      out << shape[i].value;
    } else {
      out << (shape[i].symbol.empty() ? "?" : shape[i].symbol);
    }
  }
  out << ']';
  return out.str();
}

std::optional<Shape> ValueInfo::StaticShape() const {
  if (!shape) return std::nullopt;
  Shape out;
  for (const Dim& d : *shape) {
    if (!d.is_static()) return std::nullopt;
    out.push_back(d.value);
  }
  return out;
}

std::string_view TypeKindName(TypeKind kind) {
  switch (kind) {
    case TypeKind::kTensor:
      return "tensor";
    case TypeKind::kSequence:
      return "sequence";
    case TypeKind::kOptionalTensor:
      return "optional(tensor)";
    case TypeKind::kOptionalSequence:
      return "optional(sequence)";
  }
  return "unknown";
}

std::string ValueInfo::Describe() const {
  std::string type = std::string(DTypeName(dtype)) +
                     (shape ? SymbolicShapeToString(*shape) : std::string("[unknown rank]"));
  if (IsSequenceType(kind)) type = "sequence(" + type + ")";
  if (IsOptionalType(kind)) type = "optional(" + type + ")";
  return name + ": " + type;
}

std::string Attribute::TypeName() const {
  switch (value_.index()) {
    case 0: return "int";
    case 1: return "float";
    case 2: return "string";
    case 3: return "tensor";
    case 4: return "graph";
    case 5: return "ints";
    case 6: return "floats";
    case 7: return "strings";
    case 8: return "tensors";
    case 9: return "type";
  }
  return "unknown";
}

Result<int64_t> Node::GetInt(const std::string& key, std::optional<int64_t> fallback) const {
  return GetTyped<int64_t>(*this, key, fallback, "an int");
}

Result<float> Node::GetFloat(const std::string& key, std::optional<float> fallback) const {
  // ONNX writers sometimes store float attributes as ints (alpha=1): accept both.
  auto it = attributes.find(key);
  if (it != attributes.end()) {
    if (const int64_t* i = it->second.get<int64_t>()) return static_cast<float>(*i);
  }
  return GetTyped<float>(*this, key, fallback, "a float");
}

Result<std::string> Node::GetString(const std::string& key,
                                    std::optional<std::string> fallback) const {
  return GetTyped<std::string>(*this, key, std::move(fallback), "a string");
}

Result<std::vector<int64_t>> Node::GetInts(const std::string& key,
                                           std::optional<std::vector<int64_t>> fallback) const {
  return GetTyped<std::vector<int64_t>>(*this, key, std::move(fallback), "a list of ints");
}

Result<std::vector<float>> Node::GetFloats(const std::string& key,
                                           std::optional<std::vector<float>> fallback) const {
  return GetTyped<std::vector<float>>(*this, key, std::move(fallback), "a list of floats");
}

Result<Tensor> Node::GetTensor(const std::string& key) const {
  return GetTyped<Tensor>(*this, key, std::nullopt, "a tensor");
}

size_t Node::num_present_inputs() const {
  size_t n = inputs.size();
  while (n > 0 && inputs[n - 1].empty()) --n;
  return n;
}

std::string Node::Describe() const { return "node '" + name + "' (" + op_type + ")"; }

const ValueInfo* Graph::FindValueInfo(const std::string& value_name) const {
  for (const auto& v : inputs) {
    if (v.name == value_name) return &v;
  }
  for (const auto& v : outputs) {
    if (v.name == value_name) return &v;
  }
  auto it = value_info.find(value_name);
  return it == value_info.end() ? nullptr : &it->second;
}

const Tensor* Graph::FindInitializer(const std::string& value_name) const {
  auto it = initializers.find(value_name);
  return it == initializers.end() ? nullptr : &it->second;
}

Status TopologicalSort(Graph& graph) {
  // Kahn's algorithm, stable: among ready nodes the original order is kept.
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const auto& out : graph.nodes[i].outputs) {
      if (out.empty()) continue;
      if (!producer.emplace(out, i).second) {
        return InvalidArgumentError(graph.nodes[i].Describe() + ": output '" + out +
                                    "' is also produced by " +
                                    graph.nodes[producer[out]].Describe() +
                                    "; every value must have one producer");
      }
    }
  }
  std::set<std::string> available;
  for (const auto& in : graph.inputs) available.insert(in.name);
  for (const auto& [name, tensor] : graph.initializers) available.insert(name);

  std::vector<size_t> pending_count(graph.nodes.size(), 0);
  std::vector<std::vector<size_t>> consumers(graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    std::set<size_t> deps;
    for (const auto& in : graph.nodes[i].inputs) {
      if (in.empty() || available.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end()) {
        return InvalidArgumentError(graph.nodes[i].Describe() + " reads '" + in +
                                    "', which is not a graph input, an initializer or any "
                                    "node's output; fix the model so every input is defined");
      }
      deps.insert(it->second);
    }
    pending_count[i] = deps.size();
    for (size_t d : deps) consumers[d].push_back(i);
  }
  std::set<size_t> ready;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (pending_count[i] == 0) ready.insert(i);
  }
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (size_t c : consumers[i]) {
      if (--pending_count[c] == 0) ready.insert(c);
    }
  }
  if (order.size() != graph.nodes.size()) {
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      if (pending_count[i] != 0) {
        return InvalidArgumentError("the graph has a cycle through " + graph.nodes[i].Describe() +
                                    "; ONNX graphs must be acyclic");
      }
    }
  }
  std::vector<Node> sorted;
  sorted.reserve(order.size());
  for (size_t i : order) sorted.push_back(std::move(graph.nodes[i]));
  graph.nodes = std::move(sorted);
  return Status::Ok();
}

}  // namespace unihal::ir
