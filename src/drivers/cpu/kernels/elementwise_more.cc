// Reference unary kernels beyond elementwise.cc: the activations Elu Selu Celu HardSigmoid
// HardSwish Softplus Softsign ThresholdedRelu Shrink Mish Gelu Swish, the trig ops Tan Acos
// Asin Atan Cosh Sinh Acosh Asinh Atanh, and IsInf / IsNaN. 16-bit floats compute in float32.
// The binary ops of this family are in elementwise_more_binary.cc.
#include "drivers/cpu/kernels/elementwise_more.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <memory>
#include <string>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/kernel_util.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

// y = op(x) for a float tensor; op works on ComputeType<T> (float or double).
template <typename Op>
Status ComputeFloatUnary(KernelContext& context, const Op& op) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", FloatDTypes()));
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), x->shape()));
  VisitFloatDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    MapElements(context.thread_pool(), x->data_as<T>(), y->data_as<T>(), x->num_elements(),
                [&op](T v) { return FromCompute<T>(op(ToCompute(v))); });
  });
  return Status::Ok();
}

// A factory for a float unary op whose functor `make(node)` builds from the node's attributes
// when the kernel is created, so a bad attribute fails at load time, naming the node.
template <typename Make>
hal::KernelFactory FloatUnaryFactory(Make make) {
  return [make](const hal::KernelCreateInfo& info) -> Result<std::unique_ptr<hal::Kernel>> {
    auto op = make(info.node);
    if (!op.ok()) return op.status();
    return MakeFunctionKernel(
        [op = *op](KernelContext& context) { return ComputeFloatUnary(context, op); });
  };
}

// An op without attributes.
template <typename Op>
hal::KernelFactory FloatUnaryFactory() {
  return FloatUnaryFactory([](const ir::Node&) -> Result<Op> { return Op{}; });
}

// min(1, max(0, v)), letting NaN through (std::clamp would turn it into a bound).
template <typename C>
C Clamp01(C v) {
  return v < C(0) ? C(0) : (v > C(1) ? C(1) : v);
}

// 1 / (1 + e^-x), split by sign so exp never overflows.
template <typename C>
C Sigmoid(C x) {
  if (x >= C(0)) return C(1) / (C(1) + std::exp(-x));
  const C e = std::exp(x);
  return e / (C(1) + e);
}

