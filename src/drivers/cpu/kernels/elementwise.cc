// Reference elementwise kernels: broadcasting binary ops (Add Sub Mul Div Pow, comparisons,
// logic), variadic ops (Sum Mean Max Min), Where, and unary ops (Relu Sigmoid Tanh Erf Sqrt Exp
// and friends, Clip, LeakyRelu). 16-bit floats compute in float32.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/broadcast.h"
#include "drivers/cpu/kernels/kernel_util.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

// Which element types an op takes.
enum class TypeSet { kNumeric, kFloat, kBool, kAll };

template <typename T>
constexpr bool kIs16BitFloat = std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;

template <TypeSet S, typename T>
constexpr bool InTypeSet() {
  constexpr bool is_float = std::is_floating_point_v<T> || kIs16BitFloat<T>;
  constexpr bool is_bool = std::is_same_v<T, bool>;
  switch (S) {
    case TypeSet::kNumeric:
      return !is_bool;
    case TypeSet::kFloat:
      return is_float;
    case TypeSet::kBool:
      return is_bool;
    case TypeSet::kAll:
      return true;
  }
  return false;
}

std::vector<DType> DTypesOf(TypeSet set) {
  switch (set) {
    case TypeSet::kNumeric:
      return NumericDTypes();
    case TypeSet::kFloat:
      return FloatDTypes();
    case TypeSet::kBool:
      return {DType::kBool};
    case TypeSet::kAll:
      return AllDTypes();
  }
  return {};
}

// Signed integer arithmetic wraps (as the hardware does) instead of being undefined on overflow.
template <typename T, typename Fn>
T Wrapping(T a, T b, Fn fn) {
  if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(fn(static_cast<U>(a), static_cast<U>(b)));
  } else {
    return static_cast<T>(fn(a, b));
  }
}

struct AddOp {
  template <typename T>
  T operator()(T a, T b) const {
    return Wrapping(a, b, [](auto x, auto y) { return x + y; });
  }
};
struct SubOp {
  template <typename T>
  T operator()(T a, T b) const {
    return Wrapping(a, b, [](auto x, auto y) { return x - y; });
  }
};
struct MulOp {
  template <typename T>
  T operator()(T a, T b) const {
    return Wrapping(a, b, [](auto x, auto y) { return x * y; });
  }
};
struct DivOp {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      // Integer division truncates; x/0 gives 0 rather than a crash, and MIN/-1 wraps.
      if (b == 0) return 0;
      if constexpr (std::is_signed_v<T>) {
        if (b == -1) return Wrapping(T{0}, a, [](auto x, auto y) { return x - y; });
      }
      return static_cast<T>(a / b);
    } else {
      return a / b;
    }
  }
};
// NaN-propagating max/min, as numpy.maximum / numpy.minimum.
struct MaxOp {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    }
    return a > b ? a : b;
  }
};
struct MinOp {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    }
    return a < b ? a : b;
  }
};
struct EqualOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a == b;
  }
};
struct LessOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a < b;
  }
};
struct LessOrEqualOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a <= b;
  }
};
struct GreaterOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a > b;
  }
};
struct GreaterOrEqualOp {
  template <typename T>
  bool operator()(T a, T b) const {
    return a >= b;
  }
};
struct AndOp {
  bool operator()(bool a, bool b) const { return a && b; }
};
struct OrOp {
  bool operator()(bool a, bool b) const { return a || b; }
};
struct XorOp {
  bool operator()(bool a, bool b) const { return a != b; }
};

