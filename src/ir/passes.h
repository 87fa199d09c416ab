// Graph passes run when a session is created.
#pragma once

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::ir {

// Computes one node's outputs from its input values (used to fold constants).
using NodeEvaluator =
    std::function<Result<std::vector<Tensor>>(const Node& node, const std::vector<Tensor>& inputs)>;

struct FoldConstantsOptions {
  // A node whose outputs would take more than this stays a node (e.g. a ConstantOfShape that
  // expands a tiny shape into hundreds of MB of weights): folding it would only bloat memory.
  size_t max_folded_bytes = size_t{64} << 20;
};

// Replaces every node whose inputs are all constants by initializers holding its outputs.
// Constant nodes become initializers; non-deterministic nodes (RandomNormal, ...) and nodes
// with subgraphs stay. A node the evaluator has no kernel for (kUnimplemented) stays too.
Status FoldConstants(Graph& graph, const NodeEvaluator& evaluate);
Status FoldConstants(Graph& graph, const NodeEvaluator& evaluate,
                     const FoldConstantsOptions& options);
// Removes nodes none of whose outputs reach a graph output, and unused initializers.
Status RemoveDeadNodes(Graph& graph);

// Folds an inference BatchNormalization that is the only reader of a Conv's output into that
// Conv (new weights W * s and bias (B - mean) * s + beta, s = scale / sqrt(var + epsilon)) when
// every parameter is a float32 constant. Left unused weights are for RemoveDeadNodes.
Status FoldBatchNormIntoConv(Graph& graph);

// The values a node's subgraph attributes (If branches, Loop bodies) read from enclosing
// graphs: its implicit inputs.
std::set<std::string> OuterScopeValues(const Node& node);

}  // namespace unihal::ir