// ln(1 + e^x) without overflow for large x.
template <typename C>
C Softplus(C x) {
  return x > C(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

// ---- Activations with attributes ----

struct EluOp {
  float alpha = 1.0f;
  template <typename C>
  C operator()(C x) const {
    return x >= C(0) ? x : C(alpha) * std::expm1(x);
  }
};

struct SeluOp {
  float alpha = 1.67326319217681884765625f;
  float gamma = 1.05070102214813232421875f;
  template <typename C>
  C operator()(C x) const {
    return C(gamma) * (x > C(0) ? x : C(alpha) * std::expm1(x));
  }
};

struct CeluOp {
  float alpha = 1.0f;
  template <typename C>
  C operator()(C x) const {
    const C a = C(alpha);
    return std::max(C(0), x) + std::min(C(0), a * std::expm1(x / a));
  }
};

struct HardSigmoidOp {
  float alpha = 0.2f;
  float beta = 0.5f;
  template <typename C>
  C operator()(C x) const {
    return Clamp01(C(alpha) * x + C(beta));
  }
};

struct ThresholdedReluOp {
  float alpha = 1.0f;
  template <typename C>
  C operator()(C x) const {
    return x > C(alpha) ? x : C(0);
  }
};

struct GeluOp {
  bool tanh_approximation = false;
  template <typename C>
  C operator()(C x) const {
    if (tanh_approximation) {
      const C sqrt_2_over_pi = C(0.7978845608028654);  // sqrt(2 / pi)
      return C(0.5) * x * (C(1) + std::tanh(sqrt_2_over_pi * (x + C(0.044715) * x * x * x)));
    }
    return C(0.5) * x * (C(1) + std::erf(x * C(0.7071067811865476)));  // x / sqrt(2)
  }
};

struct SwishOp {
  float alpha = 1.0f;
  template <typename C>
  C operator()(C x) const {
    return x * Sigmoid(C(alpha) * x);
  }
};

// ---- Activations without attributes ----

#define UH_FLOAT_UNARY_OP_(Name, expr) \
  struct Name {                        \
    template <typename C>              \
    C operator()(C x) const {          \
      return expr;                     \
    }                                  \
  }
UH_FLOAT_UNARY_OP_(HardSwishOp, x* Clamp01(x / C(6) + C(0.5)));
UH_FLOAT_UNARY_OP_(SoftplusOp, Softplus(x));
UH_FLOAT_UNARY_OP_(SoftsignOp, x / (C(1) + std::abs(x)));
UH_FLOAT_UNARY_OP_(MishOp, x* std::tanh(Softplus(x)));
UH_FLOAT_UNARY_OP_(TanOp, std::tan(x));
UH_FLOAT_UNARY_OP_(AcosOp, std::acos(x));
UH_FLOAT_UNARY_OP_(AsinOp, std::asin(x));
UH_FLOAT_UNARY_OP_(AtanOp, std::atan(x));
UH_FLOAT_UNARY_OP_(CoshOp, std::cosh(x));
UH_FLOAT_UNARY_OP_(SinhOp, std::sinh(x));
UH_FLOAT_UNARY_OP_(AcoshOp, std::acosh(x));
UH_FLOAT_UNARY_OP_(AsinhOp, std::asinh(x));
UH_FLOAT_UNARY_OP_(AtanhOp, std::atanh(x));
#undef UH_FLOAT_UNARY_OP_

// ---- Attribute parsing ----

Result<EluOp> MakeElu(const ir::Node& node) {
  UH_ASSIGN_OR_RETURN(const float alpha, node.GetFloat("alpha", 1.0f));
  return EluOp{alpha};
}

Result<SeluOp> MakeSelu(const ir::Node& node) {
  SeluOp op;
  UH_ASSIGN_OR_RETURN(op.alpha, node.GetFloat("alpha", op.alpha));
  UH_ASSIGN_OR_RETURN(op.gamma, node.GetFloat("gamma", op.gamma));
  return op;
}

Result<CeluOp> MakeCelu(const ir::Node& node) {
  UH_ASSIGN_OR_RETURN(const float alpha, node.GetFloat("alpha", 1.0f));
  if (alpha == 0.0f) {
    return InvalidArgumentError(node.Describe() + ": Celu's alpha must not be 0 (it divides x)");
  }
  return CeluOp{alpha};
}

Result<HardSigmoidOp> MakeHardSigmoid(const ir::Node& node) {
  HardSigmoidOp op;
  UH_ASSIGN_OR_RETURN(op.alpha, node.GetFloat("alpha", op.alpha));
  UH_ASSIGN_OR_RETURN(op.beta, node.GetFloat("beta", op.beta));
  return op;
}

Result<ThresholdedReluOp> MakeThresholdedRelu(const ir::Node& node) {
  UH_ASSIGN_OR_RETURN(const float alpha, node.GetFloat("alpha", 1.0f));
  return ThresholdedReluOp{alpha};
}

Result<GeluOp> MakeGelu(const ir::Node& node) {
  // Read directly rather than through Node::GetString: GCC 12 flags the Result<std::string>
  // compared below as maybe-uninitialized.
  const auto it = node.attributes.find("approximate");
  if (it == node.attributes.end()) return GeluOp{false};
  const std::string* approximate = it->second.get<std::string>();
  if (!approximate) {
    return InvalidArgumentError(node.Describe() + ": attribute 'approximate' must be a string, " +
                                "not " + it->second.TypeName());
  }
  if (*approximate != "none" && *approximate != "tanh") {
    return InvalidArgumentError(node.Describe() + ": Gelu approximate must be \"none\" or " +
                                "\"tanh\", got \"" + *approximate + "\"");
  }
  return GeluOp{*approximate == "tanh"};
}

Result<SwishOp> MakeSwish(const ir::Node& node) {
  UH_ASSIGN_OR_RETURN(const float alpha, node.GetFloat("alpha", 1.0f));
  return SwishOp{alpha};
}

// ---- Shrink (any numeric dtype), IsInf and IsNaN (float in, bool out) ----

Status ComputeShrink(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const float lambd, node.GetFloat("lambd", 0.5f));
  UH_ASSIGN_OR_RETURN(const float bias, node.GetFloat("bias", 0.0f));
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", NumericDTypes()));
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), x->shape()));
  VisitNumericDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    // In float64, so integer inputs compare against the float thresholds exactly; the result
    // converts back as the ONNX reference's astype does (truncation for integers).
    MapElements(context.thread_pool(), x->data_as<T>(), y->data_as<T>(), x->num_elements(),
                [lambd = double{lambd}, bias = double{bias}](T value) {
                  const double v = AsDouble(value);
                  return FromDouble<T>(v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0));
                });
  });
  return Status::Ok();
}