// out[i] = op(a[i'], b[i'']) over `plan` (operand 0 = a, 1 = b); out is contiguous. The common
// cases (both contiguous, one side a broadcast scalar run) get their own loops so they vectorise.
template <typename TA, typename TB, typename TO, typename Op>
void BinaryLoop(hal::ThreadPool& pool, const IterationPlan<2>& plan, const TA* a, const TB* b,
                TO* out, Op op) {
  ParallelForEachRun(pool, plan,
                     [&](int64_t o, const std::array<int64_t, 2>& at, int64_t n,
                         const std::array<int64_t, 2>& step) {
                       const TA* pa = a + at[0];
                       const TB* pb = b + at[1];
                       TO* po = out + o;
                       if (step[0] == 1 && step[1] == 1) {
                         for (int64_t i = 0; i < n; ++i) po[i] = op(pa[i], pb[i]);
                       } else if (step[0] == 0 && step[1] == 1) {
                         const TA va = *pa;
                         for (int64_t i = 0; i < n; ++i) po[i] = op(va, pb[i]);
                       } else if (step[0] == 1 && step[1] == 0) {
                         const TB vb = *pb;
                         for (int64_t i = 0; i < n; ++i) po[i] = op(pa[i], vb);
                       } else {
                         for (int64_t i = 0; i < n; ++i)
                           po[i] = op(pa[i * step[0]], pb[i * step[1]]);
                       }
                     });
}

// Applies `op` (on compute types) to storage type T, with output type TO.
template <typename T, typename TO, typename Op>
auto StorageOp(Op op) {
  return [op](T a, T b) -> TO {
    if constexpr (kIs16BitFloat<T>) {
      if constexpr (kIs16BitFloat<TO>) {
        return TO(op(static_cast<float>(a), static_cast<float>(b)));
      } else {
        return op(static_cast<float>(a), static_cast<float>(b));
      }
    } else {
      return op(a, b);
    }
  };
}

IterationPlan<2> BinaryPlan(const Shape& a, const Shape& b, const Shape& out) {
  return MakeIterationPlan<2>(out, {BroadcastStrides(a, out), BroadcastStrides(b, out)});
}

Result<Shape> BroadcastForNode(const ir::Node& node, std::span<const Shape> shapes) {
  Result<Shape> out = BroadcastShapes(shapes);
  if (!out.ok()) {
    return InvalidArgumentError(node.Describe() + ": " + out.status().message());
  }
  return out;
}

Status CheckSameDTypes(const ir::Node& node, const std::vector<const Tensor*>& inputs,
                       size_t first = 0) {
  for (size_t i = first + 1; i < inputs.size(); ++i) {
    if (inputs[i]->dtype() != inputs[first]->dtype()) {
      return InvalidArgumentError(node.Describe() + ": input " + std::to_string(i) + " is " +
                                  std::string(DTypeName(inputs[i]->dtype())) + " but input " +
                                  std::to_string(first) + " is " +
                                  std::string(DTypeName(inputs[first]->dtype())) +
                                  "; the inputs must have the same dtype (insert a Cast)");
    }
  }
  return Status::Ok();
}

// A broadcasting binary op taking types `S`; the output is bool when kBoolOutput.
template <TypeSet S, bool kBoolOutput, typename Op>
Status ComputeBinary(KernelContext& context, Op op) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* a, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* b, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckSameDTypes(node, {a, b}));
  UH_RETURN_IF_ERROR(CheckDType(node, *a, "input 0", DTypesOf(S)));
  const Shape shapes[] = {a->shape(), b->shape()};
  UH_ASSIGN_OR_RETURN(Shape out_shape, BroadcastForNode(node, shapes));
  const DType out_dtype = kBoolOutput ? DType::kBool : a->dtype();
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, out_dtype, out_shape));
  if (out->num_elements() == 0) return Status::Ok();
  const IterationPlan<2> plan = BinaryPlan(a->shape(), b->shape(), out_shape);
  VisitDType(a->dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (InTypeSet<S, T>()) {
      using TO = std::conditional_t<kBoolOutput, bool, T>;
      BinaryLoop(context.thread_pool(), plan, a->data_as<T>(), b->data_as<T>(), out->data_as<TO>(),
                 StorageOp<T, TO>(op));
    }
  });
  return Status::Ok();
}

