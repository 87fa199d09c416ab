// Reference math kernels: Softmax / LogSoftmax, the Reduce* family (ReduceMean ReduceSum
// ReduceMax ReduceMin ReduceProd), LayerNormalization; Cast and CastLike are in cast.cc.
#include <cmath>
#include <limits>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/broadcast.h"
#include "drivers/cpu/kernels/cast.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/math_ref.h"
#include "drivers/cpu/kernels/reduce_util.h"
#include "onnx/tensor_proto.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

// ---- Softmax / LogSoftmax ----

// Normalises x viewed as [outer, n, inner] along the middle dim. Each outer block keeps one
// running max and sum per inner lane so the memory walk stays contiguous.
template <typename T>
void SoftmaxBlocks(hal::ThreadPool& pool, const T* x, T* y, int64_t outer, int64_t n, int64_t inner,
                   bool log) {
  using C = ComputeType<T>;
  const int64_t grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, n * inner));
  pool.ParallelFor(outer, grain, [&](int64_t begin, int64_t end) {
    std::vector<C> max(static_cast<size_t>(inner));
    std::vector<double> sum(static_cast<size_t>(inner));
    for (int64_t o = begin; o < end; ++o) {
      const T* xb = x + o * n * inner;
      T* yb = y + o * n * inner;
      std::fill(max.begin(), max.end(), -std::numeric_limits<C>::infinity());
      std::fill(sum.begin(), sum.end(), 0.0);
      for (int64_t k = 0; k < n; ++k) {
        for (int64_t i = 0; i < inner; ++i) max[i] = std::max(max[i], ToCompute(xb[k * inner + i]));
      }
      for (int64_t k = 0; k < n; ++k) {
        for (int64_t i = 0; i < inner; ++i) {
          const C e = std::exp(ToCompute(xb[k * inner + i]) - max[i]);
          sum[i] += e;
          if (!log) yb[k * inner + i] = FromCompute<T>(e);
        }
      }
      for (int64_t k = 0; k < n; ++k) {
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t at = k * inner + i;
          if (log) {
            yb[at] = FromCompute<T>(ToCompute(xb[at]) - max[i] - static_cast<C>(std::log(sum[i])));
          } else {
            yb[at] = FromCompute<T>(ToCompute(yb[at]) / static_cast<C>(sum[i]));
          }
        }
      }
    }
  });
}

Status ComputeSoftmax(KernelContext& context, bool log) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", FloatDTypes()));
  // Before opset 13 the input is coerced to 2-D at `axis` (default 1); since 13 the softmax
  // runs along `axis` alone (default -1).
  const bool coerce_2d = node.opset < 13;
  UH_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", coerce_2d ? 1 : -1));
  const Shape& shape = x->shape();
  UH_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, x->rank()));
  int64_t outer = 1, n = 1, inner = 1;
  for (int64_t d = 0; d < x->rank(); ++d) {
    if (d < axis) {
      outer *= shape[d];
    } else if (d == axis || coerce_2d) {
      n *= shape[d];
    } else {
      inner *= shape[d];
    }
  }
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), shape));
  if (y->num_elements() == 0) return Status::Ok();
  VisitFloatDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    SoftmaxBlocks(context.thread_pool(), x->data_as<T>(), y->data_as<T>(), outer, n, inner, log);
  });
  return Status::Ok();
}

// ---- Reductions ----

enum class Reduction { kSum, kMean, kMax, kMin, kProd };

double ReductionIdentity(Reduction r) {
  switch (r) {
    case Reduction::kSum:
    case Reduction::kMean:
      return 0.0;
    case Reduction::kProd:
      return 1.0;
    case Reduction::kMax:
      return -std::numeric_limits<double>::infinity();
    case Reduction::kMin:
      return std::numeric_limits<double>::infinity();
  }
  return 0.0;
}

inline double Combine(Reduction r, double acc, double v) {
  switch (r) {
    case Reduction::kSum:
    case Reduction::kMean:
      return acc + v;
    case Reduction::kProd:
      return acc * v;
    case Reduction::kMax:
      return (v > acc || std::isnan(v)) ? v : acc;
    case Reduction::kMin:
      return (v < acc || std::isnan(v)) ? v : acc;
  }
  return acc;
}

// The value of a reduction over no elements, as T: max and min start from the lowest and
// highest value an integer type has (there is no integer infinity).
template <typename T>
T EmptyReduction(Reduction r) {
  if constexpr (std::is_integral_v<T>) {
    if (r == Reduction::kMax) return std::numeric_limits<T>::lowest();
    if (r == Reduction::kMin) return std::numeric_limits<T>::max();
  }
  return FromDouble<T>(ReductionIdentity(r));
}

