#include "drivers/cpu/kernels/compiled_subgraph.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <set>

#include "ir/passes.h"
#include "unihal/hal/kernel_executable.h"
#include "unihal/hal/thread_pool.h"

namespace unihal::cpu {
namespace {

std::string JoinNames(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "'" : ", '") + name + "'";
  return out;
}

}  // namespace

Result<size_t> NumExplicitInputs(const ir::Node& node) {
  const std::set<std::string> outer = ir::OuterScopeValues(node);
  if (node.inputs.size() >= outer.size() &&
      std::equal(outer.begin(), outer.end(),
                 node.inputs.end() - static_cast<std::ptrdiff_t>(outer.size()))) {
    return node.inputs.size() - outer.size();
  }
  return InvalidArgumentError(node.Describe() + ": its subgraphs read " + JoinNames(outer) +
                              " from the enclosing graph, but the node does not list them as "
                              "its last inputs (the ONNX loader appends them)");
}

hal::SupportResult SubgraphsSupported(const hal::KernelCreateInfo& info,
                                      const hal::KernelRegistry& registry) {
  for (const auto& [key, attribute] : info.node.attributes) {
    const auto* graph = attribute.get<std::shared_ptr<const ir::Graph>>();
    if (!graph || !*graph) continue;
    for (const ir::Node& inner : (*graph)->nodes) {
      hal::SupportResult inner_support = registry.Supports(hal::KernelCreateInfo{inner, **graph});
      if (!inner_support.supported) {
        return hal::SupportResult::No("subgraph '" + key + "': " + inner.Describe() + ", opset " +
                                      std::to_string(inner.opset) + ": " + inner_support.reason);
      }
    }
  }
  return hal::SupportResult::Yes();
}

Status CheckOutputCount(const ir::Node& node, const std::string& what, size_t expected) {
  if (node.outputs.size() == expected) return Status::Ok();
  return InvalidArgumentError(node.Describe() + " has " + std::to_string(node.outputs.size()) +
                              " outputs, but " + what + " gives " + std::to_string(expected));
}

Status CompiledSubgraph::Run(const hal::KernelContext& context, std::vector<Value> inputs,
                             std::vector<Value>& outputs) const {
  for (size_t index : implicit_inputs_) {
    const Value* value = context.input_value(index);
    if (!value) {
      return InvalidArgumentError(context.node().Describe() + ": outer-scope value '" +
                                  context.node().inputs[index] + "' has no value");
    }
    inputs.push_back(*value);
  }
  return executable_->RunValues(inputs, outputs);
}

Result<CompiledSubgraph> CompiledSubgraph::Compile(const hal::KernelCreateInfo& info,
                                                   const std::string& key, size_t first_implicit,
                                                   const hal::KernelRegistry& registry) {
  const ir::Node& node = info.node;
  auto it = node.attributes.find(key);
  const auto* graph =
      it == node.attributes.end() ? nullptr : it->second.get<std::shared_ptr<const ir::Graph>>();
  if (!graph || !*graph) {
    return InvalidArgumentError(node.Describe() + " needs graph attribute '" + key + "'");
  }
  CompiledSubgraph compiled;
  compiled.graph_ = *graph;
  ir::Graph body = **graph;
  ir::Node only_this_graph;
  only_this_graph.attributes.emplace(key, it->second);
  const std::set<std::string> all_outer = ir::OuterScopeValues(node);
  for (const std::string& name : ir::OuterScopeValues(only_this_graph)) {
    // Outer weights stay weights in the body, so its kernels see them as constants.
    if (const Tensor* weight = info.graph.FindInitializer(name)) {
      body.initializers[name] = *weight;
      continue;
    }
    const ir::ValueInfo* outer_info = info.graph.FindValueInfo(name);
    ir::ValueInfo input = outer_info ? *outer_info : ir::ValueInfo{};
    input.name = name;
    body.inputs.push_back(std::move(input));
    const auto position = std::distance(all_outer.begin(), all_outer.find(name));
    compiled.implicit_inputs_.push_back(first_implicit + static_cast<size_t>(position));
  }
  Result<std::shared_ptr<hal::Executable>> executable =
      hal::CompileWithKernels(body, registry, hal::ThreadPool::Process());
  if (!executable.ok()) {
    return executable.status().WithContext(node.Describe() + ", attribute '" + key + "'");
  }
  compiled.executable_ = *std::move(executable);
  return compiled;
}

}  // namespace unihal::cpu
