// Reference loss kernels: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss. Both view the
// scores as [N, C, D] (D the product of the trailing dims) and the target as [N, D], and compute
// in float64.
#include <cmath>
#include <limits>
#include <optional>

#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/reduction_kernels.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

enum class LossReduction { kNone, kSum, kMean };

// What both losses read from the node and their inputs.
struct LossProblem {
  const Tensor* scores = nullptr;
  std::vector<int64_t> target;
  Shape target_shape;
  std::vector<double> weight;  // per class; empty when the node has no weight input
  std::optional<int64_t> ignore_index;
  LossReduction reduction = LossReduction::kMean;
  int64_t n = 0, c = 0, d = 1;
};

Result<LossReduction> ParseReduction(const ir::Node& node) {
  UH_ASSIGN_OR_RETURN(const std::string reduction, node.GetString("reduction", "mean"));
  if (reduction == "none") return LossReduction::kNone;
  if (reduction == "sum") return LossReduction::kSum;
  if (reduction == "mean") return LossReduction::kMean;
  return InvalidArgumentError(node.Describe() + ": reduction '" + reduction +
                              "' is not one of none, sum, mean");
}

template <typename T>
std::vector<double> ToDoubles(const Tensor& t) {
  const T* src = t.data_as<T>();
  std::vector<double> values(static_cast<size_t>(t.num_elements()));
  for (size_t i = 0; i < values.size(); ++i) values[i] = AsDouble(src[i]);
  return values;
}

std::vector<double> TensorToDoubles(const Tensor& t) {
  std::vector<double> values;
  VisitFloatDType(t.dtype(), [&](auto tag) { values = ToDoubles<decltype(tag)>(t); });
  return values;
}

// Checks the shapes ([N, C, d1..dk], [N, d1..dk], [C]) and reads target and weight.
Status CheckTargetAndWeight(const ir::Node& node, const Tensor& target, const Tensor* weight,
                            LossProblem& p) {
  const Shape& s = p.scores->shape();
  Shape expected_target = {s[0]};
  expected_target.insert(expected_target.end(), s.begin() + 2, s.end());
  if (target.shape() != expected_target) {
    return InvalidArgumentError(node.Describe() + ": target has shape " +
                                ShapeToString(target.shape()) + "; scores " + ShapeToString(s) +
                                " need target shape " + ShapeToString(expected_target) +
                                " (scores without dim 1)");
  }
  UH_ASSIGN_OR_RETURN(p.target, target.ToInt64Vector());
  p.target_shape = target.shape();
  if (weight) {
    UH_RETURN_IF_ERROR(CheckDType(node, *weight, "weight", {p.scores->dtype()}));
    if (weight->shape() != Shape{p.c}) {
      return InvalidArgumentError(node.Describe() + ": weight has shape " +
                                  ShapeToString(weight->shape()) + "; it must be [" +
                                  std::to_string(p.c) + "], one per class");
    }
    p.weight = TensorToDoubles(*weight);
  }
  return Status::Ok();
}

Result<LossProblem> ReadLossProblem(const KernelContext& context) {
  const ir::Node& node = context.node();
  LossProblem p;
  UH_ASSIGN_OR_RETURN(p.scores, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* target, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckDType(node, *p.scores, "input 0 (scores)", FloatDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *target, "input 1 (target)", {DType::kI32, DType::kI64}));
  if (p.scores->rank() < 2) {
    return InvalidArgumentError(node.Describe() + ": scores " + p.scores->Describe() +
                                " must have rank >= 2 ([N, C, d1, ..., dk])");
  }
  UH_ASSIGN_OR_RETURN(p.reduction, ParseReduction(node));
  if (node.HasAttribute("ignore_index")) {
    UH_ASSIGN_OR_RETURN(p.ignore_index, node.GetInt("ignore_index"));
  }
  const Shape& s = p.scores->shape();
  p.n = s[0];
  p.c = s[1];
  for (size_t i = 2; i < s.size(); ++i) p.d *= s[i];
  UH_RETURN_IF_ERROR(CheckTargetAndWeight(node, *target, context.input(2), p));
  return p;
}

