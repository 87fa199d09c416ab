// Reference BatchNormalization (inference) and LRN.
#include <algorithm>
#include <cmath>
#include <vector>

#include "drivers/cpu/kernels/nn_ref.h"

namespace unihal::cpu {
namespace {

// A float parameter tensor as doubles (opset 15 lets scale/B and mean/var differ from X).
Result<std::vector<double>> ParameterAsDoubles(const ir::Node& node, const Tensor& t,
                                               const std::string& name) {
  std::vector<double> values(static_cast<size_t>(t.num_elements()));
  if (t.dtype() == DType::kF32) {
    for (size_t i = 0; i < values.size(); ++i) values[i] = t.data_as<float>()[i];
  } else if (t.dtype() == DType::kF64) {
    for (size_t i = 0; i < values.size(); ++i) values[i] = t.data_as<double>()[i];
  } else {
    return UnimplementedError(node.Describe() + ": input " + name + " is " +
                              std::string(DTypeName(t.dtype())) +
                              "; the cpu kernel takes float32 or float64");
  }
  return values;
}

template <typename T>
void ScaleAndShift(const T* x, T* y, const std::vector<double>& factor,
                   const std::vector<double>& offset, int64_t batch, int64_t channels,
                   int64_t plane, bool per_element, hal::ThreadPool& pool) {
  pool.ParallelFor(batch * channels, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, plane)),
                   [&](int64_t begin, int64_t end) {
                     for (int64_t item = begin; item < end; ++item) {
                       const int64_t c = item % channels;
                       const T* in = x + item * plane;
                       T* out = y + item * plane;
                       for (int64_t i = 0; i < plane; ++i) {
                         const size_t p = static_cast<size_t>(per_element ? c * plane + i : c);
                         out[i] = static_cast<T>(in[i] * factor[p] + offset[p]);
                       }
                     }
                   });
}

class ReferenceBatchNormalization final : public hal::Kernel {
 public:
  ReferenceBatchNormalization(double epsilon, bool spatial)
      : epsilon_(epsilon), spatial_(spatial) {}

  Status Compute(hal::KernelContext& context) const override {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(context, 0, "X"));
    UH_RETURN_IF_ERROR(CheckFloatInput(node, *x, "X"));
    if (x->rank() < 2) {
      return InvalidArgumentError(node.Describe() + ": input X " + x->Describe() +
                                  " must be (N, C, ...)");
    }
    const int64_t batch = x->dim(0);
    const int64_t channels = x->dim(1);
    const int64_t plane = x->num_elements() / std::max<int64_t>(1, batch * channels);
    // spatial=0 (opsets 7-8): one parameter per (channel, position) instead of per channel.
    const int64_t expected = spatial_ ? channels : channels * plane;
    const char* names[4] = {"scale", "B", "input_mean", "input_var"};
    std::vector<double> params[4];
    for (size_t i = 0; i < 4; ++i) {
      UH_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(context, i + 1, names[i]));
      if (t->num_elements() != expected) {
        return InvalidArgumentError(node.Describe() + ": " + names[i] + " " + t->Describe() +
                                    " must have " + std::to_string(expected) + " elements for X " +
                                    x->Describe());
      }
      UH_ASSIGN_OR_RETURN(params[i], ParameterAsDoubles(node, *t, names[i]));
    }
    // y = (x - mean) / sqrt(var + eps) * scale + B = x * factor + offset
    std::vector<double> factor(static_cast<size_t>(expected));
    std::vector<double> offset(static_cast<size_t>(expected));
    for (size_t p = 0; p < factor.size(); ++p) {
      factor[p] = params[0][p] / std::sqrt(params[3][p] + epsilon_);
      offset[p] = params[1][p] - params[2][p] * factor[p];
    }
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), x->shape()));
    if (x->dtype() == DType::kF32) {
      ScaleAndShift(x->data_as<float>(), y->data_as<float>(), factor, offset, batch, channels,
                    plane, !spatial_, context.thread_pool());
    } else {
      ScaleAndShift(x->data_as<double>(), y->data_as<double>(), factor, offset, batch, channels,
                    plane, !spatial_, context.thread_pool());
    }
    return Status::Ok();
  }

 private:
  const double epsilon_;
  const bool spatial_;
};

