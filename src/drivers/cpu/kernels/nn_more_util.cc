// Helpers shared by the kernels registered from RegisterMoreNnKernels.
#include <cmath>
#include <limits>
#include <type_traits>

#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/nn_more.h"

namespace unihal::cpu {

std::vector<double> TensorToDoubles(const Tensor& tensor) {
  std::vector<double> values(static_cast<size_t>(tensor.num_elements()));
  VisitDType(tensor.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* data = tensor.data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) values[i] = AsDouble(data[i]);
  });
  return values;
}

void DoublesToTensor(const std::vector<double>& values, Tensor& tensor) {
  VisitDType(tensor.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* data = tensor.data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) {
      double v = values[i];
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        v = std::nearbyint(v);
        v = std::clamp(v, static_cast<double>(std::numeric_limits<T>::lowest()),
                       static_cast<double>(std::numeric_limits<T>::max()));
      }
      data[i] = FromDouble<T>(v);
    }
  });
}

Status WriteOutput(hal::KernelContext& context, size_t i, DType dtype, Shape shape,
                   const std::vector<double>& values) {
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(i, dtype, std::move(shape)));
  DoublesToTensor(values, *out);
  return Status::Ok();
}

Result<OptionalDoubles> OptionalDoubleInput(const hal::KernelContext& context, size_t i) {
  OptionalDoubles result;
  const Tensor* tensor = context.input(i);
  if (!tensor || tensor->num_elements() == 0) return result;
  UH_RETURN_IF_ERROR(
      CheckDType(context.node(), *tensor, "input " + std::to_string(i), FloatDTypes()));
  result.given = true;
  result.values = TensorToDoubles(*tensor);
  return result;
}

Status CheckOutputSize(const ir::Node& node, const Shape& shape) {
  constexpr int64_t kMaxElements = int64_t{1} << 30;
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) return Invalid(node, "the output shape " + ShapeToString(shape) + " is negative");
    if (d > 0 && count > kMaxElements / d) {
      return ResourceExhaustedError(node.Describe() + ": the output " + ShapeToString(shape) +
                                    " is too large for the reference kernel");
    }
    count *= d;
  }
  return Status::Ok();
}

Status Unimplemented(const ir::Node& node, const std::string& what) {
  return UnimplementedError(node.Describe() + ", opset " + std::to_string(node.opset) + ": " +
                            what);
}

Status Invalid(const ir::Node& node, const std::string& what) {
  return InvalidArgumentError(node.Describe() + ": " + what);
}

}  // namespace unihal::cpu
