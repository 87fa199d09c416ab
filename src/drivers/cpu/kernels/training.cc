// Training-mode kernels: Dropout with training_mode=true, BatchNormalization with
// training_mode=1, and the ai.onnx.preview.training optimizers Adagrad, Adam and Momentum.
// Optimizer arithmetic is done in double and rounded once per output, like the ONNX reference
// (NumPy promotes the float32 state to float64 against the float64 scalars).
#include <cmath>
#include <random>
#include <vector>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/random_util.h"

namespace unihal::cpu {
namespace {

constexpr char kTrainingDomain[] = "ai.onnx.preview.training";

bool WantsOutput(const ir::Node& node, size_t i) {
  return i < node.outputs.size() && !node.outputs[i].empty();
}

// A one-element float or integer tensor as a double.
Result<double> ScalarInput(const ir::Node& node, const Tensor& t, const std::string& name) {
  if (t.num_elements() != 1) {
    return InvalidArgumentError(node.Describe() + ": " + name + " must be a scalar, got " +
                                t.Describe());
  }
  double value = 0;
  if (!VisitNumericDType(t.dtype(),
                         [&](auto tag) { value = AsDouble(t.data_as<decltype(tag)>()[0]); })) {
    return InvalidArgumentError(node.Describe() + ": " + name + " must be numeric, got " +
                                t.Describe());
  }
  return value;
}

// Reads a float tensor as doubles.
std::vector<double> AsDoubles(const Tensor& t) {
  std::vector<double> values(static_cast<size_t>(t.num_elements()));
  VisitFloatDType(t.dtype(), [&](auto tag) {
    const auto* data = t.data_as<decltype(tag)>();
    for (size_t i = 0; i < values.size(); ++i) values[i] = AsDouble(data[i]);
  });
  return values;
}

// Output i with `like`'s dtype and shape, filled from doubles.
Status WriteDoubles(hal::KernelContext& context, size_t i, const Tensor& like,
                    const std::vector<double>& values) {
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(i, like.dtype(), like.shape()));
  VisitFloatDType(like.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* data = out->data_as<T>();
    for (size_t j = 0; j < values.size(); ++j) data[j] = FromDouble<T>(values[j]);
  });
  return Status::Ok();
}

// ---- Optimizers: inputs R, T, then `groups` runs of n tensors (X..., G..., state...) ----

struct OptimizerInputs {
  double rate = 0;
  double step = 0;
  size_t n = 0;  // tensors optimized
  // tensors[g][i]: group g (X, G, then the state tensors) of tensor i.
  std::vector<std::vector<const Tensor*>> tensors;
};

