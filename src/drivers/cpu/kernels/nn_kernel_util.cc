#include "drivers/cpu/kernels/nn_ref.h"

namespace unihal::cpu {

Result<const Tensor*> RequiredInput(const hal::KernelContext& context, size_t i,
                                    const std::string& name) {
  const Tensor* tensor = context.input(i);
  if (!tensor) {
    return InvalidArgumentError(context.node().Describe() + ": the required input " +
                                std::to_string(i) + " (" + name + ") is missing");
  }
  return tensor;
}

Status CheckFloatInput(const ir::Node& node, const Tensor& tensor, const std::string& name) {
  if (tensor.dtype() == DType::kF32 || tensor.dtype() == DType::kF64) return Status::Ok();
  return UnimplementedError(node.Describe() + ": input " + name + " is " +
                            std::string(DTypeName(tensor.dtype())) +
                            "; the cpu kernel takes float32 or float64 (insert a Cast)");
}

Status CheckSameDType(const ir::Node& node, const Tensor& tensor, const std::string& name,
                      DType dtype) {
  if (tensor.dtype() == dtype) return Status::Ok();
  return InvalidArgumentError(node.Describe() + ": input " + name + " is " +
                              std::string(DTypeName(tensor.dtype())) + " but X is " +
                              std::string(DTypeName(dtype)) + "; they must match");
}

}  // namespace unihal::cpu
