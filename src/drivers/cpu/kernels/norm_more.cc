// Reference LpNormalization, InstanceNormalization, GroupNormalization (opset 18: scale and bias
// per group; opset 21: per channel) and MeanVarianceNormalization, computed in float64.
#include <cmath>

#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/nn_more.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

Status ComputeLpNormalization(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", FloatDTypes()));
  UH_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", -1));
  UH_ASSIGN_OR_RETURN(const int64_t p, node.GetInt("p", 2));
  if (p != 1 && p != 2) return Invalid(node, "p must be 1 or 2, got " + std::to_string(p));
  UH_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, x->rank()));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x->dim(d);
  for (int64_t d = axis + 1; d < x->rank(); ++d) inner *= x->dim(d);
  const int64_t n = x->dim(axis);
  std::vector<double> v = TensorToDoubles(*x);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      double* base = v.data() + o * n * inner + i;
      double norm = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        norm += p == 1 ? std::abs(base[k * inner]) : base[k * inner] * base[k * inner];
      }
      if (p == 2) norm = std::sqrt(norm);
      for (int64_t k = 0; k < n; ++k) base[k * inner] = norm == 0 ? 0.0 : base[k * inner] / norm;
    }
  }
  return WriteOutput(context, 0, x->dtype(), x->shape(), v);
}

struct Moments {
  double mean = 0.0;
  double variance = 0.0;
};

Moments BlockMoments(const double* x, int64_t size) {
  Moments m;
  for (int64_t i = 0; i < size; ++i) m.mean += x[i];
  m.mean /= static_cast<double>(size);
  for (int64_t i = 0; i < size; ++i) m.variance += (x[i] - m.mean) * (x[i] - m.mean);
  m.variance /= static_cast<double>(size);
  return m;
}

// x is (N, C, spatial...); each of the N * groups contiguous blocks is normalised and then
// channel c is scaled by scale[c] and shifted by bias[c].
std::vector<double> NormalizeGroups(std::vector<double> x, int64_t batch, int64_t channels,
                                    int64_t groups, int64_t spatial,
                                    const std::vector<double>& scale,
                                    const std::vector<double>& bias, double epsilon) {
  const int64_t per_group = channels / groups;
  const int64_t block = per_group * spatial;
  for (int64_t b = 0; b < batch * groups; ++b) {
    double* base = x.data() + b * block;
    const Moments m = BlockMoments(base, block);
    const double inv_std = 1.0 / std::sqrt(m.variance + epsilon);
    for (int64_t c = 0; c < per_group; ++c) {
      const size_t channel = static_cast<size_t>((b % groups) * per_group + c);
      for (int64_t s = 0; s < spatial; ++s) {
        double& v = base[c * spatial + s];
        v = (v - m.mean) * inv_std * scale[channel] + bias[channel];
      }
    }
  }
  return x;
}

// InstanceNormalization (groups = channels) and GroupNormalization.
Status ComputeGroupNormalization(KernelContext& context, bool instance) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* scale, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const Tensor* bias, NeedInput(context, 2));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input X", FloatDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *scale, "input scale", FloatDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *bias, "input bias", FloatDTypes()));
  UH_ASSIGN_OR_RETURN(const float epsilon, node.GetFloat("epsilon", 1e-5f));
  if (x->rank() < 2) return Invalid(node, "X " + x->Describe() + " must be (N, C, ...)");
  const int64_t channels = x->dim(1);
  int64_t groups = channels;
  if (!instance) {
    UH_ASSIGN_OR_RETURN(groups, node.GetInt("num_groups"));
  }
  if (groups < 1 || channels % groups != 0) {
    return Invalid(node, "num_groups " + std::to_string(groups) + " must divide the " +
                             std::to_string(channels) + " channels");
  }
  // GroupNormalization-18 has one scale and bias per group; expand them per channel.
  const bool per_group = !instance && node.opset < 21;
  const int64_t expected = per_group ? groups : channels;
  if (scale->num_elements() != expected || bias->num_elements() != expected) {
    return Invalid(node, "scale " + scale->Describe() + " and bias " + bias->Describe() +
                             " must have " + std::to_string(expected) + " values");
  }
  std::vector<double> s = TensorToDoubles(*scale), b = TensorToDoubles(*bias);
  if (per_group) {
    std::vector<double> s_channel, b_channel;
    for (int64_t c = 0; c < channels; ++c) {
      s_channel.push_back(s[static_cast<size_t>(c / (channels / groups))]);
      b_channel.push_back(b[static_cast<size_t>(c / (channels / groups))]);
    }
    s = std::move(s_channel);
    b = std::move(b_channel);
  }
  const int64_t spatial = x->num_elements() / std::max<int64_t>(x->dim(0) * channels, 1);
  return WriteOutput(
      context, 0, x->dtype(), x->shape(),
      NormalizeGroups(TensorToDoubles(*x), x->dim(0), channels, groups, spatial, s, b, epsilon));
}

