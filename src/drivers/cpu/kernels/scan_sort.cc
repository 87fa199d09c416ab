// Reference kernels that walk one axis in order: CumSum and CumProd (running sum or product)
// and TopK (the k largest or smallest elements of each lane, ties to the lower index).
#include <algorithm>
#include <numeric>

#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/reduction_kernels.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

AxisSplit SplitAround(const Shape& shape, int64_t axis) {
  AxisSplit split;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    const int64_t dim = shape[static_cast<size_t>(d)];
    if (d < axis) {
      split.outer *= dim;
    } else if (d == axis) {
      split.n = dim;
    } else {
      split.inner *= dim;
    }
  }
  return split;
}

// ---- CumSum / CumProd ----

// Integers accumulate in uint64, which wraps as the element type would (and has no signed
// overflow to be undefined); floats accumulate in float64.
template <typename T>
using ScanAccumulator = std::conditional_t<std::is_integral_v<T>, uint64_t, double>;

template <typename T>
ScanAccumulator<T> ToAccumulator(T value) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<uint64_t>(value);
  } else {
    return AsDouble(value);
  }
}

template <typename T>
T FromAccumulator(ScanAccumulator<T> value) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(value);
  } else {
    return FromDouble<T>(value);
  }
}

template <typename T>
void Scan(const T* x, T* y, const AxisSplit& split, bool product, bool exclusive, bool reverse) {
  using Acc = ScanAccumulator<T>;
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t i = 0; i < split.inner; ++i) {
      const int64_t base = o * split.n * split.inner + i;
      Acc acc = product ? Acc{1} : Acc{0};
      for (int64_t step = 0; step < split.n; ++step) {
        const int64_t k = reverse ? split.n - 1 - step : step;
        const int64_t at = base + k * split.inner;
        const Acc v = ToAccumulator(x[at]);
        if (!exclusive) acc = product ? acc * v : acc + v;
        y[at] = FromAccumulator<T>(acc);
        if (exclusive) acc = product ? acc * v : acc + v;
      }
    }
  }
}

Status ComputeScan(KernelContext& context, bool product) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* axis_tensor, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", NumericDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *axis_tensor, "axis", {DType::kI32, DType::kI64}));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> axis_values, axis_tensor->ToInt64Vector());
  if (axis_values.size() != 1) {
    return InvalidArgumentError(node.Describe() + ": axis must hold one value, got " +
                                axis_tensor->Describe());
  }
  UH_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(node, axis_values[0], x->rank()));
  UH_ASSIGN_OR_RETURN(const int64_t exclusive, node.GetInt("exclusive", 0));
  UH_ASSIGN_OR_RETURN(const int64_t reverse, node.GetInt("reverse", 0));
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), x->shape()));
  VisitNumericDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    Scan(x->data_as<T>(), y->data_as<T>(), SplitAround(x->shape(), axis), product, exclusive != 0,
         reverse != 0);
  });
  return Status::Ok();
}

// ---- TopK ----

// A strict weak order on element values with NaN above everything, as NumPy sorts.
template <typename C>
bool ValueLess(C a, C b) {
  if (IsNan(a)) return false;
  if (IsNan(b)) return true;
  return a < b;
}

// Writes the top k of each lane: values in order (largest first, or smallest first) and
// their indices along the axis; equal values keep index order.
template <typename T>
void TopKLanes(const T* x, T* values, int64_t* indices, const AxisSplit& split, int64_t k,
               bool largest) {
  std::vector<int64_t> order(static_cast<size_t>(split.n));
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t i = 0; i < split.inner; ++i) {
      const T* lane = x + o * split.n * split.inner + i;
      auto value = [&](int64_t j) { return ToCompute(lane[j * split.inner]); };
      std::iota(order.begin(), order.end(), int64_t{0});
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
        const auto va = value(a), vb = value(b);
        if (largest ? ValueLess(vb, va) : ValueLess(va, vb)) return true;
        if (largest ? ValueLess(va, vb) : ValueLess(vb, va)) return false;
        return a < b;
      });
      const int64_t out_base = o * k * split.inner + i;
      for (int64_t j = 0; j < k; ++j) {
        const int64_t src = order[static_cast<size_t>(j)];
        values[out_base + j * split.inner] = lane[src * split.inner];
        indices[out_base + j * split.inner] = src;
      }
    }
  }
}

// k: the `k` attribute before opset 10, a one-element input after.
Result<int64_t> TopKCount(const KernelContext& context) {
  const ir::Node& node = context.node();
  if (node.opset < 10) return node.GetInt("k");
  UH_ASSIGN_OR_RETURN(const Tensor* k_tensor, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckDType(node, *k_tensor, "k", {DType::kI64}));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> k, k_tensor->ToInt64Vector());
  if (k.size() != 1) {
    return InvalidArgumentError(node.Describe() + ": k must hold one value, got " +
                                k_tensor->Describe());
  }
  return k[0];
}

Status ComputeTopK(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", NumericDTypes()));
  UH_ASSIGN_OR_RETURN(const int64_t k, TopKCount(context));
  UH_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", -1));
  UH_ASSIGN_OR_RETURN(const int64_t largest, node.GetInt("largest", 1));
  // `sorted` = 0 leaves the order unspecified; sorted order is one valid answer.
  UH_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, x->rank()));
  const AxisSplit split = SplitAround(x->shape(), axis);
  if (k < 0 || k > split.n) {
    return InvalidArgumentError(node.Describe() + ": k = " + std::to_string(k) +
                                " is outside [0, " + std::to_string(split.n) +
                                "], the size of axis " + std::to_string(axis) + " of " +
                                x->Describe());
  }
  Shape out_shape = x->shape();
  out_shape[static_cast<size_t>(axis)] = k;
  UH_ASSIGN_OR_RETURN(Tensor * values, context.AllocateOutput(0, x->dtype(), out_shape));
  UH_ASSIGN_OR_RETURN(Tensor * indices, context.AllocateOutput(1, DType::kI64, out_shape));
  if (values->num_elements() == 0) return Status::Ok();
  VisitNumericDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    TopKLanes(x->data_as<T>(), values->data_as<T>(), indices->data_as<int64_t>(), split, k,
              largest != 0);
  });
  return Status::Ok();
}

}  // namespace

void RegisterScanAndSortKernels(hal::KernelRegistry& registry) {
  const SupportsFn numeric = AcceptInputDTypes({0}, NumericDTypes());
  registry.Register(ReferenceKernelDef("CumSum", 11, INT_MAX, StatelessKernel([](KernelContext& c) {
                                         return ComputeScan(c, /*product=*/false);
                                       }),
                                       numeric));
  registry.Register(ReferenceKernelDef(
      "CumProd", 26, INT_MAX,
      StatelessKernel([](KernelContext& c) { return ComputeScan(c, /*product=*/true); }), numeric));
  registry.Register(ReferenceKernelDef("TopK", 1, INT_MAX, StatelessKernel(ComputeTopK), numeric));
}

}  // namespace unihal::cpu
