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

// The first input or output whose static type is a sequence or an optional, described for a
// reason ("input seq: sequence(float32[2])"); "" when none is known.
std::string StaticNonTensorValue(const KernelCreateInfo& info) {
  for (size_t i = 0; i < info.node.inputs.size(); ++i) {
    const ir::ValueInfo* value = info.ConstantInput(i) ? nullptr : info.InputInfo(i);
    if (value && !value->is_tensor()) return "input " + value->Describe();
  }
  for (const std::string& output : info.node.outputs) {
    if (output.empty()) continue;
    const ir::ValueInfo* value = info.graph.FindValueInfo(output);
    if (value && !value->is_tensor()) return "output " + value->Describe();
  }
  return "";
}

// What the guards check at compute time.
struct GuardChecks {
  bool storage_only = false;       // refuse storage-only dtypes (kernel does not take them)
  bool non_tensor = false;         // refuse sequences and optionals
  std::string tensor_only_device;  // set when the device itself holds tensors only
};

Status RefuseNonTensor(const ir::Node& node, const GuardChecks& checks, const char* role,
                       size_t index, const Value& value) {
  const std::string what = node.Describe() + ": " + role + " " + std::to_string(index) + " is " +
                           value.Describe() + ", ";
  if (!checks.tensor_only_device.empty()) {
    return UnimplementedError(what + checks.tensor_only_device +
                              " holds tensor values only (no sequences or optionals)");
  }
  return InvalidArgumentError(what + "but " + node.op_type + " takes and gives tensors only");
}

// Forwards to the real context but refuses storage-only and non-tensor outputs as `checks` say.
class GuardContext final : public KernelContext {
 public:
  GuardContext(KernelContext& inner, const GuardChecks& checks) : inner_(inner), checks_(checks) {}
  const ir::Node& node() const override { return inner_.node(); }
  size_t num_inputs() const override { return inner_.num_inputs(); }
  const Tensor* input(size_t i) const override { return inner_.input(i); }
  const Value* input_value(size_t i) const override { return inner_.input_value(i); }
  size_t num_outputs() const override { return inner_.num_outputs(); }
  Result<Tensor*> AllocateOutput(size_t i, DType dtype, Shape shape) override {
    if (checks_.storage_only && IsStorageOnly(dtype)) return Refuse(dtype);
    return inner_.AllocateOutput(i, dtype, std::move(shape));
  }
  Result<Tensor*> AllocateOutputInPlace(size_t i, size_t input, DType dtype,
                                        Shape shape) override {
    if (checks_.storage_only && IsStorageOnly(dtype)) return Refuse(dtype);
    return inner_.AllocateOutputInPlace(i, input, dtype, std::move(shape));
  }
  Status SetOutput(size_t i, Tensor tensor) override {
    if (checks_.storage_only && IsStorageOnly(tensor.dtype())) return Refuse(tensor.dtype());
    return inner_.SetOutput(i, std::move(tensor));
  }
  Status SetOutputValue(size_t i, Value value) override {
    if (checks_.non_tensor && !value.is_tensor()) {
      return RefuseNonTensor(node(), checks_, "output", i, value);
    }
    if (checks_.storage_only && IsStorageOnly(value.element_dtype())) {
      return Refuse(value.element_dtype());
    }
    return inner_.SetOutputValue(i, std::move(value));
  }
  ThreadPool& thread_pool() override { return inner_.thread_pool(); }

 private:
  Status Refuse(DType dtype) const {
    return UnimplementedError(node().Describe() + ": " + StorageOnlyMessage(node().op_type, dtype));
  }
  KernelContext& inner_;
  const GuardChecks& checks_;
};

// Wraps a kernel that does not take storage-only dtypes or non-tensor values: static types are
// not always known, so the inputs are checked again on every call, before the kernel can read
// or write the bits (or take a sequence for an absent input).
class GuardKernel final : public Kernel {
 public:
  GuardKernel(std::unique_ptr<Kernel> inner, GuardChecks checks)
      : inner_(std::move(inner)), checks_(std::move(checks)) {}
  Status Compute(KernelContext& context) const override {
    for (size_t i = 0; i < context.num_inputs(); ++i) {
      if (const Tensor* input = context.input(i)) {
        if (checks_.storage_only && IsStorageOnly(input->dtype())) {
          return Refuse(context, input->dtype());
        }
        continue;
      }
      const Value* value = context.input_value(i);  // only when not a tensor: the rare case
      if (!value) continue;
      if (checks_.non_tensor && !value->is_tensor()) {
        return RefuseNonTensor(context.node(), checks_, "input", i, *value);
      }
      if (checks_.storage_only && IsStorageOnly(value->element_dtype())) {
        return Refuse(context, value->element_dtype());
      }
    }
    GuardContext guarded(context, checks_);
    return inner_->Compute(guarded);
  }

 private:
  static Status Refuse(const KernelContext& context, DType dtype) {
    return UnimplementedError(context.node().Describe() + ": " +
                              StorageOnlyMessage(context.node().op_type, dtype));
  }
  std::unique_ptr<Kernel> inner_;
  const GuardChecks checks_;
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

void KernelRegistry::SetTensorValuesOnly(std::string device) {
  tensor_only_device_ = std::move(device);
}

const KernelDef* KernelRegistry::Select(const KernelCreateInfo& info, std::string* why_not) const {
  const ir::Node& node = info.node;
  const std::string non_tensor = StaticNonTensorValue(info);
  if (!non_tensor.empty() && tensor_values_only()) {
    *why_not = "the device holds tensor values only (no sequences or optionals); " + non_tensor;
    return nullptr;
  }
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
    if (!def.accepts_non_tensor_values && !non_tensor.empty()) {
      reasons += (reasons.empty() ? "" : "; ") + def.implementation + ": " + non_tensor +
                 ", but this kernel takes and gives tensors only";
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
  GuardChecks checks;
  checks.storage_only = !def->accepts_storage_only_dtypes;
  checks.non_tensor = !def->accepts_non_tensor_values || tensor_values_only();
  checks.tensor_only_device = tensor_only_device_;
  if (checks.storage_only || checks.non_tensor) {
    return std::unique_ptr<Kernel>(
        std::make_unique<GuardKernel>(*std::move(kernel), std::move(checks)));
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
