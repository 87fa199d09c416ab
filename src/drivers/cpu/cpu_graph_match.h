// Small graph-matching helpers shared by the cpu device's fusion passes (cpu_fusion.cc,
// cpu_matmul_fusion.cc).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "unihal/ir/graph.h"

namespace unihal::cpu {

// Whether any node carries a subgraph (a fusion pass then leaves the graph alone: values a
// subgraph captures are not counted as readers).
bool HasSubgraphs(const ir::Graph& graph);

// Which nodes read each value; graph outputs count as a reader (index -1).
using ReaderMap = std::map<std::string, std::vector<int>>;
ReaderMap Readers(const ir::Graph& graph);

// The single node reading `value`, or -1.
int SoleReader(const ReaderMap& readers, const std::string& value);

// A default-domain node of type `op` with one output.
bool IsOnnx(const ir::Node& node, const char* op);

// Input i of `node` as a float32 one-element initializer.
std::optional<float> ScalarConstant(const ir::Graph& graph, const ir::Node& node, size_t i);

// Whether two float32 values surely have the same shape: equal known dims, or the same symbol.
bool SameShape(const ir::Graph& graph, const std::string& a, const std::string& b);
// Whether two values might have the same shape at run time: false only when their known
// shapes differ for sure (another rank, or two different static sizes).
bool MayBeSameShape(const ir::Graph& graph, const std::string& a, const std::string& b);

// Replaces graph.nodes: each replacement takes the place of the node at its key, and nodes
// marked absorbed (other than those) are dropped.
void ApplyReplacements(ir::Graph& graph, const std::vector<bool>& absorbed,
                       std::map<size_t, ir::Node> replacements);

}  // namespace unihal::cpu
