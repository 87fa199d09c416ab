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

// A value laid out inside another value's buffer (zero-copy Concat): the producer writes it
// straight into its place in the Concat's output, which the Concat then need not copy.
struct Placement {
  int parent = -1;         // the slot whose buffer holds this one; -1: the buffer's owner
  size_t byte_offset = 0;  // from the parent's first byte
  DType dtype = DType::kUndefined;
  Shape shape;  // as planned; a run that makes another shape gets its own buffer
};

struct MemoryPlan {
  static constexpr int kAbsent = -1;
  std::map<std::string, int> slot_of;  // value name -> slot
  int num_slots = 0;
  std::vector<int> input_slots;                             // graph inputs, in order
  std::vector<int> output_slots;                            // graph outputs, in order
  std::vector<std::pair<int, std::string>> constant_slots;  // initializer slots and names
  std::vector<std::vector<int>> node_inputs;                // per node; kAbsent for an absent input
  std::vector<std::vector<int>> node_outputs;
  // Per node: intermediate slots whose last reader (or producer, if unread) is that node.
  std::vector<std::vector<int>> release_after;
  // Float32 Concat inputs with static shapes that are one contiguous byte range of the output
  // (every dim before the axis 1), produced by a node, read by anything, placed once; and the
  // Concat outputs holding them (nested Concats chain). Graph outputs never take part.
  std::map<int, Placement> placements;
};

// `graph.nodes` must be topologically sorted.
Result<MemoryPlan> PlanMemory(const ir::Graph& graph);

}  // namespace unihal::hal
