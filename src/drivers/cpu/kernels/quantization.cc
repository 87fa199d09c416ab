// Reference quantization kernels: QuantizeLinear, DequantizeLinear (per-tensor, per-axis and,
// from opset 21, blocked; 8/16-bit integers, and float8 / float4 / int4 / int2 through
// unihal/low_precision.h) and DynamicQuantizeLinear. The quantized MatMul / Conv family lives
// in quantized_linear.cc.
#include <algorithm>
#include <cmath>
#include <string>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/quant_util.h"
#include "onnx/tensor_proto.h"

namespace unihal::cpu {

void RegisterQuantizedLinearKernels(hal::KernelRegistry& registry);

namespace {

using hal::KernelContext;

// How a scale / zero-point tensor maps onto the elements of x, viewed as [outer, axis, inner].
struct ParamLayout {
  enum class Kind { kPerTensor, kPerAxis, kBlocked };
  Kind kind = Kind::kPerTensor;
  int64_t axis_dim = 1;
  int64_t inner = 1;
  int64_t blocks = 1;      // scale's size along the axis (blocked only)
  int64_t block_size = 1;  // blocked only

  int64_t Index(int64_t i) const {
    switch (kind) {
      case Kind::kPerTensor:
        return 0;
      case Kind::kPerAxis:
        return (i / inner) % axis_dim;
      case Kind::kBlocked: {
        const int64_t outer = i / (axis_dim * inner);
        const int64_t a = (i / inner) % axis_dim;
        return (outer * blocks + a / block_size) * inner + i % inner;
      }
    }
    return 0;
  }
};

Status CheckBlockedScale(const ir::Node& node, const Shape& x, const Shape& scale, int64_t axis,
                         int64_t block_size) {
  if (scale.size() != x.size()) {
    return InvalidArgumentError(node.Describe() + ": blocked quantization needs a scale of rank " +
                                std::to_string(x.size()) + ", got " + ShapeToString(scale));
  }
  for (size_t d = 0; d < x.size(); ++d) {
    const bool ok = static_cast<int64_t>(d) == axis
                        ? scale[d] * block_size >= x[d] && (scale[d] - 1) * block_size < x[d]
                        : scale[d] == x[d];
    if (!ok) {
      return InvalidArgumentError(node.Describe() + ": scale " + ShapeToString(scale) +
                                  " does not block input " + ShapeToString(x) + " along axis " +
                                  std::to_string(axis) + " with block_size " +
                                  std::to_string(block_size));
    }
  }
  return Status::Ok();
}

// Works out the layout of `scale` (and `zero_point`, which must match it) for input shape x.
Result<ParamLayout> ResolveParamLayout(const ir::Node& node, const Shape& x, const Tensor& scale,
                                       const Tensor* zero_point, int64_t axis, int64_t block_size) {
  const bool both_scalar_like = zero_point && zero_point->num_elements() == 1 &&
                                scale.num_elements() == 1 && zero_point->rank() <= 1 &&
                                scale.rank() <= 1;
  if (zero_point && zero_point->shape() != scale.shape() && !both_scalar_like) {
    return InvalidArgumentError(node.Describe() + ": zero point " + zero_point->Describe() +
                                " and scale " + scale.Describe() + " differ in shape");
  }
  if (block_size < 0) {
    return InvalidArgumentError(node.Describe() + ": block_size must be >= 0, got " +
                                std::to_string(block_size));
  }
  ParamLayout layout;
  if (block_size == 0 && scale.rank() <= 1 && scale.num_elements() == 1) return layout;
  const int64_t rank = static_cast<int64_t>(x.size());
  UH_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, rank));
  layout.axis_dim = x[static_cast<size_t>(axis)];
  for (int64_t d = axis + 1; d < rank; ++d) layout.inner *= x[static_cast<size_t>(d)];
  if (block_size == 0) {
    if (scale.rank() != 1 || scale.dim(0) != layout.axis_dim) {
      return InvalidArgumentError(node.Describe() + ": per-axis scale must be 1-D of size " +
                                  std::to_string(layout.axis_dim) + " (axis " +
                                  std::to_string(axis) + " of " + ShapeToString(x) + "), got " +
                                  scale.Describe());
    }
    layout.kind = ParamLayout::Kind::kPerAxis;
    return layout;
  }
  UH_RETURN_IF_ERROR(CheckBlockedScale(node, x, scale.shape(), axis, block_size));
  layout.kind = ParamLayout::Kind::kBlocked;
  layout.blocks = scale.dim(axis);
  layout.block_size = block_size;
  return layout;
}

// Reads axis and (from opset 21) block_size.
Result<ParamLayout> LayoutFromAttributes(const ir::Node& node, const Tensor& x, const Tensor& scale,
                                         const Tensor* zero_point) {
  UH_ASSIGN_OR_RETURN(const int64_t axis, node.GetInt("axis", 1));
  int64_t block_size = 0;
  if (node.opset >= 21) {
    UH_ASSIGN_OR_RETURN(block_size, node.GetInt("block_size", 0));
  }
  return ResolveParamLayout(node, x.shape(), scale, zero_point, axis, block_size);
}