Result<OptimizerInputs> ReadOptimizerInputs(const hal::KernelContext& context, size_t groups) {
  const ir::Node& node = context.node();
  OptimizerInputs in;
  const size_t count = context.num_inputs();
  if (count < 2 + groups || (count - 2) % groups != 0) {
    return InvalidArgumentError(node.Describe() + ": " + node.op_type + " takes R, T and " +
                                std::to_string(groups) + " groups of equally many tensors; got " +
                                std::to_string(count) + " inputs");
  }
  UH_ASSIGN_OR_RETURN(const Tensor* r, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* t, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(in.rate, ScalarInput(node, *r, "R"));
  UH_ASSIGN_OR_RETURN(in.step, ScalarInput(node, *t, "T"));
  in.n = (count - 2) / groups;
  in.tensors.assign(groups, std::vector<const Tensor*>(in.n));
  for (size_t g = 0; g < groups; ++g) {
    for (size_t i = 0; i < in.n; ++i) {
      UH_ASSIGN_OR_RETURN(const Tensor* tensor, NeedInput(context, 2 + g * in.n + i));
      UH_RETURN_IF_ERROR(CheckDType(node, *tensor, "input " + std::to_string(2 + g * in.n + i),
                                    {DType::kF32, DType::kF64, DType::kF16, DType::kBF16}));
      if (g > 0 && tensor->shape() != in.tensors[0][i]->shape()) {
        return InvalidArgumentError(node.Describe() + ": input " +
                                    std::to_string(2 + g * in.n + i) + " " + tensor->Describe() +
                                    " must have the shape of X " + in.tensors[0][i]->Describe());
      }
      in.tensors[g][i] = tensor;
    }
  }
  return in;
}

struct AdagradAttributes {
  double decay_factor = 0;
  double epsilon = 0;
  double norm_coefficient = 0;
};

Status ComputeAdagrad(hal::KernelContext& context, const AdagradAttributes& a) {
  UH_ASSIGN_OR_RETURN(OptimizerInputs in, ReadOptimizerInputs(context, 3));
  const double rate = in.rate / (1 + in.step * a.decay_factor);
  for (size_t i = 0; i < in.n; ++i) {
    std::vector<double> x = AsDoubles(*in.tensors[0][i]);
    const std::vector<double> g = AsDoubles(*in.tensors[1][i]);
    std::vector<double> h = AsDoubles(*in.tensors[2][i]);
    for (size_t j = 0; j < x.size(); ++j) {
      const double grad = a.norm_coefficient * x[j] + g[j];
      h[j] += grad * grad;
      x[j] -= rate * grad / (std::sqrt(h[j]) + a.epsilon);
    }
    UH_RETURN_IF_ERROR(WriteDoubles(context, i, *in.tensors[0][i], x));
    UH_RETURN_IF_ERROR(WriteDoubles(context, in.n + i, *in.tensors[2][i], h));
  }
  return Status::Ok();
}

struct AdamAttributes {
  double alpha = 0;
  double beta = 0;
  double epsilon = 0;
  double norm_coefficient = 0;
  double norm_coefficient_post = 0;
};

Status ComputeAdam(hal::KernelContext& context, const AdamAttributes& a) {
  UH_ASSIGN_OR_RETURN(OptimizerInputs in, ReadOptimizerInputs(context, 4));
  // Bias correction of the momentums from the second step on.
  const double rate = in.step > 0 ? in.rate * std::sqrt(1 - std::pow(a.beta, in.step)) /
                                        (1 - std::pow(a.alpha, in.step))
                                  : in.rate;
  for (size_t i = 0; i < in.n; ++i) {
    std::vector<double> x = AsDoubles(*in.tensors[0][i]);
    const std::vector<double> g = AsDoubles(*in.tensors[1][i]);
    std::vector<double> v = AsDoubles(*in.tensors[2][i]);
    std::vector<double> h = AsDoubles(*in.tensors[3][i]);
    for (size_t j = 0; j < x.size(); ++j) {
      const double grad = a.norm_coefficient * x[j] + g[j];
      v[j] = a.alpha * v[j] + (1 - a.alpha) * grad;
      h[j] = a.beta * h[j] + (1 - a.beta) * grad * grad;
      const double updated = x[j] - rate * (v[j] / (std::sqrt(h[j]) + a.epsilon));
      x[j] = (1 - a.norm_coefficient_post) * updated;
    }
    UH_RETURN_IF_ERROR(WriteDoubles(context, i, *in.tensors[0][i], x));
    UH_RETURN_IF_ERROR(WriteDoubles(context, in.n + i, *in.tensors[2][i], v));
    UH_RETURN_IF_ERROR(WriteDoubles(context, 2 * in.n + i, *in.tensors[3][i], h));
  }
  return Status::Ok();
}

struct MomentumAttributes {
  double alpha = 0;
  double beta = 0;
  double norm_coefficient = 0;
  bool nesterov = false;
};

Status ComputeMomentum(hal::KernelContext& context, const MomentumAttributes& a) {
  UH_ASSIGN_OR_RETURN(OptimizerInputs in, ReadOptimizerInputs(context, 3));
  // The gradient's coefficient is 1 at the first step.
  const double beta = in.step > 0 ? a.beta : 1.0;
  for (size_t i = 0; i < in.n; ++i) {
    std::vector<double> x = AsDoubles(*in.tensors[0][i]);
    const std::vector<double> g = AsDoubles(*in.tensors[1][i]);
    std::vector<double> v = AsDoubles(*in.tensors[2][i]);
    for (size_t j = 0; j < x.size(); ++j) {
      const double grad = a.norm_coefficient * x[j] + g[j];
      v[j] = a.alpha * v[j] + beta * grad;
      x[j] -= a.nesterov ? in.rate * (grad + a.alpha * v[j]) : in.rate * v[j];
    }
    UH_RETURN_IF_ERROR(WriteDoubles(context, i, *in.tensors[0][i], x));
    UH_RETURN_IF_ERROR(WriteDoubles(context, in.n + i, *in.tensors[2][i], v));
  }
  return Status::Ok();
}

Result<std::unique_ptr<hal::Kernel>> CreateAdagrad(const hal::KernelCreateInfo& info) {
  AdagradAttributes a;
  UH_ASSIGN_OR_RETURN(a.decay_factor, info.node.GetFloat("decay_factor", 0.0f));
  UH_ASSIGN_OR_RETURN(a.epsilon, info.node.GetFloat("epsilon", 1e-6f));
  UH_ASSIGN_OR_RETURN(a.norm_coefficient, info.node.GetFloat("norm_coefficient", 0.0f));
  return MakeFunctionKernel([a](hal::KernelContext& c) { return ComputeAdagrad(c, a); });
}

Result<std::unique_ptr<hal::Kernel>> CreateAdam(const hal::KernelCreateInfo& info) {
  AdamAttributes a;
  UH_ASSIGN_OR_RETURN(a.alpha, info.node.GetFloat("alpha", 0.9f));
  UH_ASSIGN_OR_RETURN(a.beta, info.node.GetFloat("beta", 0.999f));
  UH_ASSIGN_OR_RETURN(a.epsilon, info.node.GetFloat("epsilon", 1e-6f));
  UH_ASSIGN_OR_RETURN(a.norm_coefficient, info.node.GetFloat("norm_coefficient", 0.0f));
  UH_ASSIGN_OR_RETURN(a.norm_coefficient_post, info.node.GetFloat("norm_coefficient_post", 0.0f));
  return MakeFunctionKernel([a](hal::KernelContext& c) { return ComputeAdam(c, a); });
}

Result<std::unique_ptr<hal::Kernel>> CreateMomentum(const hal::KernelCreateInfo& info) {
  const ir::Node& node = info.node;
  for (const char* required : {"alpha", "beta", "mode", "norm_coefficient"}) {
    if (!node.HasAttribute(required)) {
      return InvalidArgumentError(node.Describe() + ": the required attribute '" +
                                  std::string(required) + "' is missing");
    }
  }
  MomentumAttributes a;
  UH_ASSIGN_OR_RETURN(a.alpha, node.GetFloat("alpha"));
  UH_ASSIGN_OR_RETURN(a.beta, node.GetFloat("beta"));
  UH_ASSIGN_OR_RETURN(a.norm_coefficient, node.GetFloat("norm_coefficient"));
  UH_ASSIGN_OR_RETURN(std::string mode, node.GetString("mode"));
  if (mode != "standard" && mode != "nesterov") {
    return InvalidArgumentError(node.Describe() + ": mode must be 'standard' or 'nesterov', got '" +
                                mode + "'");
  }
  a.nesterov = mode == "nesterov";
  return MakeFunctionKernel([a](hal::KernelContext& c) { return ComputeMomentum(c, a); });
}

// ---- Dropout (opset 12+, where training_mode is an input) ----

// Y = X * mask / (1 - ratio) with mask[i] = (u[i] >= ratio), u uniform in [0, 1). With a seed,
// u is NumPy's RandomState(seed).uniform sequence, so results match the ONNX reference.
Status ComputeTrainingDropout(hal::KernelContext& context, std::optional<uint32_t> seed) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  double ratio = 0.5;
  if (const Tensor* r = context.input(1)) {
    UH_ASSIGN_OR_RETURN(ratio, ScalarInput(node, *r, "ratio"));
  }
  bool training = false;
  if (const Tensor* t = context.input(2)) {
    if (t->dtype() != DType::kBool || t->num_elements() != 1) {
      return InvalidArgumentError(node.Describe() + ": training_mode must be a bool scalar, got " +
                                  t->Describe());
    }
    training = t->data_as<bool>()[0];
  }
  if (training && !(ratio >= 0 && ratio < 1)) {
    return InvalidArgumentError(node.Describe() + ": ratio must be in [0, 1), got " +
                                std::to_string(ratio));
  }
  const bool drops = training && ratio > 0;
  std::vector<bool> keep(static_cast<size_t>(data->num_elements()), true);
  if (drops) {
    NumpyRandomState random(seed);
    for (size_t i = 0; i < keep.size(); ++i) keep[i] = random.Uniform() >= ratio;
  }
  if (!drops) {
    UH_RETURN_IF_ERROR(context.SetOutput(0, *data));
  } else {
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, data->dtype(), data->shape()));
    const bool handled = VisitFloatDType(data->dtype(), [&](auto tag) {
      using T = decltype(tag);
      const auto scale = static_cast<ComputeType<T>>(1.0 / (1.0 - ratio));
      const T* x = data->data_as<T>();
      T* out = y->data_as<T>();
      for (size_t i = 0; i < keep.size(); ++i) {
        const ComputeType<T> kept = keep[i] ? ToCompute(x[i]) : ToCompute(x[i]) * 0;
        out[i] = FromCompute<T>(kept * scale);
      }
    });
    if (!handled) {
      return UnimplementedError(node.Describe() + ": training Dropout of " + data->Describe() +
                                " is not supported (float types only)");
    }
  }
  if (WantsOutput(node, 1)) {
    UH_ASSIGN_OR_RETURN(Tensor * mask, context.AllocateOutput(1, DType::kBool, data->shape()));
    bool* m = mask->data_as<bool>();
    for (size_t i = 0; i < keep.size(); ++i) m[i] = keep[i];
  }
  return Status::Ok();
}