// Sum / Max / Min / Mean: folds the inputs pairwise into the broadcast output.
template <typename Op>
Status ComputeVariadic(KernelContext& context, Op op, bool mean) {
  const ir::Node& node = context.node();
  std::vector<const Tensor*> inputs;
  std::vector<Shape> shapes;
  for (size_t i = 0; i < context.num_inputs(); ++i) {
    UH_ASSIGN_OR_RETURN(const Tensor* t, NeedInput(context, i));
    inputs.push_back(t);
    shapes.push_back(t->shape());
  }
  if (inputs.empty()) {
    return InvalidArgumentError(node.Describe() + " needs at least one input");
  }
  UH_RETURN_IF_ERROR(CheckSameDTypes(node, inputs));
  UH_RETURN_IF_ERROR(CheckDType(node, *inputs[0], "input 0", NumericDTypes()));
  UH_ASSIGN_OR_RETURN(Shape out_shape, BroadcastForNode(node, shapes));
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, inputs[0]->dtype(), out_shape));
  if (out->num_elements() == 0) return Status::Ok();
  hal::ThreadPool& pool = context.thread_pool();
  VisitNumericDType(inputs[0]->dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* dst = out->data_as<T>();
    auto storage_op = StorageOp<T, T>(op);
    if (inputs.size() == 1) {
      // Sum of one tensor: a copy (out_shape is the input's shape).
      const IterationPlan<2> plan = BinaryPlan(shapes[0], shapes[0], out_shape);
      BinaryLoop(pool, plan, inputs[0]->data_as<T>(), inputs[0]->data_as<T>(), dst,
                 [](T x, T) { return x; });
    } else {
      BinaryLoop(pool, BinaryPlan(shapes[0], shapes[1], out_shape), inputs[0]->data_as<T>(),
                 inputs[1]->data_as<T>(), dst, storage_op);
      // The running result is read and written at the same index, so folding in place is safe.
      for (size_t i = 2; i < inputs.size(); ++i) {
        BinaryLoop(pool, BinaryPlan(out_shape, shapes[i], out_shape), dst, inputs[i]->data_as<T>(),
                   dst, storage_op);
      }
    }
    if (mean) {
      const double count = static_cast<double>(inputs.size());
      pool.ParallelFor(out->num_elements(), 1 << 15, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) dst[i] = FromDouble<T>(AsDouble(dst[i]) / count);
      });
    }
  });
  return Status::Ok();
}

Status ComputeWhere(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* cond, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const Tensor* y, NeedInput(context, 2));
  UH_RETURN_IF_ERROR(CheckDType(node, *cond, "condition", {DType::kBool}));
  UH_RETURN_IF_ERROR(CheckSameDTypes(node, {cond, x, y}, 1));
  const Shape shapes[] = {cond->shape(), x->shape(), y->shape()};
  UH_ASSIGN_OR_RETURN(Shape out_shape, BroadcastForNode(node, shapes));
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, x->dtype(), out_shape));
  if (out->num_elements() == 0) return Status::Ok();
  const IterationPlan<3> plan =
      MakeIterationPlan<3>(out_shape, {BroadcastStrides(cond->shape(), out_shape),
                                       BroadcastStrides(x->shape(), out_shape),
                                       BroadcastStrides(y->shape(), out_shape)});
  const bool* c = cond->data_as<bool>();
  VisitElementSize(DTypeSize(x->dtype()), [&](auto tag) {
    using U = decltype(tag);
    const U* px = static_cast<const U*>(x->data());
    const U* py = static_cast<const U*>(y->data());
    U* po = static_cast<U*>(out->data());
    ParallelForEachRun(context.thread_pool(), plan,
                       [&](int64_t o, const std::array<int64_t, 3>& at, int64_t n,
                           const std::array<int64_t, 3>& step) {
                         for (int64_t i = 0; i < n; ++i) {
                           po[o + i] = c[at[0] + i * step[0]] ? px[at[1] + i * step[1]]
                                                              : py[at[2] + i * step[2]];
                         }
                       });
  });
  return Status::Ok();
}

