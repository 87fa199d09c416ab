#include "drivers/cpu/kernels/kernel_util.h"

#include <algorithm>
#include <set>

namespace unihal::cpu {

hal::KernelDef ReferenceKernelDef(std::string op_type, int min_opset, int max_opset,
                                  hal::KernelFactory create, SupportsFn supports) {
  hal::KernelDef def;
  def.op_type = std::move(op_type);
  def.domain = "";
  def.min_opset = min_opset;
  def.max_opset = max_opset;
  def.implementation = "reference";
  def.priority = 0;
  def.supports = std::move(supports);
  def.create = std::move(create);
  return def;
}

Result<std::unique_ptr<hal::Kernel>> MakeFunctionKernel(hal::FunctionKernel::Fn fn) {
  return std::unique_ptr<hal::Kernel>(std::make_unique<hal::FunctionKernel>(std::move(fn)));
}

hal::KernelFactory StatelessKernel(hal::FunctionKernel::Fn fn) {
  return [fn = std::move(fn)](const hal::KernelCreateInfo&) { return MakeFunctionKernel(fn); };
}

std::string DTypeListString(const std::vector<DType>& dtypes) {
  std::string out;
  for (DType d : dtypes) out += (out.empty() ? "" : ", ") + std::string(DTypeName(d));
  return out;
}

SupportsFn AcceptInputDTypes(std::vector<size_t> inputs, std::vector<DType> allowed) {
  return [inputs = std::move(inputs),
          allowed = std::move(allowed)](const hal::KernelCreateInfo& info) -> hal::SupportResult {
    for (size_t i : inputs) {
      const DType dtype = info.InputDType(i);
      if (dtype == DType::kUndefined) continue;
      if (std::find(allowed.begin(), allowed.end(), dtype) == allowed.end()) {
        return hal::SupportResult::No("input " + std::to_string(i) + " is " +
                                      std::string(DTypeName(dtype)) +
                                      "; the reference kernel takes " + DTypeListString(allowed));
      }
    }
    return hal::SupportResult::Yes("reference");
  };
}

const std::vector<DType>& NumericDTypes() {
  static const std::vector<DType> kNumeric = {DType::kF32, DType::kF64, DType::kF16, DType::kBF16,
                                              DType::kI8,  DType::kU8,  DType::kI16, DType::kU16,
                                              DType::kI32, DType::kU32, DType::kI64, DType::kU64};
  return kNumeric;
}

const std::vector<DType>& AllDTypes() {
  static const std::vector<DType> kAll = [] {
    std::vector<DType> all = NumericDTypes();
    all.push_back(DType::kBool);
    return all;
  }();
  return kAll;
}

Result<const Tensor*> NeedInput(const hal::KernelContext& context, size_t i) {
  const Tensor* tensor = context.input(i);
  if (!tensor) {
    return InvalidArgumentError(context.node().Describe() + ": required input " +
                                std::to_string(i) + " is missing; give the node that input");
  }
  return tensor;
}

Status CheckDType(const ir::Node& node, const Tensor& tensor, const std::string& what,
                  const std::vector<DType>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), tensor.dtype()) != allowed.end()) {
    return Status::Ok();
  }
  return UnimplementedError(
      node.Describe() + ": " + what + " is " + std::string(DTypeName(tensor.dtype())) +
      "; the cpu reference kernel takes " + DTypeListString(allowed) + " (insert a Cast)");
}

Result<int64_t> NormalizeAxis(const ir::Node& node, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) {
    return InvalidArgumentError(node.Describe() + ": axis " + std::to_string(axis) +
                                " is out of range for rank " + std::to_string(rank) + " (valid: " +
                                std::to_string(-rank) + ".." + std::to_string(rank - 1) + ")");
  }
  return axis < 0 ? axis + rank : axis;
}

Result<std::vector<int64_t>> NormalizeAxes(const ir::Node& node, std::vector<int64_t> axes,
                                           int64_t rank) {
  std::set<int64_t> seen;
  for (int64_t& axis : axes) {
    UH_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, rank));
    if (!seen.insert(axis).second) {
      return InvalidArgumentError(node.Describe() + ": axis " + std::to_string(axis) +
                                  " is listed twice; list each axis once");
    }
  }
  return axes;
}

Result<OptionalInts> OptionalInt64Input(const hal::KernelContext& context, size_t i) {
  const Tensor* tensor = context.input(i);
  if (!tensor) return OptionalInts{};
  Result<std::vector<int64_t>> values = tensor->ToInt64Vector();
  if (!values.ok()) {
    return InvalidArgumentError(context.node().Describe() + ": input " + std::to_string(i) +
                                " must be an integer tensor, got " + tensor->Describe());
  }
  return OptionalInts{true, std::move(values).value()};
}

Result<OptionalInts> Int64sFromInputOrAttribute(const hal::KernelContext& context,
                                                size_t input_index, const std::string& attribute,
                                                int input_since_opset) {
  const ir::Node& node = context.node();
  if (node.opset >= input_since_opset) return OptionalInt64Input(context, input_index);
  if (!node.HasAttribute(attribute)) return OptionalInts{};
  Result<std::vector<int64_t>> values = node.GetInts(attribute);
  if (!values.ok()) return values.status();  // already names the node
  return OptionalInts{true, std::move(values).value()};
}

}  // namespace unihal::cpu