Result<std::unique_ptr<hal::Kernel>> CreateTrainingDropout(const hal::KernelCreateInfo& info) {
  std::optional<uint32_t> seed;
  if (info.node.HasAttribute("seed")) {
    UH_ASSIGN_OR_RETURN(int64_t value, info.node.GetInt("seed"));
    seed = static_cast<uint32_t>(value);
  }
  return MakeFunctionKernel(
      [seed](hal::KernelContext& c) { return ComputeTrainingDropout(c, seed); });
}

hal::SupportResult SupportsTrainingDropout(const hal::KernelCreateInfo& info) {
  if (info.node.opset >= 12 && info.node.has_input(2)) return hal::SupportResult::Yes("training");
  return hal::SupportResult::No("no training_mode input");
}

// ---- BatchNormalization training mode (opset 14+) ----

struct ChannelStatistics {
  std::vector<double> mean;
  std::vector<double> variance;  // biased (population) variance, as the reference uses
};

template <typename T>
ChannelStatistics MeasureChannels(const T* x, int64_t batch, int64_t channels, int64_t plane) {
  ChannelStatistics s{std::vector<double>(channels, 0.0), std::vector<double>(channels, 0.0)};
  const double count = static_cast<double>(batch * plane);
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t i = 0; i < plane; ++i) sum += AsDouble(x[(n * channels + c) * plane + i]);
    }
    const double mean = sum / count;
    double squares = 0;
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t i = 0; i < plane; ++i) {
        const double d = AsDouble(x[(n * channels + c) * plane + i]) - mean;
        squares += d * d;
      }
    }
    s.mean[c] = mean;
    s.variance[c] = squares / count;
  }
  return s;
}

