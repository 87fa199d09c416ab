#include "hal/memory_plan.h"

#include <set>

namespace unihal::hal {

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
  return plan;
}

}  // namespace unihal::hal
