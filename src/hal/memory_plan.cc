#include "hal/memory_plan.h"

#include <algorithm>
#include <optional>
#include <set>

namespace unihal::hal {
namespace {

std::optional<Shape> StaticF32Shape(const ir::Graph& graph, const std::string& name) {
  const ir::ValueInfo* info = graph.FindValueInfo(name);
  if (!info || info->dtype != DType::kF32) return std::nullopt;
  return info->StaticShape();
}

// See MemoryPlan::placements.
void PlaceConcatInputs(const ir::Graph& graph, MemoryPlan& plan) {
  std::set<std::string> produced, graph_outputs;
  for (const ir::Node& node : graph.nodes)
    produced.insert(node.outputs.begin(), node.outputs.end());
  for (const auto& out : graph.outputs) graph_outputs.insert(out.name);
  auto eligible = [&](const std::string& name) {
    return !name.empty() && produced.count(name) && !graph_outputs.count(name);
  };
  for (const ir::Node& node : graph.nodes) {
    if (node.op_type != "Concat" || !node.domain.empty() || node.outputs.size() != 1 ||
        !eligible(node.outputs[0])) {
      continue;
    }
    const std::optional<Shape> out_shape = StaticF32Shape(graph, node.outputs[0]);
    Result<int64_t> axis = node.GetInt("axis");
    if (!out_shape || out_shape->empty() || !axis.ok()) continue;
    const int64_t rank = static_cast<int64_t>(out_shape->size());
    const int64_t a = *axis < 0 ? *axis + rank : *axis;
    if (a < 0 || a >= rank) continue;
    bool contiguous = true;
    for (int64_t d = 0; d < a; ++d) contiguous &= (*out_shape)[static_cast<size_t>(d)] == 1;
    if (!contiguous) continue;
    std::vector<Shape> shapes;
    for (const std::string& name : node.inputs) {
      const std::optional<Shape> shape = StaticF32Shape(graph, name);
      if (!shape || shape->size() != out_shape->size()) break;
      shapes.push_back(*shape);
    }
    if (shapes.size() != node.inputs.size()) continue;  // the kernel will check at run time
    const int out = plan.slot_of.at(node.outputs[0]);
    size_t offset = 0;
    bool placed_any = false;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& name = node.inputs[i];
      const int slot = plan.slot_of.at(name);
      auto it = plan.placements.find(slot);
      const bool free = it == plan.placements.end() || it->second.parent == MemoryPlan::kAbsent;
      if (eligible(name) && free && name != node.outputs[0] &&
          std::count(node.inputs.begin(), node.inputs.end(), name) == 1) {
        plan.placements[slot] = Placement{out, offset, DType::kF32, shapes[i]};
        placed_any = true;
      }
      offset += static_cast<size_t>(NumElements(shapes[i])) * sizeof(float);
    }
    if (placed_any && !plan.placements.count(out)) {
      plan.placements[out] = Placement{MemoryPlan::kAbsent, 0, DType::kF32, *out_shape};
    }
  }
}

}  // namespace

Result<MemoryPlan> PlanMemory(const ir::Graph& graph) {
  MemoryPlan plan;
  auto slot = [&](const std::string& name) {
    auto [it, inserted] = plan.slot_of.emplace(name, plan.num_slots);
    if (inserted) ++plan.num_slots;
    return it->second;
  };
  for (const auto& in : graph.inputs) plan.input_slots.push_back(slot(in.name));
  for (const auto& [name, tensor] : graph.initializers) {
    plan.constant_slots.emplace_back(slot(name), name);
  }
  const size_t first_intermediate = static_cast<size_t>(plan.num_slots);

  std::vector<int> last_use;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const ir::Node& node = graph.nodes[n];
    std::vector<int> ins;
    for (const auto& name : node.inputs) {
      if (name.empty()) {
        ins.push_back(MemoryPlan::kAbsent);
        continue;
      }
      auto it = plan.slot_of.find(name);
      if (it == plan.slot_of.end()) {
        return InvalidArgumentError(node.Describe() + " reads '" + name +
                                    "' before anything produces it");
      }
      ins.push_back(it->second);
    }
    std::vector<int> outs;
    for (const auto& name : node.outputs) {
      outs.push_back(name.empty() ? MemoryPlan::kAbsent : slot(name));
    }
    last_use.resize(static_cast<size_t>(plan.num_slots), -1);
    for (int s : outs) {
      if (s != MemoryPlan::kAbsent) last_use[static_cast<size_t>(s)] = static_cast<int>(n);
    }
    for (int s : ins) {
      if (s != MemoryPlan::kAbsent) last_use[static_cast<size_t>(s)] = static_cast<int>(n);
    }
    plan.node_inputs.push_back(std::move(ins));
    plan.node_outputs.push_back(std::move(outs));
  }
  for (const auto& out : graph.outputs) {
    auto it = plan.slot_of.find(out.name);
    if (it == plan.slot_of.end()) {
      return InvalidArgumentError("graph output '" + out.name + "' is never produced");
    }
    plan.output_slots.push_back(it->second);
  }
  const std::set<int> outputs(plan.output_slots.begin(), plan.output_slots.end());
  plan.release_after.resize(graph.nodes.size());
  last_use.resize(static_cast<size_t>(plan.num_slots), -1);
  for (size_t s = first_intermediate; s < last_use.size(); ++s) {
    if (outputs.count(static_cast<int>(s)) || last_use[s] < 0) continue;
    plan.release_after[static_cast<size_t>(last_use[s])].push_back(static_cast<int>(s));
  }
  PlaceConcatInputs(graph, plan);
  return plan;
}

}  // namespace unihal::hal
