#include "drivers/cpu/kernels/kernel_util.h"
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

bool IsHalfFloat(DType dtype) { return dtype == DType::kF16 || dtype == DType::kBF16; }

std::vector<float> WidenToFloat(const Tensor& t) {
  std::vector<float> values(static_cast<size_t>(t.num_elements()));
  VisitFloatDType(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* data = t.data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(data[i]);
  });
  return values;
}

void NarrowFromFloat(const std::vector<float>& values, Tensor& t) {
  VisitFloatDType(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* data = t.data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) data[i] = FromCompute<T>(values[i]);
  });
}

}  // namespace unihal::cpu
