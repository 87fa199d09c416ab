// Reference reduction kernels: ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceSumSquare
// (ReduceMean/Sum/Max/Min/Prod are in math.cc), ArgMax / ArgMin and Hardmax. The losses, scans,
// TopK, Einsum and Det of this family register from their own files.
#include <cmath>
#include <limits>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/reduce_util.h"
#include "drivers/cpu/kernels/reduction_kernels.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

// ---- ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceSumSquare ----

// Each is a sum of a mapped element, finished by one function of the sum. LogSumExp also
// subtracts each output's max before exp so large inputs do not overflow.
enum class SumReduction { kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

double MapElement(SumReduction r, double v, double max) {
  switch (r) {
    case SumReduction::kL1:
      return std::fabs(v);
    case SumReduction::kL2:
    case SumReduction::kSumSquare:
      return v * v;
    case SumReduction::kLogSum:
      return v;
    case SumReduction::kLogSumExp:
      return std::exp(v - max);
  }
  return v;
}

double FinishSum(SumReduction r, double sum, double max) {
  switch (r) {
    case SumReduction::kL2:
      return std::sqrt(sum);
    case SumReduction::kLogSum:
      return std::log(sum);
    case SumReduction::kLogSumExp:
      // An infinite max (or an empty set, whose max is -inf) is the answer itself; subtracting
      // it would give NaN.
      return std::isinf(max) ? max : std::log(sum) + max;
    default:
      return sum;
  }
}

// The per-output max of x under `geometry`, NaN when an output sees a NaN.
template <typename T>
std::vector<double> ReducedMax(hal::ThreadPool& pool, const ReduceGeometry& geometry, const T* x) {
  std::vector<double> max(static_cast<size_t>(geometry.num_outputs()),
                          -std::numeric_limits<double>::infinity());
  FoldReduced(pool, geometry, x, [&](int64_t o, T value) {
    const double v = AsDouble(value);
    if (v > max[o] || std::isnan(v)) max[o] = v;
  });
  return max;
}

Status ComputeSumReduction(KernelContext& context, SumReduction reduction) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", NumericDTypes()));
  // All five take axes from input 1 from opset 18 on.
  UH_ASSIGN_OR_RETURN(const ReduceGeometry geometry, ReduceGeometryOf(context, *x, 18));
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, x->dtype(), geometry.out_shape));
  const size_t out_count = static_cast<size_t>(out->num_elements());
  VisitNumericDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = x->data_as<T>();
    hal::ThreadPool& pool = context.thread_pool();
    std::vector<double> max(out_count, 0.0);
    if (reduction == SumReduction::kLogSumExp) max = ReducedMax(pool, geometry, src);
    std::vector<double> sum(out_count, 0.0);
    FoldReduced(pool, geometry, src, [&](int64_t o, T value) {
      sum[o] += MapElement(reduction, AsDouble(value), max[o]);
    });
    T* dst = out->data_as<T>();
    for (size_t o = 0; o < out_count; ++o) {
      dst[o] = FromDouble<T>(FinishSum(reduction, sum[o], max[o]));
    }
  });
  return Status::Ok();
}

// ---- ArgMax / ArgMin / Hardmax ----

// Whether `v` replaces `best` as the extreme so far. NaN counts as the extreme for both
// directions, as in NumPy; `last` keeps the last of equal extremes instead of the first.
template <typename C>
bool Replaces(C v, C best, bool max, bool last) {
  if (IsNan(best)) return last && IsNan(v);
  if (IsNan(v)) return true;
  if (last && v == best) return true;
  return max ? v > best : v < best;
}

// For each (outer, inner) lane of x viewed as [outer, n, inner], the index along n of the
// max (or min) element. n must be positive.
template <typename T>
std::vector<int64_t> ArgExtremes(const T* x, const AxisSplit& split, bool max, bool last) {
  std::vector<int64_t> index(static_cast<size_t>(split.outer * split.inner), 0);
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t i = 0; i < split.inner; ++i) {
      const T* lane = x + o * split.n * split.inner + i;
      auto best = ToCompute(lane[0]);
      int64_t best_k = 0;
      for (int64_t k = 1; k < split.n; ++k) {
        const auto v = ToCompute(lane[k * split.inner]);
        if (Replaces(v, best, max, last)) {
          best = v;
          best_k = k;
        }
      }
      index[static_cast<size_t>(o * split.inner + i)] = best_k;
    }
  }
  return index;
}

