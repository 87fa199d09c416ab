// Graph passes run when a session is created.
#pragma once

#include <functional>
#include <vector>

#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::ir {

// Computes one node's outputs from its input values (used to fold constants).
using NodeEvaluator =
    std::function<Result<std::vector<Tensor>>(const Node& node, const std::vector<Tensor>& inputs)>;

// Replaces every node whose inputs are all constants by initializers holding its outputs.
Status FoldConstants(Graph& graph, const NodeEvaluator& evaluate);
// Removes nodes none of whose outputs reach a graph output, and unused initializers.
Status RemoveDeadNodes(Graph& graph);

}  // namespace unihal::ir