// ---- Pow: the exponent may have another dtype than the base; the output has the base's. ----

// x^n for integers by repeated squaring, wrapping like the hardware.
template <typename T>
T IntegerPower(T base, int64_t exponent) {
  if (exponent < 0) {
    // Only |base| == 1 has an integer result; NumPy refuses, ONNX Runtime gives 0.
    if (base == 1) return 1;
    if constexpr (std::is_signed_v<T>) {
      if (base == -1) return (exponent % 2) ? T(-1) : T(1);
    }
    return 0;
  }
  using U = std::make_unsigned_t<T>;
  U result = 1;
  U b = static_cast<U>(base);
  auto e = static_cast<uint64_t>(exponent);
  while (e) {
    if (e & 1) result = static_cast<U>(result * b);
    b = static_cast<U>(b * b);
    e >>= 1;
  }
  return static_cast<T>(result);
}

template <typename T, typename E>
T PowElement(T base, E exponent) {
  if constexpr (std::is_integral_v<T> && std::is_integral_v<E>) {
    return IntegerPower(base, static_cast<int64_t>(exponent));
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<E, float>) {
    return std::pow(base, exponent);
  } else {
    return FromDouble<T>(std::pow(AsDouble(base), AsDouble(exponent)));
  }
}

template <typename T>
bool PowScalarFastPath(hal::ThreadPool& pool, const T* base, double exponent, T* out, int64_t n) {
  if constexpr (std::is_floating_point_v<T>) {
    if (exponent != 2.0 && exponent != 0.5 && exponent != 1.0) return false;
    pool.ParallelFor(n, 1 << 15, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const T x = base[i];
        out[i] = exponent == 2.0 ? x * x : exponent == 0.5 ? std::sqrt(x) : x;
      }
    });
    return true;
  } else {
    return false;
  }
}

Status ComputePow(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* a, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* b, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckDType(node, *a, "base (input 0)", NumericDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *b, "exponent (input 1)", NumericDTypes()));
  if (node.opset < 12 && a->dtype() != b->dtype()) {
    return InvalidArgumentError(node.Describe() +
                                ": before opset 12 Pow needs the base and "
                                "exponent to have one dtype, got " +
                                std::string(DTypeName(a->dtype())) + " and " +
                                std::string(DTypeName(b->dtype())));
  }
  const Shape shapes[] = {a->shape(), b->shape()};
  UH_ASSIGN_OR_RETURN(Shape out_shape, BroadcastForNode(node, shapes));
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, a->dtype(), out_shape));
  if (out->num_elements() == 0) return Status::Ok();
  hal::ThreadPool& pool = context.thread_pool();
  bool done = false;
  if (b->num_elements() == 1 && out_shape == a->shape()) {
    VisitNumericDType(b->dtype(), [&](auto exp_tag) {
      const double exponent = AsDouble(b->data_as<decltype(exp_tag)>()[0]);
      VisitNumericDType(a->dtype(), [&](auto tag) {
        using T = decltype(tag);
        done = PowScalarFastPath(pool, a->data_as<T>(), exponent, out->data_as<T>(),
                                 out->num_elements());
      });
    });
  }
  if (done) return Status::Ok();
  const IterationPlan<2> plan = BinaryPlan(a->shape(), b->shape(), out_shape);
  VisitNumericDType(a->dtype(), [&](auto tag) {
    using T = decltype(tag);
    VisitNumericDType(b->dtype(), [&](auto exp_tag) {
      using E = decltype(exp_tag);
      BinaryLoop(pool, plan, a->data_as<T>(), b->data_as<E>(), out->data_as<T>(),
                 [](T x, E e) { return PowElement(x, e); });
    });
  });
  return Status::Ok();
}

// ---- Unary ops ----

