// Helpers shared by the quantization kernels (QuantizeLinear, DequantizeLinear and the
// quantized MatMul / Conv family): element reading as doubles and saturating integer stores.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "drivers/cpu/kernels/kernel_util.h"
#include "unihal/low_precision.h"

namespace unihal::cpu {

// The byte-sized integer dtypes of a quantized tensor (the arithmetic path; see also
// LowPrecisionQuantizedDTypes).
inline const std::vector<DType>& QuantizedDTypes() {
  static const std::vector<DType> kQuantized = {DType::kI8, DType::kU8, DType::kI16, DType::kU16};
  return kQuantized;
}

// The storage-only dtypes QuantizeLinear / DequantizeLinear take (through low_precision.h).
inline const std::vector<DType>& LowPrecisionQuantizedDTypes() {
  static const std::vector<DType> kLowPrecision = {
      DType::kF8E4M3FN, DType::kF8E4M3FNUZ, DType::kF8E5M2, DType::kF8E5M2FNUZ, DType::kF4E2M1,
      DType::kI4,       DType::kU4,         DType::kI2,     DType::kU2};
  return kLowPrecision;
}

// Every element of a numeric or storage-only tensor as a double (exact for all integers up to
// 2^53 and for every float8 / float4 / int4 / int2 code).
inline std::vector<double> QuantValuesAsDoubles(const Tensor& tensor) {
  std::vector<double> values(static_cast<size_t>(tensor.num_elements()));
  if (IsStorageOnly(tensor.dtype())) {
    for (size_t i = 0; i < values.size(); ++i) {
      const int64_t index = static_cast<int64_t>(i);
      values[i] =
          DecodeLowPrecision(tensor.dtype(), LoadCode(tensor.data(), tensor.dtype(), index));
    }
    return values;
  }
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

// Writes QuantizeLinear's ratios x / scale into the storage-only tensor `out`, sequentially
// (StoreCode shares bytes between elements). Integer types round half to even before adding
// the zero point, then clamp; float8 / float4 add the zero point and encode with `saturate`.
inline void StoreLowPrecision(const std::vector<double>& ratios,
                              const std::vector<double>& zero_points,
                              const std::function<size_t(size_t)>& param_index, bool saturate,
                              Tensor* out) {
  const DType dtype = out->dtype();
  void* data = out->data();
  if (out->nbytes()) std::memset(data, 0, out->nbytes());  // StoreCode keeps neighbours' bits
  const bool is_integer = LowPrecisionIntRange(dtype).has_value();
  for (size_t i = 0; i < ratios.size(); ++i) {
    const double zero_point = zero_points[param_index(i)];
    const uint8_t code = is_integer
                             ? SaturateToIntCode(dtype, std::nearbyint(ratios[i]) + zero_point)
                             : EncodeFloatCode(dtype, ratios[i] + zero_point, saturate);
    StoreCode(data, dtype, static_cast<int64_t>(i), code);
  }
}

// a * b / c computed the way NumPy does for scales of dtype T: each step rounded to T (float16
// scales multiply in float16).
template <typename T>
double ScaleRatio(T a, T b, T c) {
  const T product = FromCompute<T>(ToCompute(a) * ToCompute(b));
  return AsDouble(FromCompute<T>(ToCompute(product) / ToCompute(c)));
}

}  // namespace unihal::cpu