template <typename Predicate>
Status ComputeFloatPredicate(KernelContext& context, Predicate predicate) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", FloatDTypes()));
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kBool, x->shape()));
  VisitFloatDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    MapElements(context.thread_pool(), x->data_as<T>(), y->data_as<bool>(), x->num_elements(),
                [&predicate](T v) { return predicate(ToCompute(v)); });
  });
  return Status::Ok();
}

Status ComputeIsInf(KernelContext& context) {
  UH_ASSIGN_OR_RETURN(const int64_t detect_negative, context.node().GetInt("detect_negative", 1));
  UH_ASSIGN_OR_RETURN(const int64_t detect_positive, context.node().GetInt("detect_positive", 1));
  return ComputeFloatPredicate(context, [&](auto v) {
    return std::isinf(v) && (v > 0 ? detect_positive != 0 : detect_negative != 0);
  });
}

Status ComputeIsNaN(KernelContext& context) {
  return ComputeFloatPredicate(context, [](auto v) { return std::isnan(v); });
}

void RegisterFloatUnary(hal::KernelRegistry& registry, const char* op, int min_opset,
                        hal::KernelFactory factory) {
  registry.Register(ReferenceKernelDef(op, min_opset, INT_MAX, std::move(factory),
                                       AcceptInputDTypes({0}, FloatDTypes())));
}

}  // namespace

void RegisterMoreElementwiseKernels(hal::KernelRegistry& registry) {
  // Min opsets: the first version without the legacy consumed_inputs attribute (or the op's
  // first version).
  RegisterFloatUnary(registry, "Elu", 6, FloatUnaryFactory(MakeElu));
  RegisterFloatUnary(registry, "Selu", 6, FloatUnaryFactory(MakeSelu));
  RegisterFloatUnary(registry, "Celu", 12, FloatUnaryFactory(MakeCelu));
  RegisterFloatUnary(registry, "HardSigmoid", 6, FloatUnaryFactory(MakeHardSigmoid));
  RegisterFloatUnary(registry, "ThresholdedRelu", 10, FloatUnaryFactory(MakeThresholdedRelu));
  RegisterFloatUnary(registry, "Gelu", 20, FloatUnaryFactory(MakeGelu));
  RegisterFloatUnary(registry, "Swish", 24, FloatUnaryFactory(MakeSwish));
  RegisterFloatUnary(registry, "HardSwish", 14, FloatUnaryFactory<HardSwishOp>());
  RegisterFloatUnary(registry, "Softplus", 1, FloatUnaryFactory<SoftplusOp>());
  RegisterFloatUnary(registry, "Softsign", 1, FloatUnaryFactory<SoftsignOp>());
  RegisterFloatUnary(registry, "Mish", 18, FloatUnaryFactory<MishOp>());
  RegisterFloatUnary(registry, "Tan", 7, FloatUnaryFactory<TanOp>());
  RegisterFloatUnary(registry, "Acos", 7, FloatUnaryFactory<AcosOp>());
  RegisterFloatUnary(registry, "Asin", 7, FloatUnaryFactory<AsinOp>());
  RegisterFloatUnary(registry, "Atan", 7, FloatUnaryFactory<AtanOp>());
  RegisterFloatUnary(registry, "Cosh", 9, FloatUnaryFactory<CoshOp>());
  RegisterFloatUnary(registry, "Sinh", 9, FloatUnaryFactory<SinhOp>());
  RegisterFloatUnary(registry, "Acosh", 9, FloatUnaryFactory<AcoshOp>());
  RegisterFloatUnary(registry, "Asinh", 9, FloatUnaryFactory<AsinhOp>());
  RegisterFloatUnary(registry, "Atanh", 9, FloatUnaryFactory<AtanhOp>());
  registry.Register(ReferenceKernelDef("IsNaN", 9, INT_MAX, StatelessKernel(ComputeIsNaN),
                                       AcceptInputDTypes({0}, FloatDTypes())));
  registry.Register(ReferenceKernelDef("IsInf", 10, INT_MAX, StatelessKernel(ComputeIsInf),
                                       AcceptInputDTypes({0}, FloatDTypes())));
  registry.Register(ReferenceKernelDef("Shrink", 9, INT_MAX, StatelessKernel(ComputeShrink),
                                       AcceptInputDTypes({0}, NumericDTypes())));
  RegisterMoreBinaryKernels(registry);
}

}  // namespace unihal::cpu