Status ComputeTrainingBatchNorm(hal::KernelContext& context, double epsilon, double momentum) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "X", FloatDTypes()));
  if (x->rank() < 2) {
    return InvalidArgumentError(node.Describe() + ": input X " + x->Describe() +
                                " must be (N, C, ...)");
  }
  const int64_t batch = x->dim(0);
  const int64_t channels = x->dim(1);
  const int64_t plane = x->num_elements() / std::max<int64_t>(1, batch * channels);
  std::vector<double> params[4];
  const Tensor* tensors[4];
  for (size_t i = 0; i < 4; ++i) {
    UH_ASSIGN_OR_RETURN(tensors[i], NeedInput(context, i + 1));
    UH_RETURN_IF_ERROR(
        CheckDType(node, *tensors[i], "input " + std::to_string(i + 1), FloatDTypes()));
    if (tensors[i]->num_elements() != channels) {
      return InvalidArgumentError(node.Describe() + ": input " + std::to_string(i + 1) + " " +
                                  tensors[i]->Describe() +
                                  " must have C=" + std::to_string(channels) + " elements");
    }
    params[i] = AsDoubles(*tensors[i]);
  }
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), x->shape()));
  ChannelStatistics stats;
  VisitFloatDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x->data_as<T>();
    T* out = y->data_as<T>();
    stats = MeasureChannels(in, batch, channels, plane);
    for (int64_t item = 0; item < batch * channels; ++item) {
      const size_t c = static_cast<size_t>(item % channels);
      const double factor = params[0][c] / std::sqrt(stats.variance[c] + epsilon);
      for (int64_t i = 0; i < plane; ++i) {
        const double v = AsDouble(in[item * plane + i]);
        out[item * plane + i] = FromDouble<T>((v - stats.mean[c]) * factor + params[1][c]);
      }
    }
  });
  for (size_t k = 0; k < 2; ++k) {
    if (!WantsOutput(node, k + 1)) continue;
    const std::vector<double>& current = k == 0 ? stats.mean : stats.variance;
    std::vector<double> running(current.size());
    for (size_t c = 0; c < running.size(); ++c) {
      running[c] = params[2 + k][c] * momentum + current[c] * (1 - momentum);
    }
    UH_RETURN_IF_ERROR(WriteDoubles(context, k + 1, *tensors[2 + k], running));
  }
  return Status::Ok();
}