// Writes the loss of `log_prob` (as [N, C, D]) against the target: per element for reduction
// none, else the sum or the weighted mean, as a scalar.
Status WriteLoss(KernelContext& context, const LossProblem& p,
                 const std::vector<double>& log_prob) {
  const ir::Node& node = context.node();
  std::vector<double> loss(p.target.size(), 0.0);
  double loss_sum = 0.0, weight_sum = 0.0;
  for (int64_t i = 0; i < p.n; ++i) {
    for (int64_t j = 0; j < p.d; ++j) {
      const size_t at = static_cast<size_t>(i * p.d + j);
      const int64_t t = p.target[at];
      if (p.ignore_index && t == *p.ignore_index) continue;
      if (t < 0 || t >= p.c) {
        return InvalidArgumentError(node.Describe() + ": target value " + std::to_string(t) +
                                    " is not a class index in [0, " + std::to_string(p.c) +
                                    ") nor the ignore_index");
      }
      const double w = p.weight.empty() ? 1.0 : p.weight[static_cast<size_t>(t)];
      loss[at] = -log_prob[static_cast<size_t>((i * p.c + t) * p.d + j)] * w;
      loss_sum += loss[at];
      weight_sum += w;
    }
  }
  const DType dtype = p.scores->dtype();
  if (p.reduction == LossReduction::kNone) {
    UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, dtype, p.target_shape));
    VisitFloatDType(dtype, [&](auto tag) {
      using T = decltype(tag);
      for (size_t k = 0; k < loss.size(); ++k) out->data_as<T>()[k] = FromDouble<T>(loss[k]);
    });
    return Status::Ok();
  }
  // A mean over no counted element (all ignored) is 0/0 = NaN, as in the ONNX reference.
  const double value = p.reduction == LossReduction::kSum ? loss_sum : loss_sum / weight_sum;
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, dtype, {}));
  VisitFloatDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    out->data_as<T>()[0] = FromDouble<T>(value);
  });
  return Status::Ok();
}

Status ComputeNegativeLogLikelihoodLoss(KernelContext& context) {
  UH_ASSIGN_OR_RETURN(const LossProblem p, ReadLossProblem(context));
  return WriteLoss(context, p, TensorToDoubles(*p.scores));
}

// log_softmax of scores ([N, C, D]) along C, in float64.
std::vector<double> LogSoftmaxAlongClasses(const LossProblem& p) {
  std::vector<double> x = TensorToDoubles(*p.scores);
  for (int64_t i = 0; i < p.n; ++i) {
    for (int64_t j = 0; j < p.d; ++j) {
      double* lane = x.data() + i * p.c * p.d + j;
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < p.c; ++k) max = std::max(max, lane[k * p.d]);
      double sum = 0.0;
      for (int64_t k = 0; k < p.c; ++k) sum += std::exp(lane[k * p.d] - max);
      const double log_sum = std::log(sum) + max;
      for (int64_t k = 0; k < p.c; ++k) lane[k * p.d] -= log_sum;
    }
  }
  return x;
}

Status ComputeSoftmaxCrossEntropyLoss(KernelContext& context) {
  UH_ASSIGN_OR_RETURN(const LossProblem p, ReadLossProblem(context));
  const std::vector<double> log_prob = LogSoftmaxAlongClasses(p);
  UH_RETURN_IF_ERROR(WriteLoss(context, p, log_prob));
  if (context.num_outputs() < 2) return Status::Ok();
  UH_ASSIGN_OR_RETURN(Tensor * out,
                      context.AllocateOutput(1, p.scores->dtype(), p.scores->shape()));
  VisitFloatDType(p.scores->dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (size_t k = 0; k < log_prob.size(); ++k) out->data_as<T>()[k] = FromDouble<T>(log_prob[k]);
  });
  return Status::Ok();
}

}  // namespace

void RegisterLossKernels(hal::KernelRegistry& registry) {
  const SupportsFn floats = AcceptInputDTypes({0}, FloatDTypes());
  registry.Register(ReferenceKernelDef("NegativeLogLikelihoodLoss", 12, INT_MAX,
                                       StatelessKernel(ComputeNegativeLogLikelihoodLoss), floats));
  registry.Register(ReferenceKernelDef("SoftmaxCrossEntropyLoss", 12, INT_MAX,
                                       StatelessKernel(ComputeSoftmaxCrossEntropyLoss), floats));
}

}  // namespace unihal::cpu
