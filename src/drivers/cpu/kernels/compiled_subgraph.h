// Subgraph attributes (If branches, Loop and Scan bodies, SequenceMap's body) compiled once, at
// kernel creation, with the registry that creates the kernel, and run per branch, iteration or
// element. What a subgraph reads from enclosing graphs reaches it through the node's trailing
// (implicit) inputs, which the loader appends (see ir::Node::inputs): Run passes them on to the
// compiled body as extra inputs after the body's own. Values of every kind (tensors, sequences,
// optionals) flow through.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "unihal/hal/executable.h"
#include "unihal/hal/kernel.h"
#include "unihal/hal/kernel_registry.h"
#include "unihal/value.h"

namespace unihal::cpu {

// How many of the node's inputs are its own; the rest are the values its subgraphs read from
// enclosing graphs, in ir::OuterScopeValues order.
Result<size_t> NumExplicitInputs(const ir::Node& node);

// Whether the registry can run every node of every subgraph of the node.
hal::SupportResult SubgraphsSupported(const hal::KernelCreateInfo& info,
                                      const hal::KernelRegistry& registry);

// An error unless the node has `expected` outputs; `what` names who gives them.
Status CheckOutputCount(const ir::Node& node, const std::string& what, size_t expected);

// One subgraph attribute compiled to run inside its node.
class CompiledSubgraph {
 public:
  // Compiles attribute `key` of info.node; `first_implicit` is the node's first implicit input.
  static Result<CompiledSubgraph> Compile(const hal::KernelCreateInfo& info, const std::string& key,
                                          size_t first_implicit,
                                          const hal::KernelRegistry& registry);

  const ir::Graph& graph() const { return *graph_; }  // as the model wrote it
  size_t num_inputs() const { return graph_->inputs.size(); }
  size_t num_outputs() const { return graph_->outputs.size(); }

  // Runs once on the body's own `inputs`; the outer-scope values come from the node's context.
  Status Run(const hal::KernelContext& context, std::vector<Value> inputs,
             std::vector<Value>& outputs) const;

 private:
  std::shared_ptr<const ir::Graph> graph_;
  std::shared_ptr<hal::Executable> executable_;
  std::vector<size_t> implicit_inputs_;  // node input index of each extra body input
};

}  // namespace unihal::cpu
