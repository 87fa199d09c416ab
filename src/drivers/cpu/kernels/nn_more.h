// The kernel families registered by RegisterMoreNnKernels (each in its own file) and the small
// helpers they share: these reference kernels compute in float64 and convert at the edges.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "unihal/hal/kernel.h"
#include "unihal/hal/kernel_registry.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cpu {

// resize.cc: Resize, Upsample.
void RegisterResizeKernels(hal::KernelRegistry& registry);
// grid_sample.cc: GridSample, AffineGrid.
void RegisterGridSampleKernels(hal::KernelRegistry& registry);
// conv_transpose.cc: ConvTranspose, Col2Im.
void RegisterConvTransposeKernels(hal::KernelRegistry& registry);
// deform_conv.cc: DeformConv.
void RegisterDeformConvKernels(hal::KernelRegistry& registry);
// roi_ops.cc: NonMaxSuppression, RoiAlign, MaxRoiPool.
void RegisterRoiKernels(hal::KernelRegistry& registry);
// pool_more.cc: LpPool, GlobalMaxPool, GlobalLpPool, MaxUnpool.
void RegisterMorePoolKernels(hal::KernelRegistry& registry);
// norm_more.cc: LpNormalization, InstanceNormalization, GroupNormalization,
// MeanVarianceNormalization.
void RegisterMoreNormKernels(hal::KernelRegistry& registry);

// The elements of a numeric host tensor as float64.
std::vector<double> TensorToDoubles(const Tensor& tensor);
// Writes `values` (one per element) into `tensor`, converting to its dtype: integers are
// rounded half to even and saturated, as ONNX's reference does for Resize.
void DoublesToTensor(const std::vector<double>& values, Tensor& tensor);
// Allocates output i with `dtype` and `shape` and fills it from `values`.
Status WriteOutput(hal::KernelContext& context, size_t i, DType dtype, Shape shape,
                   const std::vector<double>& values);

// The float values of input i (float dtypes); not given when absent or empty.
struct OptionalDoubles {
  bool given = false;
  std::vector<double> values;
};
Result<OptionalDoubles> OptionalDoubleInput(const hal::KernelContext& context, size_t i);

// An error unless every dim of `shape` is non-negative and it has at most 2^30 elements: these
// kernels hold float64 copies, and a bad attribute must not become an allocation failure.
Status CheckOutputSize(const ir::Node& node, const Shape& shape);

// A float64 coordinate as an integer index without undefined behaviour: NaN and values beyond
// +-2^52 become +-2^52, far outside any tensor.
inline int64_t SafeIndex(double v) {
  constexpr double kLimit = 4503599627370496.0;  // 2^52
  if (!(v > -kLimit)) return -static_cast<int64_t>(kLimit);
  if (v > kLimit) return static_cast<int64_t>(kLimit);
  return static_cast<int64_t>(v);
}

// "node 'x' (Op), opset N: <what>" as an UnimplementedError.
Status Unimplemented(const ir::Node& node, const std::string& what);
// "node 'x' (Op): <what>" as an InvalidArgumentError.
Status Invalid(const ir::Node& node, const std::string& what);

}  // namespace unihal::cpu
