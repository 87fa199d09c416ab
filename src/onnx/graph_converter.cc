#include "onnx/graph_converter.h"

#include "ir/passes.h"
#include "onnx/attributes.h"
#include "onnx/detached_raw_data.h"
#include "onnx/graph_validation.h"
#include "onnx/tensor_proto.h"
#include "onnx/value_types.h"

namespace unihal::onnx_import {
namespace {

// Deeper nesting than this is a hostile model, not a real one; stop before the stack does.
constexpr int kMaxSubgraphDepth = 32;

std::string GraphLabel(const onnx::GraphProto& proto, int depth) {
  if (depth == 0) return "";
  return "subgraph '" + proto.name() + "'";
}

Status CheckMainGraphValue(const onnx::ValueInfoProto& proto, const char* role) {
  Result<ir::ValueInfo> type = ConvertTypeProto(proto.type());  // unset: inferred later
  if (type.ok()) return Status::Ok();
  return Status(type.status().code(),
                std::string(role) + " '" + proto.name() + "' " + type.status().message());
}

// Unique node names: unnamed nodes become "<OpType>_<index>", clashes get a suffix.
std::string UniqueNodeName(const onnx::NodeProto& proto, size_t index,
                           std::set<std::string>& taken) {
  std::string base =
      proto.name().empty() ? proto.op_type() + "_" + std::to_string(index) : proto.name();
  std::string name = base;
  for (int suffix = 1; !taken.insert(name).second; ++suffix) {
    name = base + "_" + std::to_string(suffix);
  }
  return name;
}

Result<int> OpsetOf(const ir::Node& node, const ConversionContext& context) {
  auto it = context.opset_imports.find(node.domain);
  if (it != context.opset_imports.end()) return it->second;
  std::string imported;
  for (const auto& [domain, version] : context.opset_imports) {
    imported += (imported.empty() ? "" : ", ") + (domain.empty() ? "ai.onnx" : domain) + " " +
                std::to_string(version);
  }
  return InvalidArgumentError(
      node.Describe() + " uses domain '" + (node.domain.empty() ? "ai.onnx" : node.domain) +
      "', which the model's opset_import does not list (it imports: " +
      (imported.empty() ? "nothing" : imported) + "); add the domain to opset_import");
}

// Everything a subgraph of this graph may read from outside itself.
std::set<std::string> ScopeForSubgraphs(const onnx::GraphProto& proto,
                                        const std::set<std::string>& outer_scope) {
  std::set<std::string> scope = outer_scope;
  for (const auto& in : proto.input()) scope.insert(in.name());
  for (const auto& init : proto.initializer()) scope.insert(init.name());
  for (const auto& node : proto.node()) {
    for (const auto& out : node.output()) {
      if (!out.empty()) scope.insert(out);
    }
  }
  return scope;
}

Result<ir::Node> ConvertNode(const onnx::NodeProto& proto, std::string name,
                             const ConversionContext& context,
                             const std::set<std::string>& subgraph_scope, int depth) {
  ir::Node node;
  node.name = std::move(name);
  node.op_type = proto.op_type();
  node.domain = proto.domain() == "ai.onnx" ? "" : proto.domain();
  node.inputs.assign(proto.input().begin(), proto.input().end());
  node.outputs.assign(proto.output().begin(), proto.output().end());
  if (node.op_type.empty()) {
    return InvalidArgumentError(node.Describe() + " has no op_type; fix the model");
  }
  UH_ASSIGN_OR_RETURN(node.opset, OpsetOf(node, context));
  SubgraphConverter convert_subgraph =
      [&](const onnx::GraphProto& g) -> Result<std::shared_ptr<const ir::Graph>> {
    UH_ASSIGN_OR_RETURN(ir::Graph graph, ConvertGraph(g, context, subgraph_scope, depth + 1));
    return std::make_shared<const ir::Graph>(std::move(graph));
  };
  for (const auto& attr : proto.attribute()) {
    if (attr.name().empty()) {
      return InvalidArgumentError(node.Describe() + " has an attribute with no name");
    }
    UH_ASSIGN_OR_RETURN(ir::Attribute value,
                        ConvertAttribute(attr, node, context.external_data_dir, convert_subgraph));
    if (!node.attributes.emplace(attr.name(), std::move(value)).second) {
      return InvalidArgumentError(node.Describe() + " has attribute '" + attr.name() + "' twice");
    }
  }
  // The values its subgraphs read from enclosing graphs become trailing inputs (implicit
  // inputs, as in ONNX Runtime): liveness, memory plans and partitions then see them like any
  // other input, and a control-flow kernel finds them in its context.
  for (const std::string& outer : ir::OuterScopeValues(node)) node.inputs.push_back(outer);
  return node;
}

// `detached`: the main graph's cut-out raw_data (null for a subgraph).
Status ConvertInitializers(const onnx::GraphProto& proto, const ConversionContext& context,
                           const std::unordered_map<int, std::string_view>* detached,
                           ir::Graph& graph) {
  if (proto.sparse_initializer_size() > 0) {
    const auto& sparse = proto.sparse_initializer(0);
    return UnimplementedError("initializer '" + sparse.values().name() +
                              "' is sparse, which unihal does not support; store it dense");
  }
  for (int i = 0; i < proto.initializer_size(); ++i) {
    const onnx::TensorProto& init = proto.initializer(i);
    if (init.name().empty()) return InvalidArgumentError("an initializer has no name");
    const std::string_view* raw = nullptr;
    if (detached) {
      auto it = detached->find(i);
      if (it != detached->end()) raw = &it->second;
    }
    Result<Tensor> tensor = TensorFromProto(init, context.external_data_dir, raw);
    if (!tensor.ok()) return tensor.status().WithContext("initializer '" + init.name() + "'");
    if (!graph.initializers.emplace(init.name(), *std::move(tensor)).second) {
      return InvalidArgumentError("initializer '" + init.name() + "' is defined twice");
    }
  }
  return Status::Ok();
}

Status ConvertInterface(const onnx::GraphProto& proto, int depth, ir::Graph& graph) {
  for (const auto& in : proto.input()) {
    // Before IR version 4 every initializer was also listed as an input: those are weights.
    if (graph.initializers.count(in.name())) continue;
    if (depth == 0) UH_RETURN_IF_ERROR(CheckMainGraphValue(in, "graph input"));
    graph.inputs.push_back(ConvertValueInfo(in));
  }
  for (const auto& out : proto.output()) {
    if (out.name().empty()) return InvalidArgumentError("a graph output has no name");
    if (depth == 0) UH_RETURN_IF_ERROR(CheckMainGraphValue(out, "graph output"));
    graph.outputs.push_back(ConvertValueInfo(out));
  }
  for (const auto& info : proto.value_info()) {
    graph.value_info[info.name()] = ConvertValueInfo(info);
  }
  return Status::Ok();
}

}  // namespace

ir::ValueInfo ConvertValueInfo(const onnx::ValueInfoProto& proto) {
  Result<ir::ValueInfo> type = ConvertTypeProto(proto.type());
  ir::ValueInfo info = type.ok() ? *std::move(type) : ir::ValueInfo{};
  info.name = proto.name();
  return info;
}

Result<ir::Graph> ConvertGraph(const onnx::GraphProto& proto, const ConversionContext& context,
                               const std::set<std::string>& outer_scope, int depth) {
  if (depth > kMaxSubgraphDepth) {
    return InvalidArgumentError("subgraphs are nested more than " +
                                std::to_string(kMaxSubgraphDepth) + " deep");
  }
  ir::Graph graph;
  graph.name = proto.name();
  graph.opset_imports = context.opset_imports;
  UH_RETURN_IF_ERROR(ConvertInitializers(proto, context,
                                         depth == 0 ? &context.detached_raw_data : nullptr, graph));
  UH_RETURN_IF_ERROR(ConvertInterface(proto, depth, graph));

  const std::set<std::string> subgraph_scope = ScopeForSubgraphs(proto, outer_scope);
  std::set<std::string> taken_names;
  graph.nodes.reserve(static_cast<size_t>(proto.node_size()));
  for (int i = 0; i < proto.node_size(); ++i) {
    const onnx::NodeProto& node_proto = proto.node(i);
    std::string name = UniqueNodeName(node_proto, static_cast<size_t>(i), taken_names);
    UH_ASSIGN_OR_RETURN(ir::Node node,
                        ConvertNode(node_proto, std::move(name), context, subgraph_scope, depth));
    graph.nodes.push_back(std::move(node));
  }
  Status valid = ValidateAndSortGraph(graph, outer_scope);
  if (!valid.ok() && depth > 0) return valid.WithContext(GraphLabel(proto, depth));
  UH_RETURN_IF_ERROR(valid);
  return graph;
}

}  // namespace unihal::onnx_import
