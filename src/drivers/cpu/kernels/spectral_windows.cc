// Reference window generators (HannWindow, HammingWindow, BlackmanWindow) and MelWeightMatrix,
// computed in float64 as ONNX's reference does and stored in output_datatype.
#include <cmath>
#include <numbers>
#include <string>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "onnx/tensor_proto.h"

namespace unihal::cpu {

void RegisterSpectralWindowKernels(hal::KernelRegistry& registry);

namespace {

using hal::KernelContext;

enum class WindowKind { kHann, kHamming, kBlackman };

// The dtype of attribute output_datatype (default float32).
Result<DType> OutputDType(const ir::Node& node) {
  UH_ASSIGN_OR_RETURN(const int64_t onnx_type, node.GetInt("output_datatype", 1));
  const std::optional<DType> dtype = onnx_import::DTypeFromOnnx(static_cast<int32_t>(onnx_type));
  if (!dtype || *dtype == DType::kBool) {
    return UnimplementedError(
        node.Describe() + " opset " + std::to_string(node.opset) + ": output_datatype " +
        onnx_import::OnnxTypeName(static_cast<int32_t>(onnx_type)) + " is not supported");
  }
  return *dtype;
}

Status WriteValues(KernelContext& context, DType dtype, const Shape& shape,
                   const std::vector<double>& values) {
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, dtype, shape));
  VisitNumericDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* data = out->data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) data[i] = FromDouble<T>(values[i]);
  });
  return Status::Ok();
}

Result<int64_t> ScalarInt(const KernelContext& context, size_t i, const std::string& what) {
  UH_ASSIGN_OR_RETURN(const OptionalInts values, OptionalInt64Input(context, i));
  if (!values.given || values.values.size() != 1) {
    return InvalidArgumentError(context.node().Describe() + ": " + what +
                                " must be an integer scalar");
  }
  return values.values[0];
}

Result<double> ScalarFloat(const KernelContext& context, size_t i, const std::string& what) {
  UH_ASSIGN_OR_RETURN(const Tensor* t, NeedInput(context, i));
  double value = 0.0;
  const bool numeric = t->num_elements() == 1 && VisitNumericDType(t->dtype(), [&](auto tag) {
                         value = AsDouble(t->data_as<decltype(tag)>()[0]);
                       });
  if (!numeric) {
    return InvalidArgumentError(context.node().Describe() + ": " + what +
                                " must be a numeric scalar, got " + t->Describe());
  }
  return value;
}

double WindowValue(WindowKind kind, double n, double denominator) {
  const double pi = std::numbers::pi;
  switch (kind) {
    case WindowKind::kHann: {
      const double s = std::sin(n * pi / denominator);
      return s * s;
    }
    case WindowKind::kHamming: {
      const double alpha = 25.0 / 46.0;
      return alpha - std::cos(n * pi * 2.0 / denominator) * (1.0 - alpha);
    }
    case WindowKind::kBlackman:
      return std::cos(n * pi * 2.0 / denominator) * -0.5 +
             std::cos(n * pi * 4.0 / denominator) * 0.08 + 0.42;
  }
  return 0.0;
}

Status ComputeWindow(KernelContext& context, WindowKind kind) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const int64_t size, ScalarInt(context, 0, "size"));
  if (size < 0) {
    return InvalidArgumentError(node.Describe() + ": size must be >= 0, got " +
                                std::to_string(size));
  }
  UH_ASSIGN_OR_RETURN(const int64_t periodic, node.GetInt("periodic", 1));
  UH_ASSIGN_OR_RETURN(const DType dtype, OutputDType(node));
  // A symmetric window of one sample is [1] (the formula would divide by zero).
  const double denominator = static_cast<double>(periodic ? size : size - 1);
  std::vector<double> values(static_cast<size_t>(size), 1.0);
  if (denominator > 0) {
    for (int64_t n = 0; n < size; ++n) {
      values[static_cast<size_t>(n)] = WindowValue(kind, static_cast<double>(n), denominator);
    }
  }
  return WriteValues(context, dtype, {size}, values);
}

