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
  // A node whose outputs would take more than this stays a node (a ConstantOfShape that
  // expands a tiny shape into gigabytes). Below it folding costs no extra memory, since the
  // buffer pool keeps a computed value's memory between runs anyway, and saves recomputing
  // it at every run: the ONNX light zoo makes its weights with ConstantOfShape, and AlexNet's
  // 151 MB FC weight took 31 ms of each run before the limit was raised from 64 MiB.
  size_t max_folded_bytes = size_t{1} << 30;
};

// Replaces every node whose inputs are all constants by initializers holding its outputs.
// Constant nodes become initializers; non-deterministic nodes (RandomNormal, ...) and nodes
// with subgraphs stay. A node the evaluator has no kernel for (kUnimplemented) stays too.
Status FoldConstants(Graph& graph, const NodeEvaluator& evaluate);
Status FoldConstants(Graph& graph, const NodeEvaluator& evaluate,
                     const FoldConstantsOptions& options);
// Removes nodes none of whose outputs reach a graph output, and unused initializers; drops the
// unread trailing optional outputs of Dropout (mask), MaxPool (Indices) and LayerNormalization
// (Mean, InvStdDev).
Status RemoveDeadNodes(Graph& graph);

// Folds an inference BatchNormalization that is the only reader of a Conv's output into that
// Conv (new weights W * s and bias (B - mean) * s + beta, s = scale / sqrt(var + epsilon)) when
// every parameter is a float32 constant. Left unused weights are for RemoveDeadNodes.
Status FoldBatchNormIntoConv(Graph& graph);

// The values a node's subgraph attributes (If branches, Loop bodies) read from enclosing
// graphs: its implicit inputs.
std::set<std::string> OuterScopeValues(const Node& node);

}  // namespace unihal::ir