template <TypeSet S, typename Op>
Status ComputeUnary(KernelContext& context, Op op) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", DTypesOf(S)));
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, x->dtype(), x->shape()));
  VisitDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (InTypeSet<S, T>()) {
      const T* src = x->data_as<T>();
      T* dst = out->data_as<T>();
      context.thread_pool().ParallelFor(x->num_elements(), 1 << 14,
                                        [&](int64_t begin, int64_t end) {
                                          for (int64_t i = begin; i < end; ++i) {
                                            dst[i] = FromCompute<T>(op(ToCompute(src[i])));
                                          }
                                        });
    }
  });
  return Status::Ok();
}

struct ReluOp {
  template <typename C>
  C operator()(C x) const {
    return x > C(0) ? x : C(0);
  }
};
struct SigmoidOp {
  template <typename C>
  C operator()(C x) const {
    // Split by sign so exp never overflows.
    if (x >= C(0)) return C(1) / (C(1) + std::exp(-x));
    const C e = std::exp(x);
    return e / (C(1) + e);
  }
};
struct NegOp {
  template <typename C>
  C operator()(C x) const {
    return Wrapping(C(0), x, [](auto p, auto q) { return p - q; });
  }
};
struct AbsOp {
  template <typename C>
  C operator()(C x) const {
    if constexpr (std::is_unsigned_v<C>) {
      return x;
    } else if constexpr (std::is_integral_v<C>) {
      return x < 0 ? NegOp{}(x) : x;
    } else {
      return std::abs(x);
    }
  }
};
struct SignOp {
  template <typename C>
  C operator()(C x) const {
    if constexpr (std::is_floating_point_v<C>) {
      if (std::isnan(x)) return x;
    }
    return x > C(0) ? C(1) : (x < C(0) ? C(-1) : C(0));
  }
};

#define UH_FLOAT_UNARY_OP_(Name, expr) \
  struct Name {                        \
    template <typename C>              \
    C operator()(C x) const {          \
      return expr;                     \
    }                                  \
  }
UH_FLOAT_UNARY_OP_(TanhOp, std::tanh(x));
UH_FLOAT_UNARY_OP_(ErfOp, std::erf(x));
UH_FLOAT_UNARY_OP_(SqrtOp, std::sqrt(x));
UH_FLOAT_UNARY_OP_(ExpOp, std::exp(x));
UH_FLOAT_UNARY_OP_(LogOp, std::log(x));
UH_FLOAT_UNARY_OP_(ReciprocalOp, C(1) / x);
UH_FLOAT_UNARY_OP_(FloorOp, std::floor(x));
UH_FLOAT_UNARY_OP_(CeilOp, std::ceil(x));
UH_FLOAT_UNARY_OP_(RoundOp, std::nearbyint(x));  // half to even in the default rounding mode
UH_FLOAT_UNARY_OP_(SinOp, std::sin(x));
UH_FLOAT_UNARY_OP_(CosOp, std::cos(x));
#undef UH_FLOAT_UNARY_OP_

Status ComputeNot(KernelContext& context) {
  return ComputeUnary<TypeSet::kBool>(context, [](bool x) { return !x; });
}

Status ComputeLeakyRelu(KernelContext& context) {
  UH_ASSIGN_OR_RETURN(const float alpha, context.node().GetFloat("alpha", 0.01f));
  return ComputeUnary<TypeSet::kFloat>(context, [alpha](auto x) {
    using C = decltype(x);
    return x >= C(0) ? x : static_cast<C>(alpha) * x;
  });
}

