#include "cli/output_compare.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace unihal::cli {
namespace {

template <typename T>
double ToDouble(T value) {
  if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
    return static_cast<double>(static_cast<float>(value));
  } else {
    return static_cast<double>(value);
  }
}

}  // namespace

Result<double> RelativeError(const std::string& name, const Tensor& actual,
                             const Tensor& expected) {
  if (actual.dtype() != expected.dtype() || actual.shape() != expected.shape()) {
    return InvalidArgumentError("output '" + name + "' is " +
                                std::string(DTypeName(actual.dtype())) +
                                ShapeToString(actual.shape()) + " in unihal but " +
                                std::string(DTypeName(expected.dtype())) +
                                ShapeToString(expected.shape()) + " in ONNX Runtime");
  }
  const int64_t count = actual.num_elements();
  if (count > 0 && (!actual.is_host() || !expected.is_host())) {
    return InvalidArgumentError("output '" + name + "' is not in host memory");
  }
  double max_diff = 0, max_expected = 0;
  int64_t first_mismatch = -1;
  VisitDType(actual.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* a = actual.data_as<T>();
    const T* e = expected.data_as<T>();
    for (int64_t i = 0; i < count; ++i) {
      if constexpr (std::is_integral_v<T>) {
        if (a[i] != e[i] && first_mismatch < 0) first_mismatch = i;
      } else {
        const double x = ToDouble(a[i]), y = ToDouble(e[i]);
        if (std::isnan(x) || std::isnan(y)) {
          if (std::isnan(x) != std::isnan(y)) max_diff = std::numeric_limits<double>::infinity();
          continue;
        }
        if (std::isfinite(y)) max_expected = std::max(max_expected, std::abs(y));
        if (x != y) max_diff = std::max(max_diff, std::abs(x - y));
      }
    }
  });
  if (first_mismatch >= 0) {
    return InvalidArgumentError("output '" + name + "' (" + std::string(DTypeName(actual.dtype())) +
                                ") differs from ONNX Runtime's at element " +
                                std::to_string(first_mismatch));
  }
  if (!IsFloatingPoint(actual.dtype())) return 0.0;
  return max_diff / (max_expected > 0 ? max_expected : 1.0);
}

}  // namespace unihal::cli