bool IsTrainingBatchNorm(const ir::Node& node) {
  Result<int64_t> training_mode = node.GetInt("training_mode", 0);
  return node.opset >= 14 && training_mode.ok() && *training_mode != 0;
}

Result<std::unique_ptr<hal::Kernel>> CreateTrainingBatchNorm(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(float epsilon, info.node.GetFloat("epsilon", 1e-5f));
  UH_ASSIGN_OR_RETURN(float momentum, info.node.GetFloat("momentum", 0.9f));
  return MakeFunctionKernel([epsilon, momentum](hal::KernelContext& c) {
    return ComputeTrainingBatchNorm(c, epsilon, momentum);
  });
}

void RegisterTraining(hal::KernelRegistry& registry, const char* op, const char* domain,
                      int min_opset, hal::KernelFactory create, SupportsFn supports, int priority) {
  hal::KernelDef def =
      ReferenceKernelDef(op, min_opset, INT_MAX, std::move(create), std::move(supports));
  def.domain = domain;
  def.priority = priority;
  registry.Register(std::move(def));
}

}  // namespace

void RegisterTrainingKernels(hal::KernelRegistry& registry) {
  RegisterTraining(registry, "Adagrad", kTrainingDomain, 1, CreateAdagrad, nullptr, 0);
  RegisterTraining(registry, "Adam", kTrainingDomain, 1, CreateAdam, nullptr, 0);
  RegisterTraining(registry, "Momentum", kTrainingDomain, 1, CreateMomentum, nullptr, 0);
  // Above the inference-only Dropout and BatchNormalization, for the training nodes only.
  RegisterTraining(registry, "Dropout", "", 12, CreateTrainingDropout, SupportsTrainingDropout, 1);
  RegisterTraining(
      registry, "BatchNormalization", "", 14, CreateTrainingBatchNorm,
      [](const hal::KernelCreateInfo& info) {
        return IsTrainingBatchNorm(info.node) ? hal::SupportResult::Yes("training")
                                              : hal::SupportResult::No("inference node");
      },
      1);
}

}  // namespace unihal::cpu
