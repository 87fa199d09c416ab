// Liveness of a subgraph's values: which slot each value uses, and after which node each
// intermediate value is dead so its buffer can be reused. A slot holds a value of any kind
// (tensor, sequence, none; see unihal/value.h): the kind is known only when the value is made,
// and a dead sequence gives back its elements' buffers like a dead tensor its own.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "unihal/ir/graph.h"

namespace unihal::hal {

struct MemoryPlan {
  static constexpr int kAbsent = -1;
  std::map<std::string, int> slot_of;         // value name -> slot
  int num_slots = 0;
  std::vector<int> input_slots;               // graph inputs, in order
  std::vector<int> output_slots;              // graph outputs, in order
  std::vector<std::pair<int, std::string>> constant_slots;  // initializer slots and names
  std::vector<std::vector<int>> node_inputs;  // per node; kAbsent for an absent input
  std::vector<std::vector<int>> node_outputs;
  // Per node: intermediate slots whose last reader (or producer, if unread) is that node.
  std::vector<std::vector<int>> release_after;
};

// `graph.nodes` must be topologically sorted.
Result<MemoryPlan> PlanMemory(const ir::Graph& graph);

}  // namespace unihal::hal