template <typename T>
void LocalResponseNorm(const T* x, T* y, int64_t batch, int64_t channels, int64_t plane,
                       int64_t size, double alpha, double beta, double bias,
                       hal::ThreadPool& pool) {
  const int64_t before = (size - 1) / 2;
  const int64_t after = size - 1 - before;  // ceil((size - 1) / 2)
  pool.ParallelFor(batch * channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t n = item / channels;
      const int64_t c = item % channels;
      const int64_t c_begin = std::max<int64_t>(0, c - before);
      const int64_t c_end = std::min(channels - 1, c + after);
      for (int64_t i = 0; i < plane; ++i) {
        double square_sum = 0;
        for (int64_t cc = c_begin; cc <= c_end; ++cc) {
          const double v = x[(n * channels + cc) * plane + i];
          square_sum += v * v;
        }
        const double v = x[item * plane + i];
        y[item * plane + i] = static_cast<T>(
            v / std::pow(bias + alpha / static_cast<double>(size) * square_sum, beta));
      }
    }
  });
}

class ReferenceLrn final : public hal::Kernel {
 public:
  ReferenceLrn(int64_t size, double alpha, double beta, double bias)
      : size_(size), alpha_(alpha), beta_(beta), bias_(bias) {}

  Status Compute(hal::KernelContext& context) const override {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(context, 0, "X"));
    UH_RETURN_IF_ERROR(CheckFloatInput(node, *x, "X"));
    if (x->rank() < 2) {
      return InvalidArgumentError(node.Describe() + ": input X " + x->Describe() +
                                  " must be (N, C, ...)");
    }
    const int64_t batch = x->dim(0);
    const int64_t channels = x->dim(1);
    const int64_t plane = x->num_elements() / std::max<int64_t>(1, batch * channels);
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), x->shape()));
    if (x->dtype() == DType::kF32) {
      LocalResponseNorm(x->data_as<float>(), y->data_as<float>(), batch, channels, plane, size_,
                        alpha_, beta_, bias_, context.thread_pool());
    } else {
      LocalResponseNorm(x->data_as<double>(), y->data_as<double>(), batch, channels, plane, size_,
                        alpha_, beta_, bias_, context.thread_pool());
    }
    return Status::Ok();
  }

 private:
  const int64_t size_;
  const double alpha_;
  const double beta_;
  const double bias_;
};

}  // namespace

Result<std::unique_ptr<hal::Kernel>> CreateReferenceBatchNormalization(
    const hal::KernelCreateInfo& info) {
  const ir::Node& node = info.node;
  UH_ASSIGN_OR_RETURN(int64_t training_mode, node.GetInt("training_mode", 0));
  bool training_outputs = false;
  for (size_t i = 1; i < node.outputs.size(); ++i) training_outputs |= !node.outputs[i].empty();
  if (training_mode != 0 || training_outputs) {
    return UnimplementedError(node.Describe() +
                              ": training mode (training_mode=1 or the running mean/var "
                              "outputs) is not supported; export the model for inference "
                              "(model.eval()) so BatchNormalization uses its stored statistics");
  }
  UH_ASSIGN_OR_RETURN(float epsilon, node.GetFloat("epsilon", 1e-5f));
  UH_ASSIGN_OR_RETURN(int64_t spatial, node.GetInt("spatial", 1));
  return std::unique_ptr<hal::Kernel>(
      std::make_unique<ReferenceBatchNormalization>(epsilon, spatial != 0));
}

Result<std::unique_ptr<hal::Kernel>> CreateReferenceLrn(const hal::KernelCreateInfo& info) {
  const ir::Node& node = info.node;
  if (!node.HasAttribute("size")) {
    return InvalidArgumentError(node.Describe() + ": the required attribute 'size' is missing");
  }
  UH_ASSIGN_OR_RETURN(int64_t size, node.GetInt("size"));
  if (size <= 0) {
    return InvalidArgumentError(node.Describe() + ": size must be positive, got " +
                                std::to_string(size));
  }
  UH_ASSIGN_OR_RETURN(float alpha, node.GetFloat("alpha", 1e-4f));
  UH_ASSIGN_OR_RETURN(float beta, node.GetFloat("beta", 0.75f));
  UH_ASSIGN_OR_RETURN(float bias, node.GetFloat("bias", 1.0f));
  return std::unique_ptr<hal::Kernel>(std::make_unique<ReferenceLrn>(size, alpha, beta, bias));
}

}  // namespace unihal::cpu