// Clip: bounds from attributes min/max before opset 11, from optional scalar inputs after.
Status ComputeClip(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", NumericDTypes()));
  const Tensor* bound_inputs[2] = {context.input(1), context.input(2)};
  if (node.opset >= 11) {
    for (int i = 0; i < 2; ++i) {
      const Tensor* bound = bound_inputs[i];
      if (!bound) continue;
      if (bound->dtype() != x->dtype() || bound->num_elements() != 1) {
        return InvalidArgumentError(node.Describe() + ": " + (i == 0 ? "min" : "max") +
                                    " must be a one-element " + std::string(DTypeName(x->dtype())) +
                                    " tensor, got " + bound->Describe());
      }
    }
  }
  UH_ASSIGN_OR_RETURN(const float attr_min,
                      node.GetFloat("min", -std::numeric_limits<float>::max()));
  UH_ASSIGN_OR_RETURN(const float attr_max,
                      node.GetFloat("max", std::numeric_limits<float>::max()));
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, x->dtype(), x->shape()));
  VisitNumericDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeType<T>;
    C lo = std::numeric_limits<C>::lowest();
    C hi = std::numeric_limits<C>::max();
    if (node.opset < 11) {
      lo = static_cast<C>(attr_min);
      hi = static_cast<C>(attr_max);
    } else {
      if (bound_inputs[0]) lo = ToCompute(bound_inputs[0]->data_as<T>()[0]);
      if (bound_inputs[1]) hi = ToCompute(bound_inputs[1]->data_as<T>()[0]);
    }
    const T* src = x->data_as<T>();
    T* dst = out->data_as<T>();
    // min > max gives max everywhere, as numpy.clip and the ONNX reference do.
    context.thread_pool().ParallelFor(x->num_elements(), 1 << 14, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const C v = ToCompute(src[i]);
        dst[i] = FromCompute<T>(std::min(std::max(v, lo), hi));
      }
    });
  });
  return Status::Ok();
}

template <TypeSet S, typename Op>
Status UnaryKernel(KernelContext& context) {
  return ComputeUnary<S>(context, Op{});
}

template <TypeSet S, bool kBoolOutput, typename Op>
Status BinaryKernel(KernelContext& context) {
  return ComputeBinary<S, kBoolOutput>(context, Op{});
}

void RegisterBinary(hal::KernelRegistry& registry, const char* op, int min_opset,
                    hal::FunctionKernel::Fn fn, TypeSet types) {
  registry.Register(ReferenceKernelDef(op, min_opset, INT_MAX, StatelessKernel(std::move(fn)),
                                       AcceptInputDTypes({0, 1}, DTypesOf(types))));
}

void RegisterUnary(hal::KernelRegistry& registry, const char* op, int min_opset,
                   hal::FunctionKernel::Fn fn, TypeSet types) {
  registry.Register(ReferenceKernelDef(op, min_opset, INT_MAX, StatelessKernel(std::move(fn)),
                                       AcceptInputDTypes({0}, DTypesOf(types))));
}

}  // namespace