// `axes_input_since`: the opset from which axes come from input 1 instead of the attribute.
Status ComputeReduce(KernelContext& context, Reduction reduction, int axes_input_since) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  // ReduceMax and ReduceMin take bool from opset 20 (max is any, min is all).
  const bool takes_bool =
      node.opset >= 20 && (reduction == Reduction::kMax || reduction == Reduction::kMin);
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", takes_bool ? AllDTypes() : NumericDTypes()));
  UH_ASSIGN_OR_RETURN(const ReduceGeometry geometry,
                      ReduceGeometryOf(context, *x, axes_input_since));
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, x->dtype(), geometry.out_shape));
  const int64_t out_count = out->num_elements();
  std::vector<double> acc(static_cast<size_t>(out_count), ReductionIdentity(reduction));
  VisitDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    FoldReduced(context.thread_pool(), geometry, x->data_as<T>(),
                [&](int64_t o, T value) { acc[o] = Combine(reduction, acc[o], AsDouble(value)); });
    T* dst = out->data_as<T>();
    for (int64_t o = 0; o < out_count; ++o) {
      if (reduction == Reduction::kMean) {
        dst[o] = FromDouble<T>(acc[o] / static_cast<double>(geometry.count));
      } else if (geometry.count == 0) {
        dst[o] = EmptyReduction<T>(reduction);
      } else {
        dst[o] = FromDouble<T>(acc[o]);
      }
    }
  });
  return Status::Ok();
}

// ---- LayerNormalization ----

// Scale or B as `inner` doubles: it must broadcast to the normalised dims X.shape[axis:].
Result<std::vector<double>> NormalizedParameter(const ir::Node& node, const Tensor& param,
                                                const std::string& what, const Shape& norm_shape) {
  const Shape shapes[] = {param.shape(), norm_shape};
  Result<Shape> joint = BroadcastShapes(shapes);
  if (!joint.ok() || *joint != norm_shape) {
    return InvalidArgumentError(
        node.Describe() + ": " + what + " has shape " + ShapeToString(param.shape()) +
        ", which does not broadcast to the normalised dims " + ShapeToString(norm_shape));
  }
  std::vector<double> values(static_cast<size_t>(NumElements(norm_shape)));
  const IterationPlan<1> plan =
      MakeIterationPlan<1>(norm_shape, {BroadcastStrides(param.shape(), norm_shape)});
  VisitNumericDType(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = param.data_as<T>();
    ForEachRun(plan, 0, plan.num_elements,
               [&](int64_t o, const std::array<int64_t, 1>& at, int64_t n,
                   const std::array<int64_t, 1>& step) {
                 for (int64_t i = 0; i < n; ++i) values[o + i] = AsDouble(src[at[0] + i * step[0]]);
               });
  });
  return values;
}