// The dtype named by ONNX type attribute `attribute` (0 or absent: nullopt).
Result<std::optional<DType>> DTypeAttribute(const ir::Node& node, const std::string& attribute) {
  UH_ASSIGN_OR_RETURN(const int64_t onnx_type, node.GetInt(attribute, 0));
  if (onnx_type == 0) return std::optional<DType>();
  const std::optional<DType> dtype = onnx_import::DTypeFromOnnx(static_cast<int32_t>(onnx_type));
  if (!dtype) {
    return UnimplementedError(node.Describe() + " opset " + std::to_string(node.opset) + ": " +
                              attribute + " " +
                              onnx_import::OnnxTypeName(static_cast<int32_t>(onnx_type)) +
                              " is not supported; unihal tensors have no such dtype");
  }
  return dtype;
}

// QuantizeLinear's output dtype: y_zero_point's, else output_dtype (opset 21+), else uint8.
Result<DType> QuantizeOutputDType(const ir::Node& node, const Tensor* zero_point) {
  std::optional<DType> attribute;
  if (node.opset >= 21) {
    UH_ASSIGN_OR_RETURN(attribute, DTypeAttribute(node, "output_dtype"));
  }
  DType out = zero_point ? zero_point->dtype() : attribute.value_or(DType::kU8);
  if (zero_point && attribute && *attribute != out) {
    return InvalidArgumentError(node.Describe() + ": output_dtype " +
                                std::string(DTypeName(*attribute)) + " differs from y_zero_point " +
                                std::string(DTypeName(out)));
  }
  std::vector<DType> allowed = QuantizedDTypes();
  const auto& low_precision = LowPrecisionQuantizedDTypes();
  allowed.insert(allowed.end(), low_precision.begin(), low_precision.end());
  if (std::find(allowed.begin(), allowed.end(), out) == allowed.end()) {
    return UnimplementedError(node.Describe() + " opset " + std::to_string(node.opset) +
                              ": quantizing to " + std::string(DTypeName(out)) +
                              " is not supported (only " + DTypeListString(allowed) + ")");
  }
  return out;
}

Status ComputeQuantizeLinear(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* scale, NeedInput(context, 1));
  const Tensor* zero_point = context.input(2);
  UH_RETURN_IF_ERROR(
      CheckDType(node, *x, "x", {DType::kF32, DType::kF16, DType::kBF16, DType::kI32}));
  UH_RETURN_IF_ERROR(CheckDType(node, *scale, "y_scale", FloatDTypes()));
  UH_ASSIGN_OR_RETURN(const DType out_dtype, QuantizeOutputDType(node, zero_point));
  UH_ASSIGN_OR_RETURN(const ParamLayout layout, LayoutFromAttributes(node, *x, *scale, zero_point));
  // The division x / y_scale runs in `precision` (opset 23+), by default y_scale's dtype.
  std::optional<DType> precision;
  if (node.opset >= 23) {
    UH_ASSIGN_OR_RETURN(precision, DTypeAttribute(node, "precision"));
  }
  const DType divide_dtype = precision.value_or(scale->dtype());
  const std::vector<double> xs = QuantValuesAsDoubles(*x);
  const std::vector<double> scales = QuantValuesAsDoubles(*scale);
  const std::vector<double> zero_points =
      zero_point ? QuantValuesAsDoubles(*zero_point) : std::vector<double>(scales.size(), 0.0);
  // x / y_scale per element, rounded to divide_dtype as the division there would.
  std::vector<double> quantized(xs.size());
  const bool visited = VisitFloatDType(divide_dtype, [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < xs.size(); ++i) {
      const size_t p = static_cast<size_t>(layout.Index(static_cast<int64_t>(i)));
      const T ratio =
          FromCompute<T>(ToCompute(FromDouble<T>(xs[i])) / ToCompute(FromDouble<T>(scales[p])));
      quantized[i] = AsDouble(ratio);
    }
  });
  if (!visited) {
    return UnimplementedError(node.Describe() + " opset " + std::to_string(node.opset) +
                              ": precision " + std::string(DTypeName(divide_dtype)) +
                              " is not supported (float types only)");
  }
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, out_dtype, x->shape()));
  auto param_index = [&](size_t i) {
    return static_cast<size_t>(layout.Index(static_cast<int64_t>(i)));
  };
  if (IsStorageOnly(out_dtype)) {
    int64_t saturate = 1;
    if (node.opset >= 19) {
      UH_ASSIGN_OR_RETURN(saturate, node.GetInt("saturate", 1));
    }
    StoreLowPrecision(quantized, zero_points, param_index, saturate != 0, y);
    return Status::Ok();
  }
  for (size_t i = 0; i < quantized.size(); ++i) {
    quantized[i] = std::nearbyint(quantized[i]) + zero_points[param_index(i)];
  }
  StoreSaturated(quantized, y);
  return Status::Ok();
}

