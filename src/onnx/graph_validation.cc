#include "onnx/graph_validation.h"

#include <map>
#include <vector>

#include "ir/passes.h"

namespace unihal::onnx_import {
namespace {

Status CheckSingleProducers(const ir::Graph& graph,
                            std::map<std::string, const ir::Node*>& producer) {
  for (const ir::Node& node : graph.nodes) {
    for (const std::string& out : node.outputs) {
      if (out.empty()) continue;
      if (graph.initializers.count(out)) {
        return InvalidArgumentError(node.Describe() + " writes '" + out +
                                    "', which is also an initializer; every value must have "
                                    "one producer");
      }
      for (const auto& in : graph.inputs) {
        if (in.name == out) {
          return InvalidArgumentError(node.Describe() + " writes '" + out +
                                      "', which is also a graph input; every value must have "
                                      "one producer");
        }
      }
      auto [it, inserted] = producer.emplace(out, &node);
      if (!inserted) {
        return InvalidArgumentError(node.Describe() + " writes '" + out + "', which " +
                                    it->second->Describe() +
                                    " also writes; every value must have one producer");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateAndSortGraph(ir::Graph& graph, const std::set<std::string>& outer_scope) {
  std::map<std::string, const ir::Node*> producer;
  UH_RETURN_IF_ERROR(CheckSingleProducers(graph, producer));
  std::set<std::string> local;
  for (const auto& in : graph.inputs) local.insert(in.name);
  for (const auto& [name, tensor] : graph.initializers) local.insert(name);
  for (const auto& [name, node] : producer) local.insert(name);

  for (const ir::Node& node : graph.nodes) {
    for (const std::string& in : node.inputs) {
      if (in.empty() || local.count(in) || outer_scope.count(in)) continue;
      return InvalidArgumentError(node.Describe() + " reads '" + in +
                                  "', which is not a graph input, an initializer or any node's "
                                  "output; fix the model so every input is defined");
    }
  }
  for (const ir::ValueInfo& out : graph.outputs) {
    if (local.count(out.name) || outer_scope.count(out.name)) continue;
    return InvalidArgumentError("graph output '" + out.name +
                                "' is not produced by any node, input or initializer");
  }

  // Sort by local dependencies only, including values read inside subgraphs: an If must run
  // after whatever its branches read. Outer-scope values are ready before this graph runs.
  std::map<std::string, std::vector<std::string>> explicit_inputs;
  for (ir::Node& node : graph.nodes) {
    std::vector<std::string> dependencies;
    for (const std::string& in : node.inputs) {
      if (!in.empty() && local.count(in)) dependencies.push_back(in);
    }
    for (const std::string& in : ir::OuterScopeValues(node)) {
      if (local.count(in)) dependencies.push_back(in);
    }
    explicit_inputs[node.name] = std::move(node.inputs);
    node.inputs = std::move(dependencies);
  }
  Status sorted = ir::TopologicalSort(graph);
  for (ir::Node& node : graph.nodes) node.inputs = std::move(explicit_inputs[node.name]);
  return sorted;
}

}  // namespace unihal::onnx_import