// MeanVarianceNormalization: (x - mean) / (sqrt(variance) + 1e-9) over `axes`, as the op's
// function body does.
Status ComputeMeanVarianceNormalization(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input X", FloatDTypes()));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> given,
                      node.GetInts("axes", std::vector<int64_t>{0, 2, 3}));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> axes, NormalizeAxes(node, given, x->rank()));
  std::vector<bool> reduced(static_cast<size_t>(x->rank()), false);
  for (int64_t a : axes) reduced[static_cast<size_t>(a)] = true;
  // The index of each element's group (its position over the kept dims).
  const int64_t total = x->num_elements();
  std::vector<int64_t> group(static_cast<size_t>(total));
  int64_t groups = 1;
  for (int64_t d = 0; d < x->rank(); ++d) {
    if (!reduced[static_cast<size_t>(d)]) groups *= x->dim(d);
  }
  for (int64_t flat = 0; flat < total; ++flat) {
    int64_t rest = flat, key = 0, key_stride = 1;
    for (int64_t d = x->rank(); d-- > 0;) {
      const int64_t i = rest % x->dim(d);
      rest /= x->dim(d);
      if (!reduced[static_cast<size_t>(d)]) {
        key += i * key_stride;
        key_stride *= x->dim(d);
      }
    }
    group[static_cast<size_t>(flat)] = key;
  }
  std::vector<double> v = TensorToDoubles(*x);
  std::vector<double> sum(static_cast<size_t>(groups), 0.0),
      square(static_cast<size_t>(groups), 0.0);
  const double count = static_cast<double>(total / std::max<int64_t>(groups, 1));
  for (size_t i = 0; i < v.size(); ++i) sum[static_cast<size_t>(group[i])] += v[i];
  for (double& s : sum) s /= count;
  for (size_t i = 0; i < v.size(); ++i) {
    const double d = v[i] - sum[static_cast<size_t>(group[i])];
    square[static_cast<size_t>(group[i])] += d * d;
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const size_t g = static_cast<size_t>(group[i]);
    v[i] = (v[i] - sum[g]) / (std::sqrt(square[g] / count) + 1e-9);
  }
  return WriteOutput(context, 0, x->dtype(), x->shape(), v);
}

}  // namespace

void RegisterMoreNormKernels(hal::KernelRegistry& registry) {
  const SupportsFn floats = AcceptInputDTypes({0}, FloatDTypes());
  registry.Register(ReferenceKernelDef("LpNormalization", 1, INT_MAX,
                                       StatelessKernel(ComputeLpNormalization), floats));
  registry.Register(ReferenceKernelDef("InstanceNormalization", 1, INT_MAX,
                                       StatelessKernel([](KernelContext& c) {
                                         return ComputeGroupNormalization(c, /*instance=*/true);
                                       }),
                                       floats));
  registry.Register(ReferenceKernelDef("GroupNormalization", 18, INT_MAX,
                                       StatelessKernel([](KernelContext& c) {
                                         return ComputeGroupNormalization(c, /*instance=*/false);
                                       }),
                                       floats));
  registry.Register(ReferenceKernelDef("MeanVarianceNormalization", 9, INT_MAX,
                                       StatelessKernel(ComputeMeanVarianceNormalization), floats));
}

}  // namespace unihal::cpu