void RegisterElementwiseKernels(hal::KernelRegistry& registry) {
  using TS = TypeSet;
  // Opset 7 introduced NumPy broadcasting; older versions had the `broadcast` attribute.
  RegisterBinary(registry, "Add", 7, BinaryKernel<TS::kNumeric, false, AddOp>, TS::kNumeric);
  RegisterBinary(registry, "Sub", 7, BinaryKernel<TS::kNumeric, false, SubOp>, TS::kNumeric);
  RegisterBinary(registry, "Mul", 7, BinaryKernel<TS::kNumeric, false, MulOp>, TS::kNumeric);
  RegisterBinary(registry, "Div", 7, BinaryKernel<TS::kNumeric, false, DivOp>, TS::kNumeric);
  RegisterBinary(registry, "Pow", 7, ComputePow, TS::kNumeric);
  RegisterBinary(registry, "Equal", 7, BinaryKernel<TS::kAll, true, EqualOp>, TS::kAll);
  RegisterBinary(registry, "Less", 7, BinaryKernel<TS::kNumeric, true, LessOp>, TS::kNumeric);
  RegisterBinary(registry, "LessOrEqual", 12, BinaryKernel<TS::kNumeric, true, LessOrEqualOp>,
                 TS::kNumeric);
  RegisterBinary(registry, "Greater", 7, BinaryKernel<TS::kNumeric, true, GreaterOp>, TS::kNumeric);
  RegisterBinary(registry, "GreaterOrEqual", 12, BinaryKernel<TS::kNumeric, true, GreaterOrEqualOp>,
                 TS::kNumeric);
  RegisterBinary(registry, "And", 7, BinaryKernel<TS::kBool, true, AndOp>, TS::kBool);
  RegisterBinary(registry, "Or", 7, BinaryKernel<TS::kBool, true, OrOp>, TS::kBool);
  RegisterBinary(registry, "Xor", 7, BinaryKernel<TS::kBool, true, XorOp>, TS::kBool);

  // Variadic ops: same-shape inputs before opset 8, broadcasting after (a superset).
  auto variadic = [&](const char* op, hal::FunctionKernel::Fn fn) {
    registry.Register(ReferenceKernelDef(op, 6, INT_MAX, StatelessKernel(std::move(fn)),
                                         AcceptInputDTypes({0}, NumericDTypes())));
  };
  variadic("Sum", [](KernelContext& c) { return ComputeVariadic(c, AddOp{}, false); });
  variadic("Mean", [](KernelContext& c) { return ComputeVariadic(c, AddOp{}, true); });
  variadic("Max", [](KernelContext& c) { return ComputeVariadic(c, MaxOp{}, false); });
  variadic("Min", [](KernelContext& c) { return ComputeVariadic(c, MinOp{}, false); });
  registry.Register(ReferenceKernelDef("Where", 9, INT_MAX, StatelessKernel(ComputeWhere),
                                       AcceptInputDTypes({0}, {DType::kBool})));

  // Relu takes signed integers since opset 14; Neg/Abs/Sign take every number.
  RegisterUnary(registry, "Relu", 6, UnaryKernel<TS::kNumeric, ReluOp>, TS::kNumeric);
  RegisterUnary(registry, "Neg", 6, UnaryKernel<TS::kNumeric, NegOp>, TS::kNumeric);
  RegisterUnary(registry, "Abs", 6, UnaryKernel<TS::kNumeric, AbsOp>, TS::kNumeric);
  RegisterUnary(registry, "Sign", 9, UnaryKernel<TS::kNumeric, SignOp>, TS::kNumeric);
  RegisterUnary(registry, "Sigmoid", 6, UnaryKernel<TS::kFloat, SigmoidOp>, TS::kFloat);
  RegisterUnary(registry, "Tanh", 6, UnaryKernel<TS::kFloat, TanhOp>, TS::kFloat);
  RegisterUnary(registry, "Erf", 9, UnaryKernel<TS::kFloat, ErfOp>, TS::kFloat);
  RegisterUnary(registry, "Sqrt", 6, UnaryKernel<TS::kFloat, SqrtOp>, TS::kFloat);
  RegisterUnary(registry, "Exp", 6, UnaryKernel<TS::kFloat, ExpOp>, TS::kFloat);
  RegisterUnary(registry, "Log", 6, UnaryKernel<TS::kFloat, LogOp>, TS::kFloat);
  RegisterUnary(registry, "Reciprocal", 6, UnaryKernel<TS::kFloat, ReciprocalOp>, TS::kFloat);
  RegisterUnary(registry, "Floor", 6, UnaryKernel<TS::kFloat, FloorOp>, TS::kFloat);
  RegisterUnary(registry, "Ceil", 6, UnaryKernel<TS::kFloat, CeilOp>, TS::kFloat);
  RegisterUnary(registry, "Round", 11, UnaryKernel<TS::kFloat, RoundOp>, TS::kFloat);
  RegisterUnary(registry, "Sin", 7, UnaryKernel<TS::kFloat, SinOp>, TS::kFloat);
  RegisterUnary(registry, "Cos", 7, UnaryKernel<TS::kFloat, CosOp>, TS::kFloat);
  RegisterUnary(registry, "Not", 1, ComputeNot, TS::kBool);
  RegisterUnary(registry, "LeakyRelu", 6, ComputeLeakyRelu, TS::kFloat);
  RegisterUnary(registry, "Clip", 6, ComputeClip, TS::kNumeric);
}

}  // namespace unihal::cpu
