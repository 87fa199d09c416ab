#include "unihal/hal/kernel_registry.h"

#include <algorithm>

namespace unihal::hal {

const Tensor* KernelCreateInfo::ConstantInput(size_t i) const {
  if (!node.has_input(i)) return nullptr;
  return graph.FindInitializer(node.inputs[i]);
}

const ir::ValueInfo* KernelCreateInfo::InputInfo(size_t i) const {
  if (!node.has_input(i)) return nullptr;
  return graph.FindValueInfo(node.inputs[i]);
}

DType KernelCreateInfo::InputDType(size_t i) const {
  if (const Tensor* constant = ConstantInput(i)) return constant->dtype();
  const ir::ValueInfo* info = InputInfo(i);
  return info ? info->dtype : DType::kUndefined;
}

void KernelRegistry::Register(KernelDef def) {
  auto& defs = kernels_[{def.domain, def.op_type}];
  defs.push_back(std::move(def));
  std::stable_sort(defs.begin(), defs.end(),
                   [](const KernelDef& a, const KernelDef& b) { return a.priority > b.priority; });
}

const KernelDef* KernelRegistry::Select(const KernelCreateInfo& info, std::string* why_not) const {
  const ir::Node& node = info.node;
  auto it = kernels_.find({node.domain, node.op_type});
  if (it == kernels_.end()) {
    *why_not = "no kernel for op " + node.op_type +
               (node.domain.empty() ? std::string() : " in domain " + node.domain);
    return nullptr;
  }
  std::string reasons;
  for (const KernelDef& def : it->second) {
    if (node.opset < def.min_opset || node.opset > def.max_opset) {
      reasons += (reasons.empty() ? "" : "; ") + def.implementation + ": opset " +
                 std::to_string(node.opset) + " not handled (supports " +
                 std::to_string(def.min_opset) + ".." +
                 (def.max_opset == INT_MAX ? std::string("") : std::to_string(def.max_opset)) +
                 ")";
      continue;
    }
    if (def.supports) {
      SupportResult r = def.supports(info);
      if (!r.supported) {
        reasons += (reasons.empty() ? "" : "; ") + def.implementation + ": " + r.reason;
        continue;
      }
    }
    return &def;
  }
  *why_not = reasons;
  return nullptr;
}

SupportResult KernelRegistry::Supports(const KernelCreateInfo& info) const {
  std::string why_not;
  const KernelDef* def = Select(info, &why_not);
  if (!def) return SupportResult::No(why_not);
  return SupportResult::Yes(def->implementation);
}

Result<std::unique_ptr<Kernel>> KernelRegistry::Create(const KernelCreateInfo& info) const {
  std::string why_not;
  const KernelDef* def = Select(info, &why_not);
  if (!def) {
    return UnimplementedError(info.node.Describe() + " (opset " + std::to_string(info.node.opset) +
                              ") is not supported: " + why_not);
  }
  Result<std::unique_ptr<Kernel>> kernel = def->create(info);
  if (!kernel.ok()) return kernel.status();
  if (!*kernel) return InternalError(info.node.Describe() + ": kernel factory returned null");
  return kernel;
}

std::vector<std::string> KernelRegistry::OpTypes() const {
  std::vector<std::string> ops;
  for (const auto& [key, defs] : kernels_) ops.push_back(key.second);
  std::sort(ops.begin(), ops.end());
  ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
  return ops;
}

std::string KernelRegistry::SelectedImplementation(const KernelCreateInfo& info) const {
  std::string why_not;
  const KernelDef* def = Select(info, &why_not);
  return def ? def->implementation : std::string();
}

}  // namespace unihal::hal
