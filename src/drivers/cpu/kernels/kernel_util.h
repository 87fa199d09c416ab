// Helpers shared by the reference elementwise, math and shape kernels: registration shorthand,
// input and attribute reading, axis normalisation and dtype dispatch.
#pragma once

#include <climits>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "unihal/hal/kernel.h"
#include "unihal/hal/kernel_registry.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cpu {

using SupportsFn = std::function<hal::SupportResult(const hal::KernelCreateInfo&)>;

// The reference KernelDef for `op_type` over opsets [min_opset, max_opset]. `supports` may be
// empty (takes every node).
hal::KernelDef ReferenceKernelDef(std::string op_type, int min_opset, int max_opset,
                                  hal::KernelFactory create, SupportsFn supports = nullptr);
// A factory for a kernel without create-time state that computes with `fn`.
hal::KernelFactory StatelessKernel(hal::FunctionKernel::Fn fn);
// Wraps `fn` as a kernel (for factories that capture parsed attributes in `fn`).
Result<std::unique_ptr<hal::Kernel>> MakeFunctionKernel(hal::FunctionKernel::Fn fn);

// A `supports` that accepts the node when the dtype of each listed input is unknown or in
// `allowed`, else says which input has which unsupported dtype.
SupportsFn AcceptInputDTypes(std::vector<size_t> inputs, std::vector<DType> allowed);

// Input i, or an error naming the node when it is absent.
Result<const Tensor*> NeedInput(const hal::KernelContext& context, size_t i);

// An error unless `tensor` has one of `allowed`; names the node, the input and the dtypes.
Status CheckDType(const ir::Node& node, const Tensor& tensor, const std::string& what,
                  const std::vector<DType>& allowed);

// Maps axis in [-rank, rank) to [0, rank); errors name the node.
Result<int64_t> NormalizeAxis(const ir::Node& node, int64_t axis, int64_t rank);
// Normalises each axis and rejects duplicates.
Result<std::vector<int64_t>> NormalizeAxes(const ir::Node& node, std::vector<int64_t> axes,
                                           int64_t rank);

// An optional list of ints (an optional input or attribute). A struct rather than
// std::optional<std::vector>, which trips GCC 12's maybe-uninitialized warning.
struct OptionalInts {
  bool given = false;
  std::vector<int64_t> values;
};

// The integer values of input i (any integer dtype); not `given` when the input is absent.
Result<OptionalInts> OptionalInt64Input(const hal::KernelContext& context, size_t i);
// Opset-dependent int list: from input `input_index` when the node's opset is at least
// `input_since_opset`, else from attribute `attribute`. Not `given` when neither is.
Result<OptionalInts> Int64sFromInputOrAttribute(const hal::KernelContext& context,
                                                size_t input_index, const std::string& attribute,
                                                int input_since_opset);

// "float32, float64"
std::string DTypeListString(const std::vector<DType>& dtypes);

inline const std::vector<DType>& FloatDTypes() {
  static const std::vector<DType> kFloat = {DType::kF32, DType::kF64, DType::kF16, DType::kBF16};
  return kFloat;
}
// Every dtype with arithmetic (all but bool).
const std::vector<DType>& NumericDTypes();
const std::vector<DType>& AllDTypes();

// Calls fn(T{}) for float32/float64/float16/bfloat16; returns false for other dtypes.
template <typename Fn>
bool VisitFloatDType(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kF32:
      fn(float{});
      return true;
    case DType::kF64:
      fn(double{});
      return true;
    case DType::kF16:
      fn(Float16{});
      return true;
    case DType::kBF16:
      fn(BFloat16{});
      return true;
    default:
      return false;
  }
}

// Calls fn(T{}) for every dtype but bool and kUndefined.
template <typename Fn>
bool VisitNumericDType(DType dtype, Fn&& fn) {
  if (dtype == DType::kBool) return false;
  // The wrapper keeps fn from being instantiated for bool.
  return VisitDType(dtype, [&fn](auto tag) {
    if constexpr (!std::is_same_v<decltype(tag), bool>) fn(tag);
  });
}

// Calls fn(U{}) with U an unsigned integer as wide as one element (1, 2, 4 or 8 bytes): shape
// ops move elements without looking at them.
template <typename Fn>
bool VisitElementSize(size_t element_size, Fn&& fn) {
  switch (element_size) {
    case 1:
      fn(uint8_t{});
      return true;
    case 2:
      fn(uint16_t{});
      return true;
    case 4:
      fn(uint32_t{});
      return true;
    case 8:
      fn(uint64_t{});
      return true;
    default:
      return false;
  }
}

// The type arithmetic is done in: float for the 16-bit floats, T itself otherwise.
template <typename T>
using ComputeType =
    std::conditional_t<std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>, float, T>;

template <typename T>
ComputeType<T> ToCompute(T value) {
  return static_cast<ComputeType<T>>(value);
}
template <typename T, typename C>
T FromCompute(C value) {
  if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
    return T(static_cast<float>(value));
  } else {
    return static_cast<T>(value);
  }
}

// Element `value` as a double, for any element type.
template <typename T>
double AsDouble(T value) {
  if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
    return static_cast<double>(static_cast<float>(value));
  } else {
    return static_cast<double>(value);
  }
}

// A double as element type T: rounding for floats, C truncation toward zero for integers, with
// NaN and out-of-range values mapped to what x86 gives instead of undefined behaviour.
template <typename T>
T FromDouble(double value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value != 0.0;
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(value);
  } else if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
    return T(static_cast<float>(value));
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    if (value >= 0.0 && value < 18446744073709551616.0) return static_cast<uint64_t>(value);
    if (value < 0.0 && value >= -9223372036854775808.0) {
      return static_cast<uint64_t>(static_cast<int64_t>(value));
    }
    return uint64_t{1} << 63;
  } else {
    // Every narrower integer goes through int64, as C and NumPy do for in-range values.
    if (!(value >= -9223372036854775808.0 && value < 9223372036854775808.0)) {
      return static_cast<T>(INT64_MIN);
    }
    return static_cast<T>(static_cast<int64_t>(value));
  }
}

}  // namespace unihal::cpu