Status ComputeLayerNormalization(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* scale, NeedInput(context, 1));
  const Tensor* bias = context.input(2);
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "X", FloatDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *scale, "Scale", {x->dtype()}));
  if (bias) UH_RETURN_IF_ERROR(CheckDType(node, *bias, "B", {x->dtype()}));
  UH_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", -1));
  UH_ASSIGN_OR_RETURN(const float epsilon, node.GetFloat("epsilon", 1e-5f));
  UH_ASSIGN_OR_RETURN(const int64_t stash_type, node.GetInt("stash_type", 1));
  const std::optional<DType> stash_dtype =
      onnx_import::DTypeFromOnnx(static_cast<int32_t>(stash_type));
  if (!stash_dtype || !IsFloatingPoint(*stash_dtype)) {
    return InvalidArgumentError(node.Describe() + ": stash_type " + std::to_string(stash_type) +
                                " is not a float type; use 1 (float)");
  }
  UH_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, x->rank()));
  const Shape& shape = x->shape();
  const Shape norm_shape(shape.begin() + axis, shape.end());
  Shape stat_shape(shape.begin(), shape.begin() + axis);
  stat_shape.resize(shape.size(), 1);
  const int64_t rows = NumElements(Shape(shape.begin(), shape.begin() + axis));
  const int64_t cols = NumElements(norm_shape);
  UH_ASSIGN_OR_RETURN(const std::vector<double> gamma,
                      NormalizedParameter(node, *scale, "Scale", norm_shape));
  std::vector<double> beta(static_cast<size_t>(cols), 0.0);
  if (bias) {
    UH_ASSIGN_OR_RETURN(beta, NormalizedParameter(node, *bias, "B", norm_shape));
  }

  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), shape));
  Tensor* mean_out = nullptr;
  Tensor* inv_std_out = nullptr;
  if (context.num_outputs() > 1) {
    UH_ASSIGN_OR_RETURN(mean_out, context.AllocateOutput(1, *stash_dtype, stat_shape));
  }
  if (context.num_outputs() > 2) {
    UH_ASSIGN_OR_RETURN(inv_std_out, context.AllocateOutput(2, *stash_dtype, stat_shape));
  }
  VisitFloatDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = x->data_as<T>();
    T* dst = y->data_as<T>();
    context.thread_pool().ParallelFor(
        rows, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, cols)),
        [&](int64_t begin, int64_t end) {
          for (int64_t r = begin; r < end; ++r) {
            const T* xr = src + r * cols;
            T* yr = dst + r * cols;
            double sum = 0;
            for (int64_t c = 0; c < cols; ++c) sum += AsDouble(xr[c]);
            const double mean = sum / static_cast<double>(cols);
            double sq = 0;
            for (int64_t c = 0; c < cols; ++c) {
              const double d = AsDouble(xr[c]) - mean;
              sq += d * d;
            }
            const double inv_std = 1.0 / std::sqrt(sq / static_cast<double>(cols) + epsilon);
            for (int64_t c = 0; c < cols; ++c) {
              yr[c] = FromDouble<T>((AsDouble(xr[c]) - mean) * inv_std * gamma[c] + beta[c]);
            }
            if (mean_out) {
              VisitFloatDType(mean_out->dtype(), [&](auto stash_tag) {
                using U = decltype(stash_tag);
                mean_out->data_as<U>()[r] = FromDouble<U>(mean);
              });
            }
            if (inv_std_out) {
              VisitFloatDType(inv_std_out->dtype(), [&](auto stash_tag) {
                using U = decltype(stash_tag);
                inv_std_out->data_as<U>()[r] = FromDouble<U>(inv_std);
              });
            }
          }
        });
  });
  return Status::Ok();
}

// ReduceMax and ReduceMin: numeric dtypes, and bool from opset 20.
hal::SupportResult SupportsMaxMinReduce(const hal::KernelCreateInfo& info) {
  static const SupportsFn numeric = AcceptInputDTypes({0}, NumericDTypes());
  static const SupportsFn all = AcceptInputDTypes({0}, AllDTypes());
  return info.node.opset >= 20 ? all(info) : numeric(info);
}

}  // namespace

Status ReferenceSoftmax(KernelContext& context, bool log) { return ComputeSoftmax(context, log); }
Status ReferenceLayerNormalization(KernelContext& context) {
  return ComputeLayerNormalization(context);
}

void RegisterMathKernels(hal::KernelRegistry& registry) {
  auto floats = AcceptInputDTypes({0}, FloatDTypes());
  registry.Register(ReferenceKernelDef(
      "Softmax", 1, INT_MAX,
      StatelessKernel([](KernelContext& c) { return ComputeSoftmax(c, /*log=*/false); }), floats));
  registry.Register(ReferenceKernelDef(
      "LogSoftmax", 1, INT_MAX,
      StatelessKernel([](KernelContext& c) { return ComputeSoftmax(c, /*log=*/true); }), floats));

  // Axes moved from an attribute to input 1 at opset 13 for ReduceSum, 18 for the others.
  struct ReduceOp {
    const char* name;
    Reduction reduction;
    int axes_input_since;
  };
  for (const ReduceOp& op :
       {ReduceOp{"ReduceMean", Reduction::kMean, 18}, ReduceOp{"ReduceSum", Reduction::kSum, 13},
        ReduceOp{"ReduceMax", Reduction::kMax, 18}, ReduceOp{"ReduceMin", Reduction::kMin, 18},
        ReduceOp{"ReduceProd", Reduction::kProd, 18}}) {
    registry.Register(
        ReferenceKernelDef(op.name, 1, INT_MAX, StatelessKernel([op](KernelContext& c) {
                             return ComputeReduce(c, op.reduction, op.axes_input_since);
                           }),
                           op.reduction == Reduction::kMax || op.reduction == Reduction::kMin
                               ? SupportsMaxMinReduce
                               : AcceptInputDTypes({0}, NumericDTypes())));
  }

  registry.Register(ReferenceKernelDef("LayerNormalization", 17, INT_MAX,
                                       StatelessKernel(ComputeLayerNormalization), floats));
  RegisterCastKernels(registry);  // kernels/cast.cc
}

}  // namespace unihal::cpu
