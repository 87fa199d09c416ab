// Helpers shared by the quantization kernels (QuantizeLinear, DequantizeLinear and the
// quantized MatMul / Conv family): element reading as doubles and saturating integer stores.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "drivers/cpu/kernels/kernel_util.h"

namespace unihal::cpu {

// The integer dtypes a quantized tensor may have in unihal (no int4 / float8 tensors exist).
inline const std::vector<DType>& QuantizedDTypes() {
  static const std::vector<DType> kQuantized = {DType::kI8, DType::kU8, DType::kI16, DType::kU16};
  return kQuantized;
}

// Every element of a numeric tensor as a double (exact for all integers up to 2^53).
inline std::vector<double> ToDoubles(const Tensor& tensor) {
  std::vector<double> values(static_cast<size_t>(tensor.num_elements()));
  VisitNumericDType(tensor.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* data = tensor.data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) values[i] = AsDouble(data[i]);
  });
  return values;
}

// Rounds half to even (np.rint) and clamps into integer type Q's range.
template <typename Q>
Q SaturateToInteger(double value) {
  const double lowest = static_cast<double>(std::numeric_limits<Q>::lowest());
  const double highest = static_cast<double>(std::numeric_limits<Q>::max());
  if (std::isnan(value)) return Q(0);
  const double rounded = std::nearbyint(value);
  if (rounded <= lowest) return std::numeric_limits<Q>::lowest();
  if (rounded >= highest) return std::numeric_limits<Q>::max();
  return static_cast<Q>(rounded);
}

// Writes `values` (unrounded) into the integer tensor `out`, rounding half to even and
// saturating. `out` must have one of QuantizedDTypes() or int32.
inline void StoreSaturated(const std::vector<double>& values, Tensor* out) {
  VisitNumericDType(out->dtype(), [&](auto tag) {
    using Q = decltype(tag);
    if constexpr (std::is_integral_v<Q>) {
      Q* data = out->data_as<Q>();
      for (size_t i = 0; i < values.size(); ++i) data[i] = SaturateToInteger<Q>(values[i]);
    }
  });
}

// a * b / c computed the way NumPy does for scales of dtype T: each step rounded to T (float16
// scales multiply in float16).
template <typename T>
double ScaleRatio(T a, T b, T c) {
  const T product = FromCompute<T>(ToCompute(a) * ToCompute(b));
  return AsDouble(FromCompute<T>(ToCompute(product) / ToCompute(c)));
}

}  // namespace unihal::cpu