// The mel scale of `hertz`, in float32 as ONNX's reference computes it.
float HertzToMel(float hertz) { return 2595.0f * std::log10(1.0f + hertz / 700.0f); }

// Triangular filters over the bins of a dft_length-point spectrum, [bins, num_mel_bins].
Status ComputeMelWeightMatrix(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const int64_t mel_bins, ScalarInt(context, 0, "num_mel_bins"));
  UH_ASSIGN_OR_RETURN(const int64_t dft_length, ScalarInt(context, 1, "dft_length"));
  UH_ASSIGN_OR_RETURN(const int64_t sample_rate, ScalarInt(context, 2, "sample_rate"));
  UH_ASSIGN_OR_RETURN(const double lower, ScalarFloat(context, 3, "lower_edge_hertz"));
  UH_ASSIGN_OR_RETURN(const double upper, ScalarFloat(context, 4, "upper_edge_hertz"));
  UH_ASSIGN_OR_RETURN(const DType dtype, OutputDType(node));
  if (mel_bins < 1 || dft_length < 1 || sample_rate < 1) {
    return InvalidArgumentError(node.Describe() +
                                ": num_mel_bins, dft_length and sample_rate must be positive");
  }
  const int64_t spectrum_bins = dft_length / 2 + 1;
  const float low_mel = HertzToMel(static_cast<float>(lower));
  const float high_mel = HertzToMel(static_cast<float>(upper));
  const float mel_step = (high_mel - low_mel) / static_cast<float>(mel_bins + 2);
  std::vector<int64_t> edges(static_cast<size_t>(mel_bins + 2));
  for (int64_t i = 0; i < mel_bins + 2; ++i) {
    const double mel = static_cast<double>(i) * mel_step + low_mel;
    const double hertz = 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
    edges[static_cast<size_t>(i)] = static_cast<int64_t>(
        std::floor(static_cast<double>(dft_length + 1) * hertz / static_cast<double>(sample_rate)));
  }
  std::vector<double> out(static_cast<size_t>(spectrum_bins * mel_bins), 0.0);
  auto at = [&](int64_t bin, int64_t mel) -> double* {
    if (bin < 0 || bin >= spectrum_bins) return nullptr;
    return &out[static_cast<size_t>(bin * mel_bins + mel)];
  };
  for (int64_t i = 0; i < mel_bins; ++i) {
    const int64_t left = edges[static_cast<size_t>(i)];
    const int64_t center = edges[static_cast<size_t>(i + 1)];
    const int64_t right = edges[static_cast<size_t>(i + 2)];
    if (center == left) {
      if (double* v = at(center, i)) *v = 1.0;
    } else {
      for (int64_t j = left; j <= center; ++j) {
        if (double* v = at(j, i))
          *v = static_cast<double>(j - left) / static_cast<double>(center - left);
      }
    }
    for (int64_t j = center; j < right; ++j) {
      if (double* v = at(j, i))
        *v = static_cast<double>(right - j) / static_cast<double>(right - center);
    }
  }
  return WriteValues(context, dtype, {spectrum_bins, mel_bins}, out);
}

}  // namespace

void RegisterSpectralWindowKernels(hal::KernelRegistry& registry) {
  for (const auto& [name, kind] : {std::pair{"HannWindow", WindowKind::kHann},
                                   std::pair{"HammingWindow", WindowKind::kHamming},
                                   std::pair{"BlackmanWindow", WindowKind::kBlackman}}) {
    const WindowKind k = kind;
    registry.Register(ReferenceKernelDef(
        name, 17, INT_MAX, StatelessKernel([k](KernelContext& c) { return ComputeWindow(c, k); })));
  }
  registry.Register(
      ReferenceKernelDef("MelWeightMatrix", 17, INT_MAX, StatelessKernel(ComputeMelWeightMatrix)));
}

}  // namespace unihal::cpu
