#include "unihal/hal/kernel_registry.h"

#include <algorithm>
#include <optional>

namespace unihal::hal {
namespace {

std::string StorageOnlyMessage(const std::string& op_type, DType dtype) {
  return op_type + " has no kernel for " + std::string(DTypeName(dtype)) +
         " values: unihal stores this type; only Cast, CastLike, QuantizeLinear, "
         "DequantizeLinear and data-movement ops take it";
}

// The first statically known storage-only dtype among the node's inputs and outputs.
std::optional<DType> StaticStorageOnlyDType(const KernelCreateInfo& info) {
  for (size_t i = 0; i < info.node.inputs.size(); ++i) {
    const DType dtype = info.InputDType(i);
    if (IsStorageOnly(dtype)) return dtype;
  }
  for (const std::string& output : info.node.outputs) {
    if (output.empty()) continue;
    const ir::ValueInfo* value = info.graph.FindValueInfo(output);
    if (value && IsStorageOnly(value->dtype)) return value->dtype;
  }
  return std::nullopt;
}

// Forwards to the real context but refuses storage-only outputs.
class StorageOnlyGuardContext final : public KernelContext {
 public:
  explicit StorageOnlyGuardContext(KernelContext& inner) : inner_(inner) {}
  const ir::Node& node() const override { return inner_.node(); }
  size_t num_inputs() const override { return inner_.num_inputs(); }
  const Tensor* input(size_t i) const override { return inner_.input(i); }
  size_t num_outputs() const override { return inner_.num_outputs(); }
  Result<Tensor*> AllocateOutput(size_t i, DType dtype, Shape shape) override {
    if (IsStorageOnly(dtype)) return Refuse(dtype);
    return inner_.AllocateOutput(i, dtype, std::move(shape));
  }
  Status SetOutput(size_t i, Tensor tensor) override {
    if (IsStorageOnly(tensor.dtype())) return Refuse(tensor.dtype());
    return inner_.SetOutput(i, std::move(tensor));
  }
  ThreadPool& thread_pool() override { return inner_.thread_pool(); }

 private:
  Status Refuse(DType dtype) const {
    return UnimplementedError(node().Describe() + ": " + StorageOnlyMessage(node().op_type, dtype));
  }
  KernelContext& inner_;
};

// Wraps a kernel that does not take storage-only dtypes: static types are not always known, so
// the dtypes are checked again on every call, before the kernel can read or write the bits.
class StorageOnlyGuardKernel final : public Kernel {
 public:
  explicit StorageOnlyGuardKernel(std::unique_ptr<Kernel> inner) : inner_(std::move(inner)) {}
  Status Compute(KernelContext& context) const override {
    for (size_t i = 0; i < context.num_inputs(); ++i) {
      const Tensor* input = context.input(i);
      if (input && IsStorageOnly(input->dtype())) {
        return UnimplementedError(context.node().Describe() + ": " +
                                  StorageOnlyMessage(context.node().op_type, input->dtype()));
      }
    }
    StorageOnlyGuardContext guarded(context);
    return inner_->Compute(guarded);
  }

 private:
  std::unique_ptr<Kernel> inner_;
};

}  // namespace

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
                 (def.max_opset == INT_MAX ? std::string("") : std::to_string(def.max_opset)) + ")";
      continue;
    }
    if (!def.accepts_storage_only_dtypes) {
      if (std::optional<DType> dtype = StaticStorageOnlyDType(info)) {
        reasons += (reasons.empty() ? "" : "; ") + def.implementation + ": " +
                   StorageOnlyMessage(node.op_type, *dtype);
        continue;
      }
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
  if (!def->accepts_storage_only_dtypes) {
    return std::unique_ptr<Kernel>(std::make_unique<StorageOnlyGuardKernel>(*std::move(kernel)));
  }
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