// [outer, n, inner] around dim `axis`, or around dims [axis, rank) when `coerce_2d`.
AxisSplit SplitAt(const Shape& shape, int64_t axis, bool coerce_2d) {
  AxisSplit split;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    const int64_t dim = shape[static_cast<size_t>(d)];
    if (d < axis) {
      split.outer *= dim;
    } else if (d == axis || coerce_2d) {
      split.n *= dim;
    } else {
      split.inner *= dim;
    }
  }
  return split;
}

Status ComputeArgExtreme(KernelContext& context, bool max) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", NumericDTypes()));
  UH_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", 0));
  UH_ASSIGN_OR_RETURN(const int64_t keepdims, node.GetInt("keepdims", 1));
  UH_ASSIGN_OR_RETURN(const int64_t select_last_index, node.GetInt("select_last_index", 0));
  UH_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, x->rank()));
  const Shape& shape = x->shape();
  if (shape[static_cast<size_t>(axis)] == 0) {
    return InvalidArgumentError(node.Describe() + ": axis " + std::to_string(axis) + " of " +
                                x->Describe() + " is empty; there is no extreme element");
  }
  Shape out_shape;
  for (int64_t d = 0; d < x->rank(); ++d) {
    if (d != axis) {
      out_shape.push_back(shape[static_cast<size_t>(d)]);
    } else if (keepdims) {
      out_shape.push_back(1);
    }
  }
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, DType::kI64, out_shape));
  if (out->num_elements() == 0) return Status::Ok();
  VisitNumericDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const std::vector<int64_t> index =
        ArgExtremes(x->data_as<T>(), SplitAt(shape, axis, false), max, select_last_index != 0);
    std::copy(index.begin(), index.end(), out->data_as<int64_t>());
  });
  return Status::Ok();
}

Status ComputeHardmax(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", FloatDTypes()));
  // Before opset 13 the input is coerced to 2-D at `axis` (default 1); since 13 hardmax runs
  // along `axis` alone (default -1).
  const bool coerce_2d = node.opset < 13;
  UH_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", coerce_2d ? 1 : -1));
  UH_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, x->rank()));
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), x->shape()));
  const AxisSplit split = SplitAt(x->shape(), axis, coerce_2d);
  if (y->num_elements() == 0) return Status::Ok();
  VisitFloatDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const std::vector<int64_t> index = ArgExtremes(x->data_as<T>(), split, true, false);
    T* dst = y->data_as<T>();
    std::fill(dst, dst + y->num_elements(), FromDouble<T>(0.0));
    for (int64_t o = 0; o < split.outer; ++o) {
      for (int64_t i = 0; i < split.inner; ++i) {
        const int64_t k = index[static_cast<size_t>(o * split.inner + i)];
        dst[(o * split.n + k) * split.inner + i] = FromDouble<T>(1.0);
      }
    }
  });
  return Status::Ok();
}

}  // namespace

void RegisterReductionKernels(hal::KernelRegistry& registry) {
  struct SumOp {
    const char* name;
    SumReduction reduction;
  };
  for (const SumOp& op :
       {SumOp{"ReduceL1", SumReduction::kL1}, SumOp{"ReduceL2", SumReduction::kL2},
        SumOp{"ReduceLogSum", SumReduction::kLogSum},
        SumOp{"ReduceLogSumExp", SumReduction::kLogSumExp},
        SumOp{"ReduceSumSquare", SumReduction::kSumSquare}}) {
    registry.Register(ReferenceKernelDef(
        op.name, 1, INT_MAX,
        StatelessKernel([op](KernelContext& c) { return ComputeSumReduction(c, op.reduction); }),
        AcceptInputDTypes({0}, NumericDTypes())));
  }
  const SupportsFn numeric = AcceptInputDTypes({0}, NumericDTypes());
  registry.Register(ReferenceKernelDef("ArgMax", 1, INT_MAX, StatelessKernel([](KernelContext& c) {
                                         return ComputeArgExtreme(c, /*max=*/true);
                                       }),
                                       numeric));
  registry.Register(ReferenceKernelDef("ArgMin", 1, INT_MAX, StatelessKernel([](KernelContext& c) {
                                         return ComputeArgExtreme(c, /*max=*/false);
                                       }),
                                       numeric));
  registry.Register(ReferenceKernelDef("Hardmax", 1, INT_MAX, StatelessKernel(ComputeHardmax),
                                       AcceptInputDTypes({0}, FloatDTypes())));

  RegisterLossKernels(registry);
  RegisterScanAndSortKernels(registry);
  RegisterLinalgKernels(registry);
}

}  // namespace unihal::cpu