Status ComputeDequantizeLinear(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* scale, NeedInput(context, 1));
  const Tensor* zero_point = context.input(2);
  std::vector<DType> x_dtypes = QuantizedDTypes();
  x_dtypes.push_back(DType::kI32);
  const auto& low_precision = LowPrecisionQuantizedDTypes();
  x_dtypes.insert(x_dtypes.end(), low_precision.begin(), low_precision.end());
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "x", x_dtypes));
  UH_RETURN_IF_ERROR(CheckDType(node, *scale, "x_scale", FloatDTypes()));
  if (zero_point) UH_RETURN_IF_ERROR(CheckDType(node, *zero_point, "x_zero_point", {x->dtype()}));
  UH_ASSIGN_OR_RETURN(const ParamLayout layout, LayoutFromAttributes(node, *x, *scale, zero_point));
  std::optional<DType> out_attribute;
  if (node.opset >= 23) {
    UH_ASSIGN_OR_RETURN(out_attribute, DTypeAttribute(node, "output_dtype"));
  }
  const DType out_dtype = out_attribute.value_or(scale->dtype());
  const auto& floats = FloatDTypes();
  if (std::find(floats.begin(), floats.end(), out_dtype) == floats.end()) {
    return InvalidArgumentError(node.Describe() + ": output_dtype " +
                                std::string(DTypeName(out_dtype)) + " is not a float type");
  }
  const std::vector<double> xs = QuantValuesAsDoubles(*x);
  const std::vector<double> scales = QuantValuesAsDoubles(*scale);
  const std::vector<double> zero_points =
      zero_point ? QuantValuesAsDoubles(*zero_point) : std::vector<double>(scales.size(), 0.0);
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, out_dtype, x->shape()));
  VisitFloatDType(out_dtype, [&](auto tag) {
    using T = decltype(tag);
    T* out = y->data_as<T>();
    for (size_t i = 0; i < xs.size(); ++i) {
      const size_t p = static_cast<size_t>(layout.Index(static_cast<int64_t>(i)));
      // The difference is exact and the product of two floats is exact in double, so one
      // rounding to T gives what float arithmetic would.
      out[i] = FromDouble<T>((xs[i] - zero_points[p]) * scales[p]);
    }
  });
  return Status::Ok();
}

// uint8 quantization with the range [min(0, min x), max(0, max x)], in float32 as ONNX's
// reference does it.
Status ComputeDynamicQuantizeLinear(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "x", {DType::kF32}));
  const float* xs = x->data_as<float>();
  const int64_t n = x->num_elements();
  float max_x = 0.0f;
  float min_x = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    max_x = std::max(max_x, xs[i]);
    min_x = std::min(min_x, xs[i]);
  }
  const float scale = (max_x == min_x ? 1.0f : max_x - min_x) / 255.0f;
  const float initial_zero_point = 0.0f - min_x / scale;
  const float zero_point = std::nearbyint(std::clamp(initial_zero_point, 0.0f, 255.0f));
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kU8, x->shape()));
  uint8_t* ys = y->data_as<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    ys[i] = SaturateToInteger<uint8_t>(std::nearbyint(xs[i] / scale) + zero_point);
  }
  if (context.num_outputs() > 1) {
    UH_ASSIGN_OR_RETURN(Tensor * y_scale, context.AllocateOutput(1, DType::kF32, {}));
    *y_scale->data_as<float>() = scale;
  }
  if (context.num_outputs() > 2) {
    UH_ASSIGN_OR_RETURN(Tensor * y_zero_point, context.AllocateOutput(2, DType::kU8, {}));
    *y_zero_point->data_as<uint8_t>() = static_cast<uint8_t>(zero_point);
  }
  return Status::Ok();
}

}  // namespace

void RegisterQuantizationKernels(hal::KernelRegistry& registry) {
  // Both take float8 / float4 / int4 / int2 tensors (LowPrecisionQuantizedDTypes).
  hal::KernelDef quantize =
      ReferenceKernelDef("QuantizeLinear", 10, INT_MAX, StatelessKernel(ComputeQuantizeLinear));
  quantize.accepts_storage_only_dtypes = true;
  registry.Register(std::move(quantize));
  hal::KernelDef dequantize =
      ReferenceKernelDef("DequantizeLinear", 10, INT_MAX, StatelessKernel(ComputeDequantizeLinear));
  dequantize.accepts_storage_only_dtypes = true;
  registry.Register(std::move(dequantize));
  registry.Register(ReferenceKernelDef("DynamicQuantizeLinear", 11, INT_MAX,
                                       StatelessKernel(ComputeDynamicQuantizeLinear)));
  RegisterQuantizedLinearKernels(registry);
}

}  // namespace unihal::cpu
