// Structural checks of a converted graph, with errors that name the node and value: every
// value has one producer, every node input and graph output is defined, no cycles. Leaves the
// nodes topologically sorted (counting the values their subgraphs read from this graph).
#pragma once

#include <set>
#include <string>

#include "unihal/ir/graph.h"
#include "unihal/status.h"

namespace unihal::onnx_import {

// `outer_scope`: values of enclosing graphs a subgraph may read (empty for the main graph).
Status ValidateAndSortGraph(ir::Graph& graph, const std::set<std::string>& outer_scope);

}  // namespace unihal::onnx_import
